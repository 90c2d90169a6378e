// Citus. Three things, each through an ordinary PostgreSQL channel that Citus already honours:
//
//  * The context on the workers. Citus repeats a transaction's SET LOCAL statements on every worker
//    connection of that transaction (citus.propagate_set_commands = 'local'), and nothing else of
//    the session. So before a statement runs in a transaction block, the coordinator issues
//    SET LOCAL tenant_guard.distributed_context = '<tenant> <assertion>' (with that Citus setting on
//    for just that statement): a short-lived assertion signed with the nodes' cluster key
//    (core/context_assertion.hpp), which each worker verifies (context.cpp). Never the application's
//    token: what Citus sends is visible to the role's other sessions. Session-scoped contexts are sent
//    again in every transaction; a changed context (switch_tenant, reset_tenant) at the next
//    statement; the same one before its assertion is half its lifetime old.
//  * Routing. Citus prunes shards on quals of the distribution column, never on row-level security
//    policies, so a policy-only query goes to every shard. The planner hook (which runs before
//    Citus's) adds `tenant column = '<current tenant>'` to each protected table in the query, where
//    it restricts the same rows as the policy does, and Citus sends the query to one shard. A plan
//    that names a tenant must never serve another: saved plans are invalidated when a different
//    tenant becomes current (context.cpp), and a plan that still names another tenant when it
//    starts is refused. The workers' policies stay the last line of defence: a plan routed for
//    tenant A and run for B would find nothing, since B's context on the worker sees no A rows.
//  * Shards. Citus creates each shard (and, on each worker, a copy of the distributed table for its
//    metadata) with its own CREATE TABLE, so the event trigger protects it as any new table, and
//    then copies the coordinator table's RLS, FORCE, policies and indexes onto it; the copies of
//    tenant_guard's policies, already there, are skipped (utility_guard.cpp).
#include "citus.hpp"

#include "boundary.hpp"
#include "context.hpp"
#include "key_store.hpp"
#include "postgres.hpp"
#include "protection.hpp"
#include "registry.hpp"
#include "settings.hpp"

#include "../core/context_assertion.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

const char* const kPropagateSetting = "citus.propagate_set_commands";
// Marks a plan routed for a tenant: a PlanInvalItem whose cache id no catalog cache uses (plan
// invalidation compares cache ids, so it never matches), with a hash of the tenant.
constexpr int kRoutedPlanMark = -0x7467;
// And makes it a dependent of a pretend function: the plan cache drops the generic plans that
// depend on a function when that function's catalog entry is invalidated (PlanCacheObjectCallback),
// and only those, keeping their parsed queries. Raising that invalidation in this backend alone
// re-plans exactly the routed plans; other caches that hear of "function" 0x7467a11 changing at
// worst drop an entry.
constexpr uint32 kRoutedPlanDependency = 0x7467a11;

int citus_state = -1;  // -1 unknown, 0 no, 1 yes

planner_hook_type previous_planner = nullptr;
ExecutorStart_hook_type previous_executor_start = nullptr;

// What this transaction's workers were last sent: (local transaction id, context generation).
// A savepoint rolled back takes the workers' SET LOCAL with it: then it is sent again.
LocalTransactionId sent_in_transaction = InvalidLocalTransactionId;
uint64_t sent_generation = 0;
int64 sent_at = 0;

uint32 tenant_hash(const pg_uuid_t* tenant) { return hash_bytes(tenant->data, UUID_LEN); }
bool cluster_key_set() { return settings.cluster_key != nullptr && settings.cluster_key[0] != '\0'; }

void run_set_local(const char* value) {
    char* statement = psprintf("SET LOCAL %s TO %s", kDistributedContextSettingName, quote_literal_cstr(value));
    List* parsed = pg_parse_query(statement);
    auto* raw = linitial_node(RawStmt, parsed);
    PlannedStmt* wrapper = makeNode(PlannedStmt);
    wrapper->commandType = CMD_UTILITY;
    wrapper->canSetTag = false;
    wrapper->utilityStmt = raw->stmt;
    wrapper->stmt_location = -1;
    wrapper->stmt_len = 0;
    const int nest_level = NewGUCNestLevel();
    (void)set_config_option(kPropagateSetting, "local", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    mark_sending_distributed_context(true);
    PG_TRY();
    {
#if PG_VERSION_NUM >= 140000
        ProcessUtility(wrapper, statement, false, PROCESS_UTILITY_QUERY, nullptr, nullptr, None_Receiver, nullptr);
#else
        ProcessUtility(wrapper, statement, PROCESS_UTILITY_QUERY, nullptr, nullptr, None_Receiver, nullptr);
#endif
    }
    PG_FINALLY();
    {
        mark_sending_distributed_context(false);
    }
    PG_END_TRY();
    AtEOXact_GUC(true, nest_level);
}

// The assertion that the workers may act for this context: "<tenant> <assertion>".
char* assertion_for(const WorkerContext& context) {
    const char* cluster_key = settings.cluster_key;
    if (!cluster_key_set())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("tenant_guard.cluster_key is not set: the tenant context cannot be sent to the Citus workers"),
                        errhint("Name an HMAC key of every node's JWKS in tenant_guard.cluster_key on every node.")));
    const int64 now_unix = static_cast<int64>(timestamptz_to_time_t(GetCurrentTimestamp()));
    char* assertion = nullptr;
    CoreFailure failure;
    const bool signed_ok = call_core(
        [&] {
            auto keys = current_key_set();
            if (!keys) throw core::TokenRefused(core::Refusal::NoKeys);
            core::ContextAssertion claim;
            memcpy(claim.tenant.bytes.data(), static_cast<const pg_uuid_t*>(context.tenant)->data, UUID_LEN);
            if (context.subject != nullptr) claim.subject = context.subject;
            claim.claims_json = context.claims;
            assertion = pstrdup_or_throw(core::sign_context_assertion(claim, *keys, cluster_key, now_unix));
        },
        &failure);
    if (!signed_ok) raise_core_failure(failure);
    return psprintf("%s %s", context.tenant_text, assertion);
}

// Citus forwards SET LOCAL only inside transaction blocks (and DO blocks, procedures, functions).
// Sent again when the context changes, and before the assertion is half its lifetime old (Citus
// repeats it on connections it opens later in the transaction).
void send_context_to_workers() {
    WorkerContext context{};
    const uint64_t generation = context_for_workers(&context);
    const LocalTransactionId transaction = TG_MY_LOCAL_XID();
    const bool sent_this_transaction = sent_in_transaction == transaction;
    const int64 now_unix = static_cast<int64>(timestamptz_to_time_t(GetCurrentTimestamp()));
    const bool fresh = now_unix - sent_at < core::kAssertionLifetimeSeconds / 2;
    if (sent_this_transaction && sent_generation == generation && (generation == 0 || fresh)) return;
    if (!sent_this_transaction && generation == 0) return;  // nothing to send, nothing to take back
    run_set_local(generation == 0 ? "" : assertion_for(context));
    sent_in_transaction = transaction;
    sent_generation = generation;
    sent_at = now_unix;
}

Oid uuid_equality_operator() {
    static Oid operator_oid = InvalidOid;
    if (operator_oid == InvalidOid)
        operator_oid = LookupOperName(nullptr, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("="))),
                                      UUIDOID, UUIDOID, false, -1);
    return operator_oid;
}

Node* and_qual(Node* existing, Node* added) {
    if (existing == nullptr) return added;
    if (is_andclause(existing)) {
        auto* conjunction = castNode(BoolExpr, existing);
        conjunction->args = lappend(conjunction->args, added);
        return existing;
    }
    return reinterpret_cast<Node*>(makeBoolExpr(AND_EXPR, list_make2(existing, added), -1));
}

bool is_tenant_column(const Node* node, int index, AttrNumber column) {
    if (node != nullptr && IsA(node, RelabelType)) node = reinterpret_cast<const Node*>(castNode(RelabelType, node)->arg);
    if (node == nullptr || !IsA(node, Var)) return false;
    const auto* var = castNode(Var, node);
    return var->varno == index && var->varattno == column && var->varlevelsup == 0;
}

// The query already says `column = <constant or parameter>` for this table: Citus routes it by
// itself, and the plan need not name the current tenant.
bool has_explicit_tenant(const Node* quals, int index, AttrNumber column) {
    if (quals == nullptr) return false;
    if (is_andclause(quals)) {
        ListCell* cell;
        foreach (cell, castNode(BoolExpr, quals)->args)
            if (has_explicit_tenant(static_cast<const Node*>(lfirst(cell)), index, column)) return true;
        return false;
    }
    if (!IsA(quals, OpExpr) || castNode(OpExpr, quals)->opno != uuid_equality_operator()) return false;
    const List* args = castNode(OpExpr, quals)->args;
    if (list_length(args) != 2) return false;
    const auto* left = static_cast<const Node*>(linitial(args));
    const auto* right = static_cast<const Node*>(lsecond(args));
    const auto is_value = [](const Node* node) { return IsA(node, Const) || IsA(node, Param); };
    return (is_tenant_column(left, index, column) && is_value(right)) || (is_tenant_column(right, index, column) && is_value(left));
}

struct RoutingWalk {
    const pg_uuid_t* tenant;
    bool routed;
};

// Adds `column = tenant` for each protected table of one query level, where it restricts that
// table alone: in WHERE, or in the ON clause of the outer join that null-extends the table. Under
// a FULL JOIN no place does, so those tables are left to the policy (and to every shard).
void route_join_tree(Query* query, Node* node, Node** qual_slot, RoutingWalk* walk) {
    if (node == nullptr) return;
    if (IsA(node, RangeTblRef)) {
        const int index = castNode(RangeTblRef, node)->rtindex;
        const RangeTblEntry* entry = rt_fetch(index, query->rtable);
        // Only where row-level security applies to this reference (the rewriter attached the
        // policies): not for the table's owner in a foreign key's own queries, a superuser, a
        // BYPASSRLS role, or row_security = off, whose results must not change.
        if (entry->rtekind != RTE_RELATION || entry->securityQuals == NIL || qual_slot == nullptr) return;
        const AttrNumber column = isolated_tenant_column(entry->relid);
        if (column == InvalidAttrNumber || has_explicit_tenant(*qual_slot, index, column)) return;
        Var* var = makeVar(index, column, UUIDOID, -1, InvalidOid, 0);
        auto* tenant = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
        *tenant = *walk->tenant;
        Const* value = makeConst(UUIDOID, -1, InvalidOid, UUID_LEN, UUIDPGetDatum(tenant), false, false);
        Expr* comparison = make_opclause(uuid_equality_operator(), BOOLOID, false, reinterpret_cast<Expr*>(var),
                                         reinterpret_cast<Expr*>(value), InvalidOid, InvalidOid);
        castNode(OpExpr, comparison)->opfuncid = get_opcode(uuid_equality_operator());
        *qual_slot = and_qual(*qual_slot, reinterpret_cast<Node*>(comparison));
        walk->routed = true;
        return;
    }
    if (IsA(node, FromExpr)) {
        ListCell* cell;
        foreach (cell, castNode(FromExpr, node)->fromlist) route_join_tree(query, static_cast<Node*>(lfirst(cell)), qual_slot, walk);
        return;
    }
    if (IsA(node, JoinExpr)) {
        auto* join = castNode(JoinExpr, node);
        switch (join->jointype) {
            case JOIN_INNER:
                route_join_tree(query, join->larg, qual_slot, walk);
                route_join_tree(query, join->rarg, qual_slot, walk);
                break;
            case JOIN_LEFT:
                route_join_tree(query, join->larg, qual_slot, walk);
                route_join_tree(query, join->rarg, &join->quals, walk);
                break;
            case JOIN_RIGHT:
                route_join_tree(query, join->larg, &join->quals, walk);
                route_join_tree(query, join->rarg, qual_slot, walk);
                break;
            default:
                route_join_tree(query, join->larg, nullptr, walk);
                route_join_tree(query, join->rarg, nullptr, walk);
                break;
        }
    }
}

void forget_sent_context(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB) sent_in_transaction = InvalidLocalTransactionId;
}

bool route_queries(Node* node, void* context) {
    auto* walk = static_cast<RoutingWalk*>(context);
    if (node == nullptr) return false;
    if (IsA(node, Query)) {
        auto* query = castNode(Query, node);
        // INSERT's target is not in the join tree (Citus routes it by the row's tenant value);
        // MERGE is left alone.
        if (query->commandType != CMD_MERGE && query->jointree != nullptr)
            route_join_tree(query, reinterpret_cast<Node*>(query->jointree), &query->jointree->quals, walk);
        return query_tree_walker(query, TG_TREE_WALKER(route_queries), context, 0);
    }
    return expression_tree_walker(node, TG_TREE_WALKER(route_queries), context);
}

PlannedStmt* plan_with_routing(Query* parse, const char* query_string, int cursor_options, ParamListInfo bound_params) {
    RoutingWalk walk{nullptr, false};
    if (citus_loaded() && parse->commandType != CMD_UTILITY) {
        walk.tenant = static_cast<const pg_uuid_t*>(routing_tenant());
        if (walk.tenant != nullptr) (void)route_queries(reinterpret_cast<Node*>(parse), &walk);
    }
    PlannedStmt* result = previous_planner ? previous_planner(parse, query_string, cursor_options, bound_params)
                                           : standard_planner(parse, query_string, cursor_options, bound_params);
    if (walk.routed) {
        PlanInvalItem* mark = makeNode(PlanInvalItem);
        mark->cacheId = kRoutedPlanMark;
        mark->hashValue = tenant_hash(walk.tenant);
        PlanInvalItem* dependency = makeNode(PlanInvalItem);
        dependency->cacheId = PROCOID;
        dependency->hashValue = kRoutedPlanDependency;
        result->invalItems = lappend(lappend(result->invalItems, mark), dependency);
        note_routed_plan(walk.tenant);
    }
    return result;
}

// A plan routed for another tenant: saved plans were invalidated when the tenant changed, but an
// unsaved one (the extended protocol's unnamed statement, bound again) could still arrive here.
void refuse_plan_routed_elsewhere(const PlannedStmt* statement) {
    ListCell* cell;
    foreach (cell, statement->invalItems) {
        const auto* item = static_cast<const PlanInvalItem*>(lfirst(cell));
        if (item->cacheId != kRoutedPlanMark) continue;
        const auto* tenant = static_cast<const pg_uuid_t*>(routing_tenant());
        if (tenant == nullptr || tenant_hash(tenant) == item->hashValue) return;
        forget_routed_plans();
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("this plan was made for another tenant context"),
                        errdetail("tenant_guard routes plans to the current tenant's shard."),
                        errhint("Prepare the statement again (saved prepared statements are re-planned by themselves).")));
    }
}

bool has_citus_scan(const Plan* plan) {
    if (plan == nullptr) return false;
    if (IsA(plan, CustomScan)) {
        const auto* scan = reinterpret_cast<const CustomScan*>(plan);
        if (scan->methods != nullptr && strncmp(scan->methods->CustomName, "Citus", 5) == 0) return true;
    }
    return has_citus_scan(plan->lefttree) || has_citus_scan(plan->righttree);
}

bool runs_on_workers(const PlannedStmt* statement) {
    if (has_citus_scan(statement->planTree)) return true;
    ListCell* cell;
    foreach (cell, statement->subplans)
        if (has_citus_scan(static_cast<const Plan*>(lfirst(cell)))) return true;
    return false;
}

void start_execution(QueryDesc* query_desc, int eflags) {
    if (citus_loaded() && !IsParallelWorker() && IsTransactionState()) {
        refuse_plan_routed_elsewhere(query_desc->plannedstmt);
        // Distributed tables' policies run on the workers, which keep no registry of their own:
        // a tenant suspended since its context was set stops here, on the coordinator.
        if (const auto* tenant = static_cast<const pg_uuid_t*>(routing_tenant())) check_context_tenant(tenant);
        if (IsTransactionBlock()) {
            // Without a cluster key only a statement that goes to the workers needs (and fails) it.
            if (cluster_key_set() || runs_on_workers(query_desc->plannedstmt)) send_context_to_workers();
        } else if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && runs_on_workers(query_desc->plannedstmt)) {
            WorkerContext context{};
            if (context_for_workers(&context) != 0)
                ereport(ERROR,
                        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                         errmsg("on Citus, statements on distributed tables carry the tenant context to the workers "
                                "only inside a transaction block"),
                         errdetail("Citus repeats SET LOCAL on the workers of a transaction block and sends a "
                                   "statement outside one without any setting."),
                         errhint("Run it between BEGIN and COMMIT.")));
        }
    }
    if (previous_executor_start)
        previous_executor_start(query_desc, eflags);
    else
        standard_ExecutorStart(query_desc, eflags);
}

}  // namespace

// Citus defines its settings when it is preloaded, before tenant_guard; a SET of a citus.* name on a
// server without Citus only makes a placeholder.
bool citus_coordinator() {
    static int coordinator = -1;
    if (coordinator >= 0) return coordinator == 1;
    if (!citus_loaded()) return false;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    const int status = SPI_execute("SELECT groupid = 0 FROM pg_catalog.pg_dist_local_group", true, 1);
    bool is_null = true;
    bool result = false;
    if (status == SPI_OK_SELECT && SPI_processed == 1)
        result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null)) && !is_null;
    SPI_finish();
    // Not cached until Citus has said: a node becomes a coordinator or worker when it is added.
    if (status == SPI_OK_SELECT && SPI_processed == 1) coordinator = result ? 1 : 0;
    return result;
}

void invalidate_routed_plans() noexcept { CallSyscacheCallbacks(PROCOID, kRoutedPlanDependency); }

bool citus_loaded() {
    if (citus_state < 0) {
#if PG_VERSION_NUM >= 140000
        const int flags = GetConfigOptionFlags(kPropagateSetting, true);
        citus_state = GetConfigOption(kPropagateSetting, true, false) != nullptr && (flags & GUC_CUSTOM_PLACEHOLDER) == 0;
#else
        citus_state = GetConfigOption(kPropagateSetting, true, false) != nullptr;
#endif
    }
    return citus_state == 1;
}

bool citus_internal_command() {
    if (!citus_loaded() || application_name == nullptr) return false;
    return strncmp(application_name, "citus_internal", strlen("citus_internal")) == 0;
}

void install_citus_hooks() {
    previous_planner = planner_hook;
    planner_hook = plan_with_routing;
    previous_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = start_execution;
    RegisterSubXactCallback(forget_sent_context, nullptr);
}

}  // namespace tenant_guard::pg
