// Differences between PostgreSQL major versions, in one place. Target: 15; kept buildable for 13-17.
#pragma once

#if PG_VERSION_NUM < 130000
#error "tenant_guard needs PostgreSQL 13 or newer"
#endif

// PG16 moved GUC memory into a memory context: check-hook "extra" must come from guc_malloc.
#if PG_VERSION_NUM >= 160000
#define TG_GUC_EXTRA_ALLOC(size) guc_malloc(LOG, (size))
#else
#define TG_GUC_EXTRA_ALLOC(size) malloc(size)
#endif

// PG15 added MarkGUCPrefixReserved; earlier versions only warn about unknown placeholders.
#if PG_VERSION_NUM >= 150000
#define TG_RESERVE_GUC_PREFIX(prefix) MarkGUCPrefixReserved(prefix)
#else
#define TG_RESERVE_GUC_PREFIX(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

// PG14 added the readOnlyTree argument to ProcessUtility.
#if PG_VERSION_NUM >= 140000
#define TG_UTILITY_HOOK_ARGS                                                                            \
    PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context,      \
        ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define TG_UTILITY_HOOK_PASS pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define TG_UTILITY_HOOK_ARGS                                                                            \
    PlannedStmt *pstmt, const char *queryString, ProcessUtilityContext context, ParamListInfo params,   \
        QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define TG_UTILITY_HOOK_PASS pstmt, queryString, context, params, queryEnv, dest, qc
#endif

// PG16 folded the per-catalog ownership checks into object_ownercheck().
#if PG_VERSION_NUM >= 160000
#define TG_TABLE_OWNERCHECK(relid, roleid) object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define TG_TABLE_OWNERCHECK(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

// security_invoker views arrived in PG15; before that a view over a protected table cannot be made
// safe and is refused.
#define TG_HAVE_SECURITY_INVOKER_VIEWS (PG_VERSION_NUM >= 150000)

// PG16 moved the permissions of a range table into RTEPermissionInfo nodes.
#if PG_VERSION_NUM >= 160000
#define TG_CHECK_PERMS_HOOK_ARGS List *range_table, List *permission_infos, bool ereport_on_violation
#define TG_CHECK_PERMS_HOOK_PASS range_table, permission_infos, ereport_on_violation
#define TG_PERMISSION_LIST permission_infos
#define TG_PERMISSION_ENTRY RTEPermissionInfo
#define TG_PERMISSION_APPLIES(entry) true
#else
#define TG_CHECK_PERMS_HOOK_ARGS List *range_table, bool ereport_on_violation
#define TG_CHECK_PERMS_HOOK_PASS range_table, ereport_on_violation
#define TG_PERMISSION_LIST range_table
#define TG_PERMISSION_ENTRY RangeTblEntry
#define TG_PERMISSION_APPLIES(entry) ((entry)->rtekind == RTE_RELATION)
#endif

// PG17 moved the local transaction id into PGPROC.vxid.
#if PG_VERSION_NUM >= 170000
#define TG_MY_LOCAL_XID() (MyProc->vxid.lxid)
#else
#define TG_MY_LOCAL_XID() (MyProc->lxid)
#endif

// A set-returning function that fills a tuplestore: PG15 calls the setup SetSingleFuncCall, PG16
// InitMaterializedSRF; before 15 it is spelled out.
inline void tg_begin_materialized_result(FunctionCallInfo fcinfo) {
#if PG_VERSION_NUM >= 160000
    InitMaterializedSRF(fcinfo, 0);
#elif PG_VERSION_NUM >= 150000
    SetSingleFuncCall(fcinfo, 0);
#else
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    TupleDesc descriptor;
    if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
    MemoryContext old = MemoryContextSwitchTo(result->econtext->ecxt_per_query_memory);
    result->returnMode = SFRM_Materialize;
    result->setResult = tuplestore_begin_heap(true, false, work_mem);
    result->setDesc = CreateTupleDescCopy(descriptor);
    MemoryContextSwitchTo(old);
#endif
}

// PG16 typed the tree walkers' callback; before, it is an unprototyped function pointer.
#if PG_VERSION_NUM >= 160000
#define TG_TREE_WALKER(function) (function)
#else
#define TG_TREE_WALKER(function) reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(function))
#endif
