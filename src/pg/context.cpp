// The context lives in the GUC tenant_guard.tenant_id. Riding on the GUC machinery gives us, from
// PostgreSQL itself: SET LOCAL scoping (gone at COMMIT/ROLLBACK/PREPARE), restoration on
// ROLLBACK TO SAVEPOINT, reset by DISCARD ALL / RESET ALL, and a copy in every parallel worker.
// The GUC is PGC_USERSET so that every attempt to set it, by anyone and by any route (SET,
// set_config, startup options, ALTER ROLE/DATABASE SET), reaches its check hook, which records it as
// a security event; the check hook accepts a non-empty value only while set_tenant() is installing
// a verified token, or while a parallel worker copies the leader's state. Nobody, superusers
// included, can SET a tenant by hand. Clearing is allowed (like reset_tenant()), except inside a
// statement that reads or writes protected tables.
//
// Two things the GUC cannot do are layered on top:
//  * Fail closed across ROLLBACK: a failed set_tenant() must leave no context even
//    though aborting the transaction restores the previous GUC value. Each installed context gets a
//    generation number; revoke_context() raises a floor below which contexts are dead, and an
//    ExecutorStart hook clears a dead value from the GUC before any parallel worker could copy it.
//  * Defence in depth for transaction scope: a transaction-scoped context records which transaction
//    and subtransaction installed it; the transaction callbacks (xact.cpp) make it dead once that
//    transaction ends or that subtransaction aborts, whatever the GUC stack says.
#include "context.hpp"

#include "boundary.hpp"
#include "citus.hpp"
#include "key_store.hpp"
#include "postgres.hpp"
#include "platform_access.hpp"
#include "registry.hpp"
#include "security_events.hpp"
#include "statistics.hpp"
#include "settings.hpp"
#include "verification_cache.hpp"

#include "../core/context_assertion.hpp"
#include "../core/security_event.hpp"
#include "../core/token.hpp"

#include <cstring>

namespace tenant_guard::pg {

const char* const kContextSettingName = "tenant_guard.tenant_id";
const char* const kDistributedContextSettingName = "tenant_guard.distributed_context";

namespace {

constexpr int kUuidTextLength = 36;

// GUC "extra" for one context value: one malloc'd block owned by the GUC machinery, so it lives
// exactly as long as some GUC stack level refers to it. Strings follow the struct.
struct ContextValue {
    bool has_tenant;
    bool is_local;
    bool from_leader;  // built in a parallel worker from the leader's GUC value
    pg_uuid_t tenant;
    char tenant_text[kUuidTextLength + 1];
    uint64 generation;
    uint64 transaction_number;
    SubTransactionId subxid;
    int64 expires_at;  // unix seconds; 0: until its scope ends (a Citus assertion's exp otherwise)
    int32 allowed_count;   // tenants the token may act for (switch_tenant), stored first
    int32 subject_length;  // -1: no sub claim
    const pg_uuid_t* allowed() const { return reinterpret_cast<const pg_uuid_t*>(this + 1); }
    const char* strings() const { return reinterpret_cast<const char*>(allowed() + allowed_count); }
    const char* subject() const { return subject_length < 0 ? nullptr : strings(); }
    const char* claims() const { return strings() + (subject_length < 0 ? 0 : subject_length + 1); }
};

// A verified token on its way into the GUC (see install_context()).
struct PendingContext {
    const char* tenant_text;
    pg_uuid_t tenant;
    bool is_local;
    const char* subject;
    const char* claims;
    const pg_uuid_t* allowed;
    int allowed_count;
};

char* context_setting_value = nullptr;
const ContextValue* active_context = nullptr;
// The context a Citus coordinator sent along with this distributed transaction (see
// check_distributed_context()), or a value without tenant.
char* distributed_setting_value = nullptr;
const ContextValue* received_context = nullptr;
bool sending_distributed_context = false;
const PendingContext* pending_context = nullptr;

uint64 next_generation = 1;
uint64 generation_floor = 1;
uint64 transaction_number = 1;

// Subtransaction aborts that killed transaction-scoped contexts (cleared at transaction end).
struct AbortedSubtransaction {
    SubTransactionId subxid;
    uint64 generation_at_abort;
};
constexpr int kMaxTrackedAborts = 64;
AbortedSubtransaction aborted_subtransactions[kMaxTrackedAborts];
int aborted_subtransaction_count = 0;
SubTransactionId newest_local_subxid = InvalidSubTransactionId;

ExecutorStart_hook_type previous_executor_start = nullptr;

// The district import_tenant() is loading (see set_loading_tenant()), or nullptr.
const pg_uuid_t* loading_tenant = nullptr;
pg_uuid_t loading_tenant_value;

pg_uuid_t* copy_of(const pg_uuid_t& tenant) {
    auto* result = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *result = tenant;
    return result;
}

bool killed_by_subtransaction_abort(const ContextValue* value) {
    for (int i = 0; i < aborted_subtransaction_count; ++i) {
        const auto& abort = aborted_subtransactions[i];
        if (value->subxid >= abort.subxid && value->generation < abort.generation_at_abort) return true;
    }
    return false;
}

// The value if it is a live context, or nullptr.
inline const ContextValue* live(const ContextValue* value) {
    if (value == nullptr || !value->has_tenant) return nullptr;
    if (value->from_leader) return value;  // the leader cleared dead values before launching us
    if (value->generation < generation_floor) return nullptr;
    // RFC 7519: not accepted on or after exp.
    if (value->expires_at != 0 && timestamptz_to_time_t(GetCurrentStatementStartTimestamp()) >= value->expires_at)
        return nullptr;
    if (value->is_local &&
        (value->transaction_number != transaction_number || killed_by_subtransaction_abort(value)))
        return nullptr;
    return value;
}

// The context that counts right now, or nullptr: the one set here by set_tenant(), or the one a
// Citus coordinator sent, whichever came last.
inline const ContextValue* effective_context() {
    const ContextValue* own = live(active_context);
    if (received_context == nullptr || !received_context->has_tenant) return own;
    const ContextValue* received = live(received_context);
    if (received == nullptr) return own;
    return own == nullptr || received->generation > own->generation ? received : own;
}

ContextValue* allocate_context_value(const char* subject, const char* claims, const pg_uuid_t* allowed = nullptr,
                                     int allowed_count = 0) {
    size_t subject_length = subject ? strlen(subject) : 0;
    size_t claims_length = claims ? strlen(claims) : 0;
    size_t size = sizeof(ContextValue) + sizeof(pg_uuid_t) * static_cast<size_t>(allowed_count) +
                  (subject ? subject_length + 1 : 0) + claims_length + 1;
    auto* value = static_cast<ContextValue*>(TG_GUC_EXTRA_ALLOC(size));
    if (value == nullptr) return nullptr;
    memset(value, 0, sizeof(ContextValue));
    value->allowed_count = allowed_count;
    if (allowed_count > 0)
        memcpy(const_cast<pg_uuid_t*>(value->allowed()), allowed, sizeof(pg_uuid_t) * static_cast<size_t>(allowed_count));
    value->subject_length = subject ? static_cast<int32>(subject_length) : -1;
    char* strings = const_cast<char*>(value->strings());
    if (subject) {
        memcpy(strings, subject, subject_length + 1);
        strings += subject_length + 1;
    }
    if (claims) memcpy(strings, claims, claims_length);
    strings[claims_length] = '\0';
    return value;
}

void record_context_refusal(const char* reason, int sqlstate, const char* message, const pg_uuid_t* tenant,
                            bool tenant_verified, const char* subject) {
    SecurityEventReport event;
    event.kind = kEventContextRefused;
    event.reason = reason;
    event.tenant = tenant;
    event.tenant_verified = tenant_verified;
    event.subject = subject;
    event.sqlstate = sqlstate;
    event.message = message;
    record_security_event(event);
    if (tenant_verified) tenant_refused(tenant);
}

// How a refused attempt to set the context came in, by the GUC source that carried it.
const char* setting_route(GucSource source) {
    switch (source) {
        case PGC_S_CLIENT: return "startup option";
        case PGC_S_TEST: return "ALTER ROLE/DATABASE or function SET";
        case PGC_S_GLOBAL:
        case PGC_S_DATABASE:
        case PGC_S_USER:
        case PGC_S_DATABASE_USER: return "stored role or database setting";
        default: return "set_config";
    }
}

void record_setting_attempt(GucSource source) {
    // The server's own files are the operator's business (and are re-read by every backend).
    if (source == PGC_S_DEFAULT || source == PGC_S_FILE || source == PGC_S_DYNAMIC_DEFAULT) return;
    record_refusal(kEventContextTampering,
                   source == PGC_S_CLIENT ? "startup_option" : (source == PGC_S_SESSION ? "set_config" : "stored_setting"),
                   ERRCODE_INSUFFICIENT_PRIVILEGE, "tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()",
                   kContextSettingName, setting_route(source));
}

bool changing_context_ourselves = false;
bool inside_table_statement();

bool check_context_setting(char** newval, void** extra, GucSource source) {
    const char* requested = *newval;
    if (requested == nullptr || requested[0] == '\0') {
        if (!changing_context_ourselves && source == PGC_S_SESSION && IsTransactionState() && inside_table_statement()) {
            const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
            record_context_refusal("inside_statement", ERRCODE_FEATURE_NOT_SUPPORTED,
                                   "the tenant context cannot change inside a statement that writes or reads protected tables",
                                   tenant, tenant != nullptr, context_subject());
            GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
            GUC_check_errmsg("the tenant context cannot change inside a statement that writes or reads protected tables");
            return false;
        }
        // Clearing the context is always allowed: it can only take access away.
        ContextValue* value = allocate_context_value(nullptr, nullptr);
        if (value == nullptr) return false;
        *extra = value;
        return true;
    }
    if (pending_context != nullptr && strcmp(requested, pending_context->tenant_text) == 0) {
        ContextValue* value = allocate_context_value(pending_context->subject, pending_context->claims,
                                                     pending_context->allowed, pending_context->allowed_count);
        if (value == nullptr) return false;
        value->has_tenant = true;
        value->is_local = pending_context->is_local;
        value->tenant = pending_context->tenant;
        strlcpy(value->tenant_text, requested, sizeof(value->tenant_text));
        value->generation = next_generation;
        value->transaction_number = transaction_number;
        value->subxid = GetCurrentSubTransactionId();
        *extra = value;
        return true;
    }
    if (InitializingParallelWorker) {
        auto parsed = core::parse_tenant_id(requested);
        if (!parsed) return false;
        ContextValue* value = allocate_context_value(nullptr, nullptr);
        if (value == nullptr) return false;
        value->has_tenant = true;
        value->from_leader = true;
        memcpy(value->tenant.data, parsed->bytes.data(), UUID_LEN);
        strlcpy(value->tenant_text, requested, sizeof(value->tenant_text));
        *extra = value;
        return true;
    }
    record_setting_attempt(source);
    GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
    GUC_check_errmsg("tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()");
    GUC_check_errhint("Present a signed token: SELECT tenant_guard.set_tenant(token).");
    return false;
}

void assign_context_setting(const char* /*newval*/, void* extra) {
    active_context = static_cast<const ContextValue*>(extra);
    context_may_have_changed();
}

const char* show_context_setting() {
    const ContextValue* value = effective_context();
    return value ? value->tenant_text : "";
}

// Our own changes to the context settings (their check hooks let them through).
void set_own_setting(const char* name, const char* value, GucAction action) {
    changing_context_ourselves = true;
    PG_TRY();
    {
        (void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, action, true, 0, false);
    }
    PG_FINALLY();
    {
        changing_context_ourselves = false;
    }
    PG_END_TRY();
}

void set_context_setting(const char* value, GucAction action) { set_own_setting(kContextSettingName, value, action); }
void set_distributed_setting(const char* value, GucAction action) {
    set_own_setting(kDistributedContextSettingName, value, action);
}

// --- Routing (citus.cpp): cached plans that name the tenant -------------------------------------
bool routed_plans_exist = false;
pg_uuid_t routed_plans_tenant;

// Statements running now (open cursors included). While one that writes, or reads tables with
// row-level security, runs, the context must not change: rows already read, or the audit entries
// its AFTER triggers write at the end, would belong to another tenant or subject than the ones
// checked.
struct TableStatement {
    QueryDesc* query;
    SubTransactionId subxid;
};
constexpr int kMaxTableStatements = 1024;
TableStatement table_statements[kMaxTableStatements];
int table_statement_count = 0;
bool table_statements_overflowed = false;  // fail closed until the transaction ends

bool has_row_security(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) return false;
    const auto* form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    const bool secured = form->relrowsecurity && form->relkind != RELKIND_VIEW;
    ReleaseSysCache(tuple);
    return secured;
}

// Writes anything, or reads a table with row-level security (protected tables, the audit ledger).
bool reads_tables(const PlannedStmt* statement) {
    if (statement->commandType != CMD_SELECT || statement->hasModifyingCTE) return true;
    ListCell* cell;
    foreach (cell, statement->rtable) {
        const auto* entry = static_cast<const RangeTblEntry*>(lfirst(cell));
        if (entry->rtekind == RTE_RELATION && has_row_security(entry->relid)) return true;
    }
    return false;
}

void forget_table_statement(QueryDesc* query_desc);
void forget_when_memory_goes(void* query_desc) { forget_table_statement(static_cast<QueryDesc*>(query_desc)); }

// Before a query runs (and so before it can start parallel workers, which copy GUC values),
// replace a revoked context with an empty one.
void clear_dead_context_before_execution(QueryDesc* query_desc, int eflags) {
    const auto dead = [](const ContextValue* value) {
        return value != nullptr && value->has_tenant && !value->from_leader && live(value) == nullptr;
    };
    if ((dead(active_context) || dead(received_context)) && IsTransactionState() && !IsParallelWorker()) {
        if (dead(active_context)) set_context_setting("", GUC_ACTION_SET);
        if (dead(received_context)) set_distributed_setting("", GUC_ACTION_SET);
    }
    if (previous_executor_start)
        previous_executor_start(query_desc, eflags);
    else
        standard_ExecutorStart(query_desc, eflags);
    // Only remembered here (a pointer, no catalog lookup on every statement); whether it writes or
    // reads protected tables is worked out when set_tenant() asks.
    if (!IsParallelWorker() && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0) {
        if (table_statement_count < kMaxTableStatements) {
            table_statements[table_statement_count++] = {query_desc, GetCurrentSubTransactionId()};
            // A statement whose portal fails (a cursor's FETCH in a rolled-back savepoint) never
            // reaches ExecutorEnd: forget it when its memory goes, before the pointer dangles.
            auto* callback = static_cast<MemoryContextCallback*>(
                MemoryContextAlloc(query_desc->estate->es_query_cxt, sizeof(MemoryContextCallback)));
            callback->func = forget_when_memory_goes;
            callback->arg = query_desc;
            MemoryContextRegisterResetCallback(query_desc->estate->es_query_cxt, callback);
        } else {
            table_statements_overflowed = true;
        }
    }
}

ExecutorEnd_hook_type previous_executor_end = nullptr;

void forget_table_statement(QueryDesc* query_desc) {
    for (int i = table_statement_count - 1; i >= 0; i--) {
        if (table_statements[i].query != query_desc) continue;
        for (int j = i; j + 1 < table_statement_count; j++) table_statements[j] = table_statements[j + 1];
        table_statement_count--;
        return;
    }
}

void end_execution(QueryDesc* query_desc) {
    forget_table_statement(query_desc);
    if (previous_executor_end)
        previous_executor_end(query_desc);
    else
        standard_ExecutorEnd(query_desc);
}

[[noreturn]] void refuse_inside_table_statement(const char* function, bool revoke) {
    {
        const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
        const char* subject = context_subject();
        if (revoke) revoke_context();
        record_context_refusal("inside_statement", ERRCODE_FEATURE_NOT_SUPPORTED,
                               psprintf("%s() cannot run inside a statement that writes or reads protected tables", function),
                               tenant, tenant != nullptr, subject);
    }
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("%s() cannot run inside a statement that writes or reads protected tables", function),
                    errdetail("The tenant context would change while the statement's rows (or an open cursor's) "
                              "are read or written."),
                    errhint("Call it as a statement of its own: SELECT tenant_guard.%s(...);", function),
                    errhidestmt(true)));
    pg_unreachable();
}

bool inside_table_statement() {
    if (table_statements_overflowed) return true;
    for (int i = 0; i < table_statement_count; i++)
        if (reads_tables(table_statements[i].query->plannedstmt)) return true;
    return false;
}

struct VerifiedContext {
    pg_uuid_t tenant;
    char tenant_text[kUuidTextLength + 1];
    char* subject;       // palloc'd or nullptr
    char* claims;        // palloc'd
    pg_uuid_t* allowed;  // palloc'd
    int allowed_count;
};

// Runs the core verifier; on refusal fills `failure` instead. No PostgreSQL error is raised here.
bool verify_token_text(const char* token, size_t length, const pg_uuid_t* requested, VerifiedContext* out,
                       CoreFailure* failure) {
    TimestampTz now = GetCurrentTimestamp();
    const int64 now_unix = static_cast<int64>(timestamptz_to_time_t(now));
    const bool require_jti = settings.require_jti;
    return call_core(
        [&] {
            auto keys = current_key_set();
            if (!keys) throw core::TokenRefused(core::Refusal::NoKeys);
            const core::ClaimPolicy policy = claim_policy_from_settings(false);
            core::VerifiedToken verified =
                verification_cache().verify(std::string_view(token, length), keys, policy, now_unix);
            refuse_cluster_key(verified);
            std::optional<core::TenantId> wanted;
            if (requested != nullptr) {
                wanted.emplace();
                memcpy(wanted->bytes.data(), requested->data, UUID_LEN);
            }
            const core::TenantId chosen = core::choose_tenant(verified, wanted);
            // Last, so that a token refused for any other reason does not use up its jti.
            if (require_jti) replay_guard().admit(verified.token_id, verified.times.exp, now_unix);
            memcpy(out->tenant.data, chosen.bytes.data(), UUID_LEN);
            std::string text = chosen.to_string();
            out->allowed_count = static_cast<int>(verified.allowed_tenants.size());
            out->allowed = static_cast<pg_uuid_t*>(palloc_or_throw(sizeof(pg_uuid_t) * verified.allowed_tenants.size()));
            for (size_t i = 0; i < verified.allowed_tenants.size(); ++i)
                memcpy(out->allowed[i].data, verified.allowed_tenants[i].bytes.data(), UUID_LEN);
            memcpy(out->tenant_text, text.c_str(), kUuidTextLength + 1);
            out->subject = verified.subject ? pstrdup_or_throw(*verified.subject) : nullptr;
            out->claims = pstrdup_or_throw(verified.claims_json);
        },
        failure);
}

void install_context(const VerifiedContext& verified, bool is_local) {
    PendingContext pending{verified.tenant_text, verified.tenant,  is_local,
                           verified.subject,     verified.claims,  verified.allowed,
                           verified.allowed_count};
    pending_context = &pending;
    PG_TRY();
    {
        set_context_setting(verified.tenant_text, is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET);
    }
    PG_FINALLY();
    {
        pending_context = nullptr;
    }
    PG_END_TRY();
    ++next_generation;
    if (is_local) {
        SubTransactionId subxid = GetCurrentSubTransactionId();
        if (subxid > newest_local_subxid) newest_local_subxid = subxid;
    }
}

// The refusal is recorded as a security event (against the context in force, if any) first.
[[noreturn]] void refuse_and_revoke(int sqlstate, const char* message, const char* reason) {
    // The context's tenant and subject, taken before the revocation makes them unreachable (the GUC
    // keeps their memory); revoked before recording, so that nothing can leave the context alive.
    const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
    const char* subject = context_subject();
    revoke_context();
    record_context_refusal(reason, sqlstate, message, tenant, tenant != nullptr, subject);
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message), errhidestmt(true)));
    pg_unreachable();
}

// A refused token: what it claimed is recorded, marked unverified unless the signature held.
void record_token_refusal(const char* token, size_t length, const CoreFailure& failure) {
    const auto reason = static_cast<core::Refusal>(failure.refusal);
    const bool verified = failure.refusal >= 0 && core::refused_after_signature(reason);
    pg_uuid_t tenant;
    bool has_tenant = false;
    char* subject = nullptr;
    const char* tenant_claim = settings.tenant_claim ? settings.tenant_claim : "tenant_id";
    CoreFailure ignored;
    (void)call_core(
        [&] {
            core::UnverifiedClaims claims = core::read_unverified_claims(std::string_view(token, length), tenant_claim);
            if (claims.tenant) {
                memcpy(tenant.data, claims.tenant->bytes.data(), UUID_LEN);
                has_tenant = true;
            }
            if (claims.subject) subject = pstrdup_or_throw(*claims.subject);
        },
        &ignored);
    record_context_refusal(failure.refusal >= 0 ? core::refusal_code(reason) : "token_refused", failure.sqlstate,
                           failure.message, has_tenant ? &tenant : nullptr, verified && has_tenant, subject);
}

// The nil UUID marks the audit ledger's own entries: it is nobody's tenant.
void refuse_nil_tenant(const pg_uuid_t* tenant) {
    static const pg_uuid_t nil = {{0}};
    if (memcmp(tenant->data, nil.data, UUID_LEN) == 0)
        refuse_and_revoke(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                          "tenant token rejected: the nil UUID is not a tenant", "nil_tenant");
}

// --- The context a Citus coordinator sends to its workers ----------------------------------------
// tenant_guard.distributed_context holds "<tenant uuid> <assertion>": a context assertion
// (core/context_assertion.hpp) signed with tenant_guard.cluster_key. The coordinator sets it with
// SET LOCAL (see citus.cpp), which Citus repeats at the start of every worker transaction it opens
// and sends to those already open. A worker accepts it only if the assertion verifies with its own
// copy of the cluster key, is unexpired and names that tenant. It is transaction-scoped whatever way
// it was set. The application's token never leaves the coordinator.
bool refuse_distributed_context(int sqlstate, const char* message) {
    GUC_check_errcode(sqlstate);
    GUC_check_errmsg("%s", message);
    return false;
}

bool check_distributed_context(char** newval, void** extra, GucSource source) {
    const char* requested = *newval;
    // Our own SET LOCAL on the coordinator carries the value to Citus; the context here is the one
    // set_tenant() installed.
    if (requested == nullptr || requested[0] == '\0' || sending_distributed_context) {
        ContextValue* value = allocate_context_value(nullptr, nullptr);
        if (value == nullptr) return false;
        *extra = value;
        return true;
    }
    if (source != PGC_S_SESSION && !InitializingParallelWorker) {
        record_setting_attempt(source);
        return refuse_distributed_context(ERRCODE_INSUFFICIENT_PRIVILEGE,
                                          "tenant_guard.distributed_context can only be set for a transaction");
    }
    const size_t length = strlen(requested);
    const char* malformed = "tenant_guard.distributed_context must be a tenant id and an assertion";
    if (length <= kUuidTextLength + 1 || requested[kUuidTextLength] != ' ')
        return refuse_distributed_context(ERRCODE_INVALID_PARAMETER_VALUE, malformed);
    auto parsed = core::parse_tenant_id(std::string_view(requested, kUuidTextLength));
    if (!parsed) return refuse_distributed_context(ERRCODE_INVALID_PARAMETER_VALUE, malformed);
    pg_uuid_t tenant;
    memcpy(tenant.data, parsed->bytes.data(), UUID_LEN);
    if (InitializingParallelWorker) {
        ContextValue* value = allocate_context_value(nullptr, nullptr);
        if (value == nullptr) return false;
        value->has_tenant = true;
        value->from_leader = true;
        value->tenant = tenant;
        memcpy(value->tenant_text, requested, kUuidTextLength);
        value->tenant_text[kUuidTextLength] = '\0';
        *extra = value;
        return true;
    }
    const char* cluster_key = settings.cluster_key;
    if (cluster_key == nullptr || cluster_key[0] == '\0')
        return refuse_distributed_context(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                          "tenant_guard.cluster_key is not set on this node");
    // Where the applications connect, their contexts come from set_tenant() only: an assertion
    // seen in the workers' activity must not open the coordinator.
    if (!IsTransactionState() || citus_coordinator())
        return refuse_distributed_context(ERRCODE_INSUFFICIENT_PRIVILEGE,
                                          "tenant_guard.distributed_context is accepted on Citus workers only");
    const char* assertion = requested + kUuidTextLength + 1;
    const size_t assertion_length = length - kUuidTextLength - 1;
    const int64 now_unix = static_cast<int64>(timestamptz_to_time_t(GetCurrentTimestamp()));
    const int64 clock_skew = settings.clock_skew_seconds;
    char* subject = nullptr;
    char* claims = nullptr;
    int64 expires_at = 0;
    bool names_tenant = false;
    CoreFailure failure;
    const bool verified = call_core(
        [&] {
            auto keys = current_key_set();
            if (!keys) throw core::TokenRefused(core::Refusal::NoKeys);
            const core::ContextAssertion context = core::verify_context_assertion(
                std::string_view(assertion, assertion_length), *keys, cluster_key, now_unix, clock_skew);
            names_tenant = memcmp(context.tenant.bytes.data(), tenant.data, UUID_LEN) == 0;
            subject = context.subject ? pstrdup_or_throw(*context.subject) : nullptr;
            claims = pstrdup_or_throw(context.claims_json);
            expires_at = context.expires_at;
        },
        &failure);
    if (!verified) {
        record_context_refusal(failure.refusal >= 0 ? core::refusal_code(static_cast<core::Refusal>(failure.refusal))
                                                    : "assertion_refused",
                               failure.sqlstate, failure.message, &tenant, false, nullptr);
        return refuse_distributed_context(failure.sqlstate, failure.message);
    }
    if (!names_tenant)
        return refuse_distributed_context(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                                          "tenant_guard.distributed_context names another tenant than its assertion");
    static const pg_uuid_t nil = {{0}};
    if (memcmp(tenant.data, nil.data, UUID_LEN) == 0)
        return refuse_distributed_context(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                                          "tenant token rejected: the nil UUID is not a tenant");
    // No tenants to switch among: a received context is the coordinator's, never a base for one here.
    ContextValue* value = allocate_context_value(subject, claims);
    if (value == nullptr) return false;
    value->has_tenant = true;
    value->is_local = true;
    value->expires_at = expires_at;
    value->tenant = tenant;
    memcpy(value->tenant_text, requested, kUuidTextLength);
    value->tenant_text[kUuidTextLength] = '\0';
    value->generation = next_generation++;
    value->transaction_number = transaction_number;
    value->subxid = GetCurrentSubTransactionId();
    const SubTransactionId subxid = value->subxid;
    if (subxid > newest_local_subxid) newest_local_subxid = subxid;
    *extra = value;
    return true;
}

void assign_distributed_context(const char* /*newval*/, void* extra) {
    received_context = static_cast<const ContextValue*>(extra);
    context_may_have_changed();
}

// The token is the application's credential: SHOW and pg_settings never print it.
const char* show_distributed_context() {
    const ContextValue* value = live(received_context);
    return value ? value->tenant_text : "";
}

}  // namespace

bool tenant_context_active() noexcept { return effective_context() != nullptr; }

void refuse_context_change_inside_statement(const char* what) {
    if (effective_context() == nullptr || !inside_table_statement()) return;
    const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
    const char* message = "the tenant context cannot change inside a statement that writes or reads protected tables";
    record_context_refusal("inside_statement", ERRCODE_FEATURE_NOT_SUPPORTED, message, tenant, true, context_subject());
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("%s", message),
                    errdetail("%s would clear the context while the statement's rows are read or written.", what)));
}

const char* context_subject() noexcept {
    const ContextValue* value = effective_context();
    return value == nullptr ? nullptr : value->subject();
}

const void* context_tenant() noexcept {
    const ContextValue* value = effective_context();
    return value == nullptr ? nullptr : &value->tenant;
}

const char* context_claims() noexcept {
    const ContextValue* value = effective_context();
    return value == nullptr || value->from_leader ? nullptr : value->claims();
}

void revoke_context() noexcept {
    generation_floor = next_generation;
}

const void* routing_tenant() noexcept {
    if (platform_access_active()) return nullptr;
    if (loading_tenant != nullptr) return loading_tenant;
    const ContextValue* value = effective_context();
    return value == nullptr ? nullptr : &value->tenant;
}

void note_routed_plan(const void* tenant) noexcept {
    routed_plans_exist = true;
    routed_plans_tenant = *static_cast<const pg_uuid_t*>(tenant);
}

// A plan routed for tenant A and run with no context finds nothing (the workers' policies see no
// context either), so only a different tenant makes the saved plans wrong.
void context_may_have_changed() noexcept {
    if (!routed_plans_exist) return;
    const auto* tenant = static_cast<const pg_uuid_t*>(routing_tenant());
    if (tenant == nullptr || memcmp(tenant->data, routed_plans_tenant.data, UUID_LEN) == 0) return;
    forget_routed_plans();
}

void forget_routed_plans() noexcept {
    if (!routed_plans_exist) return;
    routed_plans_exist = false;
    invalidate_routed_plans();
}

uint64_t context_for_workers(WorkerContext* out) noexcept {
    const ContextValue* own = live(active_context);
    if (own == nullptr || own->from_leader || effective_context() != own || loading_tenant != nullptr) return 0;
    out->tenant = &own->tenant;
    out->tenant_text = own->tenant_text;
    out->subject = own->subject();
    out->claims = own->claims();
    return own->generation;
}

void mark_sending_distributed_context(bool sending) noexcept { sending_distributed_context = sending; }

void set_loading_tenant(const void* tenant) noexcept {
    if (tenant == nullptr) {
        loading_tenant = nullptr;
        return;
    }
    loading_tenant_value = *static_cast<const pg_uuid_t*>(tenant);
    loading_tenant = &loading_tenant_value;
    context_may_have_changed();
}

void context_transaction_ended() noexcept {
    loading_tenant = nullptr;
    ++transaction_number;
    table_statement_count = 0;
    table_statements_overflowed = false;
    aborted_subtransaction_count = 0;
    newest_local_subxid = InvalidSubTransactionId;
    context_may_have_changed();
}

void context_subtransaction_aborted(unsigned int subxid) noexcept {
    int kept = 0;
    for (int i = 0; i < table_statement_count; i++)
        if (table_statements[i].subxid < subxid) table_statements[kept++] = table_statements[i];
    table_statement_count = kept;
    // Only aborts that can contain a transaction-scoped context matter.
    if (newest_local_subxid == InvalidSubTransactionId || subxid > newest_local_subxid) return;
    if (aborted_subtransaction_count == kMaxTrackedAborts) {
        // Out of room: fail closed rather than forget an abort.
        revoke_context();
        return;
    }
    aborted_subtransactions[aborted_subtransaction_count++] = {subxid, next_generation};
}

void define_context_setting() {
    DefineCustomStringVariable(kContextSettingName, "The current tenant (read-only; set by tenant_guard.set_tenant()).",
                               nullptr, &context_setting_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
                               check_context_setting, assign_context_setting, show_context_setting);
    DefineCustomStringVariable(kDistributedContextSettingName,
                               "The tenant context a Citus coordinator sent with this transaction (set by tenant_guard).",
                               nullptr, &distributed_setting_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL | GUC_DISALLOW_IN_FILE | GUC_DISALLOW_IN_AUTO_FILE,
                               check_distributed_context, assign_distributed_context, show_distributed_context);
}

void install_executor_guard() {
    previous_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = clear_dead_context_before_execution;
    previous_executor_end = ExecutorEnd_hook;
    ExecutorEnd_hook = end_execution;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_set_tenant)
TG_SQL_FUNCTION(tg_current_tenant)
TG_SQL_FUNCTION(tg_policy_tenant)
TG_SQL_FUNCTION(tg_switch_tenant)
TG_SQL_FUNCTION(tg_allowed_tenants)
TG_SQL_FUNCTION(tg_require_tenant)
TG_SQL_FUNCTION(tg_reset_tenant)
TG_SQL_FUNCTION(tg_current_claims)
TG_SQL_FUNCTION(tg_current_subject)

Datum tg_set_tenant(PG_FUNCTION_ARGS) {
    if (inside_table_statement()) refuse_inside_table_statement("set_tenant", true);
    if (PG_ARGISNULL(0)) refuse_and_revoke(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant token must not be null", "null_argument");
    if (PG_ARGISNULL(1)) refuse_and_revoke(ERRCODE_NULL_VALUE_NOT_ALLOWED, "is_local must not be null", "null_argument");
    const bool is_local = PG_GETARG_BOOL(1);
    if (!is_local && !settings.allow_session_context)
        refuse_and_revoke(ERRCODE_INSUFFICIENT_PRIVILEGE,
                          "session-scoped tenant context is disabled (tenant_guard.allow_session_context)",
                          "session_context_disabled");
    // Refuse oversized tokens before detoasting them.
    if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > VARHDRSZ + tenant_guard::core::kMaxTokenBytes)
        refuse_and_revoke(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "tenant token rejected: token is too large",
                          "token_too_large");
    text* token = PG_GETARG_TEXT_PP(0);
    const pg_uuid_t* requested = (PG_NARGS() > 2 && !PG_ARGISNULL(2)) ? PG_GETARG_UUID_P(2) : nullptr;

    VerifiedContext verified{};
    CoreFailure failure;
    const uint64 cache_hits_before = verification_cache().stats().hits;
    const uint64 cache_misses_before = verification_cache().stats().misses;
    const bool verified_ok = verify_token_text(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), requested, &verified, &failure);
    count(Counter::kTokenCacheHits, verification_cache().stats().hits - cache_hits_before);
    count(Counter::kTokenCacheMisses, verification_cache().stats().misses - cache_misses_before);
    if (!verified_ok) {
        // Revoke before anything else can fail: a refused token must leave no context behind.
        revoke_context();
        record_token_refusal(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), failure);
        raise_core_failure(failure);
    }
    refuse_nil_tenant(&verified.tenant);
    refuse_unless_active(&verified.tenant, true, verified.subject);
    install_context(verified, is_local);
    count(Counter::kContextSets);
    tenant_context_set(&verified.tenant);
    PG_RETURN_UUID_P(copy_of(verified.tenant));
}

// Acts for another of the tenants the current context's token lists, in the same scope, without
// presenting the token again. A tenant the token does not list is refused, and (fail closed) the
// context is gone afterwards, as after any refused set_tenant().
Datum tg_switch_tenant(PG_FUNCTION_ARGS) {
    if (inside_table_statement()) refuse_inside_table_statement("switch_tenant", true);
    if (PG_ARGISNULL(0)) refuse_and_revoke(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be null", "null_argument");
    const pg_uuid_t* wanted = PG_GETARG_UUID_P(0);
    // Only a context set here by set_tenant(): one received from a Citus coordinator is not the
    // session's to build on.
    const ContextValue* current = effective_context();
    if (current != nullptr && current != live(active_context)) current = nullptr;
    if (current == nullptr) {
        record_context_refusal("no_context", ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "no tenant context is set",
                               nullptr, false, nullptr);
        ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("no tenant context is set"),
                        errhint("Call tenant_guard.set_tenant(token) first.")));
    }
    // The same rule as set_tenant(token, false): no new session-scoped context once it is disabled.
    if (!current->is_local && !settings.allow_session_context)
        refuse_and_revoke(ERRCODE_INSUFFICIENT_PRIVILEGE,
                          "session-scoped tenant context is disabled (tenant_guard.allow_session_context)",
                          "session_context_disabled");
    bool listed = false;
    for (int i = 0; i < current->allowed_count && !listed; ++i)
        listed = memcmp(current->allowed()[i].data, wanted->data, UUID_LEN) == 0;
    if (!listed)
        refuse_and_revoke(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                          "tenant token rejected: the requested tenant is not among the token's tenants",
                          "tenant_not_allowed");
    refuse_nil_tenant(wanted);
    refuse_unless_active(wanted, true, current->subject());
    // Copy out of the GUC's memory before the GUC replaces it.
    VerifiedContext next{};
    next.tenant = *wanted;
    char* text = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(wanted)));
    strlcpy(next.tenant_text, text, sizeof(next.tenant_text));
    next.subject = current->subject() ? pstrdup(current->subject()) : nullptr;
    next.claims = pstrdup(current->claims());
    next.allowed_count = current->allowed_count;
    next.allowed = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t) * static_cast<size_t>(current->allowed_count)));
    memcpy(next.allowed, current->allowed(), sizeof(pg_uuid_t) * static_cast<size_t>(current->allowed_count));
    install_context(next, current->is_local);
    count(Counter::kContextSwitches);
    tenant_context_set(wanted);
    PG_RETURN_UUID_P(copy_of(*wanted));
}

Datum tg_allowed_tenants(PG_FUNCTION_ARGS) {
    const ContextValue* value = effective_context();
    if (value == nullptr || value->from_leader) PG_RETURN_NULL();
    Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * static_cast<size_t>(value->allowed_count + 1)));
    for (int i = 0; i < value->allowed_count; ++i) {
        elements[i] = UUIDPGetDatum(copy_of(value->allowed()[i]));
    }
    PG_RETURN_ARRAYTYPE_P(construct_array(elements, value->allowed_count, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

Datum tg_current_tenant(PG_FUNCTION_ARGS) {
    if (loading_tenant != nullptr) PG_RETURN_UUID_P(copy_of(*loading_tenant));
    const auto* value = effective_context();
    if (value == nullptr) PG_RETURN_NULL();
    PG_RETURN_UUID_P(copy_of(value->tenant));
}

// The tenant the row-level security policies and column defaults compare against. Like
// current_tenant(), except that without a context it raises an error when
// tenant_guard.missing_context = 'error'. The error depends on no row, so the function stays
// LEAKPROOF.
Datum tg_policy_tenant(PG_FUNCTION_ARGS) {
    // import_tenant() may load a suspended district: the registry is not asked.
    if (loading_tenant != nullptr) PG_RETURN_UUID_P(copy_of(*loading_tenant));
    const auto* value = effective_context();
    if (value == nullptr) {
        if (settings.missing_context == kMissingContextError) {
            record_context_refusal("no_context", ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "no tenant context is set",
                                   nullptr, false, nullptr);
            ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("no tenant context is set"),
                            errdetail("Tables protected by tenant_guard need a tenant context "
                                      "(tenant_guard.missing_context = error)."),
                            errhint("Call tenant_guard.set_tenant(token) first.")));
        }
        PG_RETURN_NULL();
    }
    // tenant_guard.registry: a tenant suspended since the context was set stops here.
    check_context_tenant(&value->tenant);
    PG_RETURN_UUID_P(copy_of(value->tenant));
}

Datum tg_require_tenant(PG_FUNCTION_ARGS) {
    const auto* value = effective_context();
    if (value == nullptr) {
        record_context_refusal("no_context", ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "no tenant context is set",
                               nullptr, false, nullptr);
        ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("no tenant context is set"),
                        errhint("Call tenant_guard.set_tenant(token) first.")));
    }
    check_context_tenant(&value->tenant);
    PG_RETURN_UUID_P(copy_of(value->tenant));
}

// Transactional like RESET: ROLLBACK (TO SAVEPOINT) brings back the context that held before.
Datum tg_reset_tenant(PG_FUNCTION_ARGS) {
    if (inside_table_statement()) refuse_inside_table_statement("reset_tenant", false);
    end_platform_access();
    set_context_setting("", GUC_ACTION_SET);
    PG_RETURN_VOID();
}

Datum tg_current_claims(PG_FUNCTION_ARGS) {
    const auto* value = effective_context();
    if (value == nullptr || value->from_leader) PG_RETURN_NULL();
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(value->claims())));
}

Datum tg_current_subject(PG_FUNCTION_ARGS) {
    const auto* value = effective_context();
    if (value == nullptr || value->subject() == nullptr) PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text(value->subject()));
}

}  // extern "C"
