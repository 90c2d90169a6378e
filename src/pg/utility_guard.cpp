// Utility statements that touch the tenant context. SET of the context is refused with a message
// that points at set_tenant(), also for superusers and for ALTER ROLE/DATABASE ... SET. RESET and
// RESET ALL clear it through the GUC machinery (transactionally, like any RESET); DISCARD ALL, the
// pool's reset query, also revokes every context installed so far. set_config() does not come
// through here: the GUC check hook in context.cpp refuses it.
#include "utility_guard.hpp"

#include "context.hpp"
#include "postgres.hpp"

namespace tenant_guard::pg {

namespace {

ProcessUtility_hook_type previous_process_utility = nullptr;

bool names_context_setting(const char* name) { return name != nullptr && pg_strcasecmp(name, kContextSettingName) == 0; }

[[noreturn]] void refuse_manual_context() {
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()"),
                    errhint("Present a signed token: SELECT tenant_guard.set_tenant(token).")));
    pg_unreachable();
}

void inspect_variable_set(const VariableSetStmt* stmt) {
    if (stmt->kind == VAR_RESET_ALL || stmt->kind == VAR_RESET) return;
    if (names_context_setting(stmt->name)) refuse_manual_context();
}

void guard_utility(TG_UTILITY_HOOK_ARGS) {
    Node* statement = pstmt->utilityStmt;
    switch (nodeTag(statement)) {
        case T_VariableSetStmt:
            inspect_variable_set(castNode(VariableSetStmt, statement));
            break;
        case T_DiscardStmt:
            if (castNode(DiscardStmt, statement)->target == DISCARD_ALL) revoke_context();
            break;
        case T_AlterRoleSetStmt: {
            const VariableSetStmt* setting = castNode(AlterRoleSetStmt, statement)->setstmt;
            if (setting && names_context_setting(setting->name)) refuse_manual_context();
            break;
        }
        case T_AlterDatabaseSetStmt: {
            const VariableSetStmt* setting = castNode(AlterDatabaseSetStmt, statement)->setstmt;
            if (setting && names_context_setting(setting->name)) refuse_manual_context();
            break;
        }
        default:
            break;
    }
    if (previous_process_utility)
        previous_process_utility(TG_UTILITY_HOOK_PASS);
    else
        standard_ProcessUtility(TG_UTILITY_HOOK_PASS);
}

}  // namespace

void install_utility_guard() {
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = guard_utility;
}

}  // namespace tenant_guard::pg
