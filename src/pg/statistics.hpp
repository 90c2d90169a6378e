// tenant_guard.stats and tenant_guard.tenant_stats (statistics.cpp): cluster-wide counters and
// per-tenant activity, both in shared memory.
//
// Per-tenant figures are gathered in the backend while a transaction runs (no lock, no shared
// write per statement) and added to the shared table once, when the transaction ends. The table
// is bounded (tenant_guard.tenant_stats_size); tenants that do not fit are counted in the stats
// counter tenant_stats_overflow instead of being lost silently.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

enum class Counter {
    kContextSets,
    kContextSwitches,
    kEventsQueued,
    kEventsRecorded,
    kEventsDropped,
    kEventsDiscarded,
    kEventsSuppressed,
    kTokenCacheHits,
    kTokenCacheMisses,
    kTenantStatsOverflow,
    kPlatformAccesses,
    kEventsLoggedOnStandby,
    kCount
};

void count(Counter counter, uint64 amount = 1) noexcept;
uint64 counter_value(Counter counter) noexcept;

// A refusal of `kind` for `reason` (the security event's kind and reason).
void count_refusal(const char* kind, const char* reason) noexcept;

// Per-tenant figures of this backend's transaction.
void tenant_context_set(const pg_uuid_t* tenant) noexcept;
void tenant_refused(const pg_uuid_t* tenant) noexcept;

void define_statistics_settings();
void request_statistics_shared_memory();  // from _PG_init while preloading
void install_statistics_hooks();
void statistics_transaction_ended() noexcept;  // xact.cpp: adds the transaction's figures
void forget_database_statistics(Oid database);  // DROP DATABASE

}  // namespace tenant_guard::pg
