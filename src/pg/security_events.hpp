// Durable security events (security_events.cpp). A backend that refuses something pushes an event
// into a bounded shared-memory queue before it raises the error: the push never waits for the
// worker and never fails the caller (a full queue drops the event and counts it). The database's
// background worker (database_worker.cpp) drains the queue into tenant_guard.security_events, in
// its own transactions, so an event outlives the rollback of the transaction that was refused.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

// Event kinds (the kind column).
inline constexpr const char* kEventContextRefused = "context_refused";    // set_tenant/switch_tenant, registry
inline constexpr const char* kEventContextTampering = "context_tampering";  // SET, set_config, ALTER ROLE SET, ...
inline constexpr const char* kEventGuardRefused = "guard_refused";        // a protection or ledger guard said no
inline constexpr const char* kEventCrossTenantWrite = "cross_tenant_write";  // WITH CHECK violation
inline constexpr const char* kEventPlatformAccess = "platform_access";      // begin_platform_access()

struct SecurityEventReport {
    const char* kind = nullptr;
    const char* reason = nullptr;  // snake_case, stable
    const pg_uuid_t* tenant = nullptr;
    bool tenant_verified = false;
    const char* subject = nullptr;
    int sqlstate = 0;
    const char* message = nullptr;  // the error's message: never a token, claim value or key
    const char* object = nullptr;
    const char* route = nullptr;
};

// Never raises an error and never waits for the worker (safe right before ereport(ERROR), in a
// GUC check hook and in PG_CATCH). Counts the refusal in tenant_guard.stats. Returns whether the
// event was queued (false: dropped, over the session's rate, not preloaded, or no events table).
bool record_security_event(const SecurityEventReport& event) noexcept;

// The same, for a refusal made on behalf of the context in force (its tenant and subject, if any).
void record_refusal(const char* kind, const char* reason, int sqlstate, const char* message, const char* object,
                    const char* route = nullptr) noexcept;

void define_security_event_settings();
void request_security_event_shared_memory();  // from _PG_init while preloading

// The ExecutorRun hook that turns a WITH CHECK violation on a protected table into a
// cross_tenant_write event. (COPY FROM is refused by PostgreSQL itself for tables with row-level
// security.)
void install_write_violation_capture();
void forget_recorded_violation() noexcept;  // transaction callbacks: a subtransaction or transaction ended

// For the database worker. Stores the database's queued events, oldest first, and logs each one;
// returns how many. Runs its own transactions.
int drain_security_events();
bool security_events_pending(Oid database);
Oid database_with_unclaimed_events();  // for the launcher: some database's events wait; else InvalidOid
void release_claimed_events();           // a worker that fails gives its claimed events back
void discard_security_events(Oid database);  // the database has no tenant_guard 0.5: nobody will store them
int64 prune_security_events();  // rows older than tenant_guard.security_events_retention; needs a transaction

}  // namespace tenant_guard::pg

// ereport(ERROR) for a guard's refusal, recorded first as a guard_refused security event:
//   TG_REFUSE_GUARD("reason", object, ERRCODE_..., psprintf("message", ...), errdetail(...), errhint(...));
#define TG_REFUSE_GUARD(reason, object, code, message, ...)                                                   \
    do {                                                                                                      \
        const char* tg_refusal_message_ = (message);                                                          \
        ::tenant_guard::pg::record_refusal(::tenant_guard::pg::kEventGuardRefused, (reason), (code),          \
                                           tg_refusal_message_, (object));                                    \
        ereport(ERROR, (errcode(code), errmsg("%s", tg_refusal_message_), ##__VA_ARGS__));                    \
    } while (0)
