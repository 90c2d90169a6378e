// The ProcessUtility hook. Two jobs:
//
// The tenant context: SET of the context is refused with a message that points at set_tenant(),
// also for superusers and for ALTER ROLE/DATABASE ... SET. RESET and RESET ALL clear it through the
// GUC machinery (transactionally, like any RESET); DISCARD ALL, the pool's reset query, also revokes
// every context installed so far. set_config() does not come through here: the GUC check hook in
// context.cpp refuses it.
//
// Protected tables (protection.hpp): no role but a superuser, the table owner included, may switch
// row-level security off or weaken it: DISABLE / NO FORCE ROW LEVEL SECURITY, DROP / ALTER / RENAME
// of tenant_guard's policies, changing the tenant column's default, dropping or renaming the tenant
// column, or turning security_invoker off on a view that reads protected tables. Policy names that
// begin with tenant_guard_ are reserved for tenant_guard.
//
// PostgreSQL-style code (it raises errors with ereport): no C++ object with a destructor.
#include "utility_guard.hpp"

#include "citus.hpp"

#include "context.hpp"
#include "ledger_guard.hpp"
#include "postgres.hpp"
#include "platform_access.hpp"
#include "protection.hpp"
#include "security_events.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

ProcessUtility_hook_type previous_process_utility = nullptr;

bool names_context_setting(const char* name) { return name != nullptr && pg_strcasecmp(name, kContextSettingName) == 0; }

[[noreturn]] void refuse_manual_context(const char* reason, const char* route) {
    record_refusal(kEventContextTampering, reason, ERRCODE_INSUFFICIENT_PRIVILEGE,
                   "tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()", kContextSettingName, route);
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()"),
                    errhint("Present a signed token: SELECT tenant_guard.set_tenant(token).")));
    pg_unreachable();
}

void inspect_variable_set(const VariableSetStmt* stmt) {
    // Clearing is allowed, like reset_tenant(), but not under a running statement (a function's RESET).
    if (stmt->kind == VAR_RESET_ALL) {
        refuse_context_change_inside_statement("RESET ALL");
        return;
    }
    if (!names_context_setting(stmt->name)) return;
    if (stmt->kind == VAR_RESET || stmt->kind == VAR_SET_DEFAULT) {
        refuse_context_change_inside_statement(stmt->kind == VAR_RESET ? "RESET" : "SET ... TO DEFAULT");
        return;
    }
    refuse_manual_context("set_statement", stmt->is_local ? "SET LOCAL" : "SET");
}

[[noreturn]] void refuse_weakening(const char* action, Oid relid) {
    const char* table = qualified_relation_name(relid);
    const char* message = psprintf("cannot %s: table %s is protected by tenant_guard", action, table);
    record_refusal(kEventGuardRefused, "weaken_protection", ERRCODE_INSUFFICIENT_PRIVILEGE, message, table);
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("%s", message),
                    errhint("Only a superuser can remove the protection, with tenant_guard.unprotect_table().")));
    pg_unreachable();
}

[[noreturn]] void refuse_reserved_policy_name(const char* name) {
    const char* message = psprintf("policy name \"%s\" is reserved for tenant_guard", name);
    record_refusal(kEventGuardRefused, "reserved_name", ERRCODE_RESERVED_NAME, message, name);
    ereport(ERROR, (errcode(ERRCODE_RESERVED_NAME), errmsg("%s", message),
                    errhint("Policy names beginning with tenant_guard_ belong to tenant_guard.")));
    pg_unreachable();
}

bool names_tenant_column(Oid relid, const TableProtection& protection, const char* column) {
    if (column == nullptr || protection.tenant_attnum == InvalidAttrNumber) return false;
    const char* tenant_column = get_attname(relid, protection.tenant_attnum, true);
    return tenant_column != nullptr && strcmp(tenant_column, column) == 0;
}

// Only ALTER VIEW ... SET (security_invoker = true) may touch security_invoker of such a view.
bool turns_off_security_invoker(const AlterTableCmd* command) {
    if (command->subtype != AT_SetRelOptions && command->subtype != AT_ResetRelOptions &&
        command->subtype != AT_ReplaceRelOptions)
        return false;
    ListCell* cell;
    foreach (cell, castNode(List, command->def)) {
        auto* option = castNode(DefElem, lfirst(cell));
        if (strcmp(option->defname, "security_invoker") != 0) continue;
        if (command->subtype != AT_SetRelOptions) return true;
        if (option->arg != nullptr && !defGetBoolean(option)) return true;
    }
    return false;
}

bool view_reads_protected_table(Oid relid) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    const bool reads = reads_protected_table(relid);
    SPI_finish();
    return reads;
}

void inspect_alter_table(const AlterTableStmt* statement) {
    const Oid relid = RangeVarGetRelid(statement->relation, NoLock, true);
    if (relid == InvalidOid) return;
    const char relkind = get_rel_relkind(relid);
    ListCell* cell;
    if (relkind == RELKIND_VIEW) {
        foreach (cell, statement->cmds) {
            if (turns_off_security_invoker(castNode(AlterTableCmd, lfirst(cell))) && view_reads_protected_table(relid))
                TG_REFUSE_GUARD("security_invoker_off", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                                psprintf("cannot turn off security_invoker: view %s reads tables protected by "
                                         "tenant_guard", qualified_relation_name(relid)),
                                errdetail("A view that runs with its owner's rights could bypass their "
                                          "row-level security."));
        }
        return;
    }
    const TableProtection protection = read_table_protection(relid);
    if (!protection.guarded()) return;
    foreach (cell, statement->cmds) {
        const auto* command = castNode(AlterTableCmd, lfirst(cell));
        switch (command->subtype) {
            case AT_DisableRowSecurity:
                refuse_weakening("disable row level security", relid);
            case AT_NoForceRowSecurity:
                refuse_weakening("remove FORCE ROW LEVEL SECURITY", relid);
            case AT_ColumnDefault:
                if (names_tenant_column(relid, protection, command->name))
                    refuse_weakening("change the default of the tenant column", relid);
                break;
            case AT_DropColumn:
                if (names_tenant_column(relid, protection, command->name))
                    refuse_weakening("drop the tenant column", relid);
                break;
            default:
                break;
        }
    }
}

// A policy named by DROP POLICY: the last name is the policy, the rest names the table.
void inspect_drop_policy(const DropStmt* statement) {
    ListCell* cell;
    foreach (cell, statement->objects) {
        List* names = castNode(List, lfirst(cell));
        const char* policy = strVal(llast(names));
        if (!is_reserved_policy_name(policy)) continue;
        List* table_names = list_truncate(list_copy(names), list_length(names) - 1);
        const Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(table_names), NoLock, true);
        if (relid != InvalidOid && read_table_protection(relid).guarded())
            refuse_weakening(psprintf("drop policy \"%s\"", policy), relid);
    }
}

void inspect_policy_change(const char* policy, RangeVar* table, const char* action) {
    if (!is_reserved_policy_name(policy)) return;
    const Oid relid = RangeVarGetRelid(table, NoLock, true);
    if (relid != InvalidOid && read_table_protection(relid).guarded())
        refuse_weakening(psprintf("%s policy \"%s\"", action, policy), relid);
}

// ALTER TYPE ... RENAME ATTRIBUTE renames the column of every typed table of the type.
void inspect_attribute_rename(const RenameStmt* statement) {
    const Oid type_relid = RangeVarGetRelid(statement->relation, NoLock, true);
    if (type_relid == InvalidOid || statement->subname == nullptr) return;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    Oid* tables = nullptr;
    const uint64 count = typed_tables_of(get_rel_type_id(type_relid), &tables);
    for (uint64 i = 0; i < count; i++) {
        const TableProtection protection = read_table_protection(tables[i]);
        if (protection.guarded() && names_tenant_column(tables[i], protection, statement->subname))
            refuse_weakening("rename the tenant column", tables[i]);
    }
    SPI_finish();
}

// Registered tenant schemas are kept by name (so that they survive a dump and restore).
void inspect_schema_rename(const RenameStmt* statement) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    const bool registered = schema_is_registered(statement->subname);
    SPI_finish();
    if (registered)
        TG_REFUSE_GUARD("rename_registered_schema", statement->subname, ERRCODE_INSUFFICIENT_PRIVILEGE,
                        psprintf("cannot rename schema \"%s\": it is registered as tenant-scoped", statement->subname),
                        errhint("A superuser can unregister it first (tenant_guard.unregister_schema)."));
}

void inspect_rename(const RenameStmt* statement) {
    if (statement->renameType == OBJECT_ATTRIBUTE) {
        inspect_attribute_rename(statement);
        return;
    }
    if (statement->renameType == OBJECT_SCHEMA) {
        inspect_schema_rename(statement);
        return;
    }
    if (statement->renameType == OBJECT_POLICY) {
        if (is_reserved_policy_name(statement->newname)) refuse_reserved_policy_name(statement->newname);
        inspect_policy_change(statement->subname, statement->relation, "rename");
    } else if (statement->renameType == OBJECT_COLUMN && statement->relation != nullptr) {
        const Oid relid = RangeVarGetRelid(statement->relation, NoLock, true);
        if (relid == InvalidOid) return;
        const TableProtection protection = read_table_protection(relid);
        if (protection.guarded() && names_tenant_column(relid, protection, statement->subname))
            refuse_weakening("rename the tenant column", relid);
    }
}

// Citus copies the coordinator table's policies onto each new shard and each worker's copy of the
// table, after the event trigger there has attached tenant_guard's own to it: Citus's copy of a
// reserved policy the table already has is skipped. (Any client can claim Citus's application_name;
// it only ever skips creating a policy that is there.)
bool is_citus_copy_of_present_policy(const Node* statement) {
    if (!IsA(statement, CreatePolicyStmt) || !citus_internal_command()) return false;
    const auto* create = castNode(CreatePolicyStmt, statement);
    if (!is_reserved_policy_name(create->policy_name)) return false;
    const Oid relid = RangeVarGetRelid(create->table, NoLock, true);
    if (relid == InvalidOid) return false;
    const TableProtection protection = read_table_protection(relid);
    return (protection.has_isolation_policy && strcmp(create->policy_name, kIsolationPolicyName) == 0) ||
           (protection.has_tenant_rows_policy && strcmp(create->policy_name, kTenantRowsPolicyName) == 0);
}

constexpr const char kRestoreHint[] =
    "To restore a dump, set tenant_guard.restoring = on for the restoring session, "
    "e.g. PGOPTIONS='-c tenant_guard.restoring=on'.";

// A dump restored without tenant_guard.restoring: the event trigger already attached the policy.
void explain_duplicate_policy(const CreatePolicyStmt* statement) {
    const Oid relid = RangeVarGetRelid(statement->table, NoLock, true);
    if (relid == InvalidOid) return;
    const TableProtection protection = read_table_protection(relid);
    const bool exists = (protection.has_isolation_policy && strcmp(statement->policy_name, kIsolationPolicyName) == 0) ||
                        (protection.has_tenant_rows_policy && strcmp(statement->policy_name, kTenantRowsPolicyName) == 0);
    if (!exists) return;
    ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
                    errmsg("policy \"%s\" for table %s already exists", statement->policy_name,
                           qualified_relation_name(relid)),
                    errdetail("tenant_guard attached its policies when the table was created."),
                    errhint("%s", kRestoreHint)));
}

// The same for the dump's CREATE INDEX of the index the event trigger already made: in a dump the
// indexes come before the policies, so this is the first collision a restore runs into.
void explain_duplicate_index(const IndexStmt* statement) {
    if (statement->idxname == nullptr || statement->if_not_exists) return;
    const Oid relid = RangeVarGetRelid(statement->relation, NoLock, true);
    if (relid == InvalidOid || !read_table_protection(relid).guarded()) return;
    if (get_relname_relid(statement->idxname, get_rel_namespace(relid)) == InvalidOid) return;
    ereport(ERROR, (errcode(ERRCODE_DUPLICATE_TABLE),
                    errmsg("relation \"%s\" already exists", statement->idxname),
                    errdetail("tenant_guard protected table %s when it was created, index included.",
                              qualified_relation_name(relid)),
                    errhint("%s", kRestoreHint)));
}

// Statements that could weaken a protected table. Superusers are trusted (they bypass row-level
// security anyway), and tenant_guard's own DDL is let through.
void inspect_protection_change(Node* statement) {
    if (protection_in_progress()) return;
    if (IsA(statement, IndexStmt)) {
        explain_duplicate_index(castNode(IndexStmt, statement));
        return;
    }
    if (IsA(statement, CreatePolicyStmt)) {
        auto* create = castNode(CreatePolicyStmt, statement);
        if (!is_reserved_policy_name(create->policy_name)) return;
        if (!superuser()) refuse_reserved_policy_name(create->policy_name);
        explain_duplicate_policy(create);
        return;
    }
    if (superuser()) return;
    switch (nodeTag(statement)) {
        case T_AlterTableStmt:
            inspect_alter_table(castNode(AlterTableStmt, statement));
            break;
        case T_DropStmt:
            if (castNode(DropStmt, statement)->removeType == OBJECT_POLICY)
                inspect_drop_policy(castNode(DropStmt, statement));
            break;
        case T_AlterPolicyStmt:
            inspect_policy_change(castNode(AlterPolicyStmt, statement)->policy_name,
                                  castNode(AlterPolicyStmt, statement)->table, "alter");
            break;
        case T_RenameStmt:
            inspect_rename(castNode(RenameStmt, statement));
            break;
        default:
            break;
    }
}

// A WITH HOLD cursor keeps its rows after the transaction, and on a pooled connection the next
// client may fetch them: refused while a tenant context is in force.
void inspect_cursor(const DeclareCursorStmt* statement) {
    if ((statement->options & CURSOR_OPT_HOLD) && tenant_context_active())
        TG_REFUSE_GUARD("hold_cursor", statement->portalname, ERRCODE_FEATURE_NOT_SUPPORTED,
                        "WITH HOLD cursors are not allowed while a tenant context is set",
                        errdetail("The cursor would outlive the transaction and its tenant context, and could be "
                                  "read by the next client of a pooled connection."));
}

struct UtilityCall {
#if PG_VERSION_NUM >= 140000
    PlannedStmt* pstmt; const char* queryString; bool readOnlyTree; ProcessUtilityContext context;
    ParamListInfo params; QueryEnvironment* queryEnv; DestReceiver* dest; QueryCompletion* qc;
#else
    PlannedStmt* pstmt; const char* queryString; ProcessUtilityContext context;
    ParamListInfo params; QueryEnvironment* queryEnv; DestReceiver* dest; QueryCompletion* qc;
#endif
};

void run_next_utility(void* arg) {
    auto* call = static_cast<UtilityCall*>(arg);
#if PG_VERSION_NUM >= 140000
#define TG_CALL_ARGS call->pstmt, call->queryString, call->readOnlyTree, call->context, call->params, call->queryEnv, call->dest, call->qc
#else
#define TG_CALL_ARGS call->pstmt, call->queryString, call->context, call->params, call->queryEnv, call->dest, call->qc
#endif
    if (previous_process_utility)
        previous_process_utility(TG_CALL_ARGS);
    else
        standard_ProcessUtility(TG_CALL_ARGS);
#undef TG_CALL_ARGS
}

void guard_utility(TG_UTILITY_HOOK_ARGS) {
    Node* statement = pstmt->utilityStmt;
    refuse_utility_in_platform_access(statement);
    if (is_citus_copy_of_present_policy(statement)) {
        if (qc != nullptr) SetQueryCompletion(qc, CMDTAG_CREATE_POLICY, 0);
        return;
    }
    const bool drops_extension = guard_ledger_utility(statement);
    inspect_protection_change(statement);
    if (IsA(statement, DeclareCursorStmt)) inspect_cursor(castNode(DeclareCursorStmt, statement));
    switch (nodeTag(statement)) {
        case T_VariableSetStmt:
            inspect_variable_set(castNode(VariableSetStmt, statement));
            break;
        case T_DiscardStmt:
            if (castNode(DiscardStmt, statement)->target == DISCARD_ALL) {
                revoke_context();
                end_platform_access();
            }
            break;
        case T_AlterRoleSetStmt: {
            const VariableSetStmt* setting = castNode(AlterRoleSetStmt, statement)->setstmt;
            if (setting && names_context_setting(setting->name)) refuse_manual_context("stored_setting", "ALTER ROLE SET");
            break;
        }
        case T_AlterDatabaseSetStmt: {
            const VariableSetStmt* setting = castNode(AlterDatabaseSetStmt, statement)->setstmt;
            if (setting && names_context_setting(setting->name)) refuse_manual_context("stored_setting", "ALTER DATABASE SET");
            break;
        }
        default:
            break;
    }
    UtilityCall call = {TG_UTILITY_HOOK_PASS};
    run_guarded_utility(drops_extension, run_next_utility, &call);
}

}  // namespace

void install_utility_guard() {
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = guard_utility;
}

}  // namespace tenant_guard::pg
