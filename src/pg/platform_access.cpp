// Platform access: begin_platform_access(token, reason) lets a platform administrator read every
// tenant's rows of protected tables for the rest of the transaction, without touching the tenant
// policies (no OR in them, the same plans for tenants).
//
// How: while it is open, a post-parse-analysis hook marks the range-table entries of protected
// tables in SELECT statements to be checked as the role tenant_guard_platform_reader (NOLOGIN,
// BYPASSRLS, SELECT on protected tables only, granted when a table is protected), the way a view
// marks the tables it reads as its owner's. The rewriter then applies no row-level security to
// those tables; privileges on them are the reader's (SELECT only). Everything else — other tables,
// functions, schemas — is still checked as the session's own role. Any statement that writes, and
// DDL, is refused (TG002). A plan that carries the mark and runs when platform access is not open
// (a statement prepared during it, executed later) is refused by the executor's permission hook.
//
// Opening it needs a verified token that names no tenant and carries platform_admin in the claim
// named by tenant_guard.admin_claim, and a reason; it is recorded as a platform_access security
// event, and refused if the event cannot be queued (fail closed).
//
// PostgreSQL-style code (hooks, ereport) except inside call_core().
#include "platform_access.hpp"

#include "../core/ledger.hpp"
#include "../core/token.hpp"
#include "boundary.hpp"
#include "context.hpp"
#include "key_store.hpp"
#include "postgres.hpp"
#include "protection.hpp"
#include "security_events.hpp"
#include "settings.hpp"
#include "verification_cache.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr const char* kReaderRole = "tenant_guard_platform_reader";
constexpr int kPlatformReadOnly = MAKE_SQLSTATE('T', 'G', '0', '0', '2');

bool active = false;
SubTransactionId opened_in = InvalidSubTransactionId;
Oid reader_role = InvalidOid;
bool reader_role_known = false;

post_parse_analyze_hook_type previous_post_parse = nullptr;
ExecutorCheckPerms_hook_type previous_check_perms = nullptr;

Oid platform_reader() {
    if (!reader_role_known && IsTransactionState()) {
        reader_role = get_role_oid(kReaderRole, true);
        reader_role_known = reader_role != InvalidOid;
    }
    return reader_role;
}

}  // namespace

[[noreturn]] void refuse_platform_write(const char* what) {
    ereport(ERROR, (errcode(kPlatformReadOnly), errmsg("platform access is read-only: %s is not allowed", what),
                    errhint("Platform access ends with the transaction; write in a tenant's context.")));
    pg_unreachable();
}

namespace {

struct MarkContext {
    Oid reader;
#if PG_VERSION_NUM >= 160000
    Query* query;
#endif
};

bool mark_protected_tables(Node* node, void* context) {
    if (node == nullptr) return false;
    auto* mark = static_cast<MarkContext*>(context);
    if (IsA(node, Query)) {
        auto* query = castNode(Query, node);
        if (query->commandType != CMD_SELECT || query->hasModifyingCTE || query->rowMarks != NIL)
            refuse_platform_write("a statement that writes or locks rows");
#if PG_VERSION_NUM >= 160000
        Query* outer = mark->query;
        mark->query = query;
        const bool result = query_tree_walker(query, TG_TREE_WALKER(mark_protected_tables), context, QTW_EXAMINE_RTES_BEFORE);
        mark->query = outer;
        return result;
#else
        return query_tree_walker(query, TG_TREE_WALKER(mark_protected_tables), context, QTW_EXAMINE_RTES_BEFORE);
#endif
    }
    if (IsA(node, RangeTblEntry)) {
        auto* entry = castNode(RangeTblEntry, node);
        if (entry->rtekind == RTE_RELATION && has_isolation_policy(entry->relid)) {
#if PG_VERSION_NUM >= 160000
            RTEPermissionInfo* permissions = getRTEPermissionInfo(mark->query->rteperminfos, entry);
            if (permissions->checkAsUser == InvalidOid) permissions->checkAsUser = mark->reader;
#else
            if (entry->checkAsUser == InvalidOid) entry->checkAsUser = mark->reader;
#endif
        }
        return false;
    }
    return expression_tree_walker(node, TG_TREE_WALKER(mark_protected_tables), context);
}

void after_parse_analysis(ParseState* parse_state, Query* query, JumbleState* jumble) {
    if (previous_post_parse) previous_post_parse(parse_state, query, jumble);
    if (!active || query->commandType == CMD_UTILITY) return;
    MarkContext context{platform_reader()};
    if (context.reader == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("role %s does not exist", kReaderRole)));
    (void)mark_protected_tables(reinterpret_cast<Node*>(query), &context);
}

// A statement marked for platform access (prepared while it was open) runs only while it is open;
// and while it is open nothing writes, not even a plan cached before it began (a PL/pgSQL function's).
bool check_permissions(TG_CHECK_PERMS_HOOK_ARGS) {
    const Oid reader = reader_role_known ? reader_role : InvalidOid;
    if (active || reader != InvalidOid) {
        ListCell* cell;
        foreach (cell, TG_PERMISSION_LIST) {
            const auto* entry = static_cast<const TG_PERMISSION_ENTRY*>(lfirst(cell));
            if (!TG_PERMISSION_APPLIES(entry)) continue;
            const bool writes = (entry->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) != 0;
            const bool marked_after_access = !active && entry->checkAsUser == reader;
            if (!(active && writes) && !marked_after_access) continue;
            if (!ereport_on_violation) return false;
            if (writes && active) refuse_platform_write("a statement that writes or locks rows");
            ereport(ERROR, (errcode(kPlatformReadOnly),
                            errmsg("this statement was prepared during platform access, which has ended"),
                            errhint("Prepare it again.")));
        }
    }
    return previous_check_perms ? previous_check_perms(TG_CHECK_PERMS_HOOK_PASS) : true;
}

struct PlatformToken {
    char* subject;  // palloc'd or nullptr
    bool platform_admin;
};

bool verify_platform_token(const char* token, size_t length, PlatformToken* out, CoreFailure* failure) {
    const int64 now_unix = static_cast<int64>(timestamptz_to_time_t(GetCurrentTimestamp()));
    const char* admin_claim = settings.admin_claim;
    const bool require_jti = settings.require_jti;
    return call_core(
        [&] {
            auto keys = current_key_set();
            if (!keys) throw core::TokenRefused(core::Refusal::NoKeys);
            const core::ClaimPolicy policy = claim_policy_from_settings(true);
            // Not through the verification cache: platform access is rare, and a cache flushed by
            // every change of policy would cost the tenants' tokens their hits.
            core::VerifiedToken verified = core::verify_token(std::string_view(token, length), *keys, policy, now_unix);
            refuse_cluster_key(verified);
            out->platform_admin = core::claim_contains(verified.claims_json, admin_claim ? admin_claim : "roles",
                                                       "platform_admin");
            if (out->platform_admin && require_jti) replay_guard().admit(verified.token_id, verified.times.exp, now_unix);
            out->subject = verified.subject ? pstrdup_or_throw(*verified.subject) : nullptr;
        },
        failure);
}

void record_refused_access(const char* reason, int sqlstate, const char* message) {
    SecurityEventReport event;
    event.kind = kEventContextRefused;
    event.reason = reason;
    event.sqlstate = sqlstate;
    event.message = message;
    event.route = "begin_platform_access";
    (void)record_security_event(event);
}

}  // namespace

bool platform_access_active() noexcept { return active; }

void end_platform_access() noexcept {
    active = false;
    opened_in = InvalidSubTransactionId;
}

void platform_access_subtransaction_aborted(SubTransactionId subxid) noexcept {
    if (active && subxid <= opened_in) end_platform_access();
}

void refuse_utility_in_platform_access(const Node* statement) {
    if (!active) return;
    switch (nodeTag(statement)) {
        case T_TransactionStmt:
        case T_VariableSetStmt:
        case T_VariableShowStmt:
        case T_ExplainStmt:  // its query passes the analysis hook: a write is refused there
            return;
        case T_DeclareCursorStmt:
            // A holdable cursor would keep every tenant's rows readable after the transaction.
            if (castNode(DeclareCursorStmt, statement)->options & CURSOR_OPT_HOLD) refuse_platform_write("DECLARE ... WITH HOLD");
            return;
        case T_FetchStmt:
        case T_ClosePortalStmt:
        case T_PrepareStmt:
        case T_ExecuteStmt:
        case T_DeallocateStmt:
        case T_DiscardStmt:
            return;
        default:
            refuse_platform_write(GetCommandTagName(CreateCommandTag(const_cast<Node*>(statement))));
    }
}

void install_platform_access_hooks() {
    previous_post_parse = post_parse_analyze_hook;
    post_parse_analyze_hook = after_parse_analysis;
    previous_check_perms = ExecutorCheckPerms_hook;
    ExecutorCheckPerms_hook = check_permissions;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_begin_platform_access)
TG_SQL_FUNCTION(tg_in_platform_access)

Datum tg_begin_platform_access(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("token must not be null")));
    const char* reason = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
    while (*reason == ' ' || *reason == '\t' || *reason == '\n') reason++;
    if (*reason == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("platform access needs a reason"),
                        errhint("SELECT tenant_guard.begin_platform_access(token, 'why you need to read across tenants');")));
    if (!IsTransactionBlock())
        ereport(ERROR, (errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
                        errmsg("platform access lasts for a transaction: call begin_platform_access() inside BEGIN ... COMMIT")));
    if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > VARHDRSZ + tenant_guard::core::kMaxTokenBytes) {
        record_refused_access("token_too_large", ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                              "platform access refused: token is too large");
        ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
                        errmsg("platform access refused: token is too large"), errhidestmt(true)));
    }
    text* token = PG_GETARG_TEXT_PP(0);
    PlatformToken verified{};
    CoreFailure failure;
    if (!verify_platform_token(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), &verified, &failure)) {
        record_refused_access(failure.refusal >= 0 ? tenant_guard::core::refusal_code(
                                                         static_cast<tenant_guard::core::Refusal>(failure.refusal))
                                                   : "token_refused",
                              failure.sqlstate, failure.message);
        raise_core_failure(failure);
    }
    if (!verified.platform_admin) {
        const char* message = psprintf("platform access refused: the token's %s claim does not contain platform_admin",
                                       settings.admin_claim);
        record_refused_access("not_platform_admin", ERRCODE_INSUFFICIENT_PRIVILEGE, message);
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("%s", message), errhidestmt(true)));
    }
    if (platform_reader() == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("role %s does not exist", kReaderRole)));
    SecurityEventReport event;
    event.kind = kEventPlatformAccess;
    event.reason = pnstrdup(reason, pg_mbcliplen(reason, static_cast<int>(strlen(reason)), 159));
    event.subject = verified.subject;
    event.sqlstate = 0;
    event.message = "platform access began: every tenant's rows of protected tables are readable until the transaction ends";
    event.route = "begin_platform_access";
    // Fail closed: no unrecorded cross-tenant read.
    if (!record_security_event(event))
        ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                        errmsg("platform access refused: it could not be recorded"),
                        errdetail("The security event queue is full, the session is over its event rate, or "
                                  "tenant_guard is not preloaded."),
                        errhidestmt(true)));
    active = true;
    opened_in = GetCurrentSubTransactionId();
    // A saved plan routed to one tenant's Citus shard would show the platform only that tenant.
    forget_routed_plans();
    PG_RETURN_VOID();
}

Datum tg_in_platform_access(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(platform_access_active()); }

}  // extern "C"
