// Cluster-wide counters and per-tenant statistics in shared memory.
//
// Counters are atomics (no lock). Refusals are counted per reason in a small table of reason names
// that grows on first use. Per-tenant figures live in a shared hash keyed by (database, tenant):
// the backend gathers its transaction's figures locally and adds them when the transaction ends,
// under the shared lock with atomic adds (the exclusive lock only to insert a new tenant).
// Statement figures come from the executor hooks, for top-level statements only (nesting is
// tracked the way pg_stat_statements tracks it): rows returned or changed, and time in
// ExecutorRun/ExecutorFinish.
//
// PostgreSQL-style code: no C++ object with a destructor.
#include "statistics.hpp"

#include "context.hpp"
#include "postgres.hpp"
#include "shared_memory.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr int kMaxReasons = 128;
constexpr int kReasonNameBytes = 64;

const char* const kCounterNames[] = {
    "context_sets",     "context_switches",   "events_queued",       "events_recorded", "events_dropped",
    "events_discarded", "events_suppressed", "token_cache_hits",   "token_cache_misses",  "tenant_stats_overflow", "platform_accesses",
    "events_logged_on_standby",
};
static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == static_cast<size_t>(Counter::kCount));

struct ReasonCounter {
    char name[kReasonNameBytes];  // "kind.reason"
    pg_atomic_uint64 value;
};

struct StatisticsShared {
    LWLock* lock;  // tenant hash: shared to look up an entry, exclusive to insert or remove
    pg_atomic_uint64 removals;  // bumped when entries are removed: backends' cached pointers are stale
    slock_t reasons_mutex;
    int reason_count;
    pg_atomic_uint64 counters[static_cast<int>(Counter::kCount)];
    ReasonCounter reasons[kMaxReasons];
};

struct TenantKey {
    Oid database;
    pg_uuid_t tenant;
};

enum TenantField { kSets, kRefusals, kTransactions, kRowsRead, kRowsInserted, kRowsUpdated, kRowsDeleted, kExecMicros, kFieldCount };

struct TenantEntry {
    TenantKey key;
    pg_atomic_uint64 fields[kFieldCount];
    pg_atomic_uint64 last_seen;  // TimestampTz
};

StatisticsShared* shared = nullptr;
HTAB* tenants = nullptr;
int tenant_stats_size = 10000;
bool track_tenant_stats = true;
ExecutorRun_hook_type previous_run = nullptr;
ExecutorFinish_hook_type previous_finish = nullptr;
ExecutorEnd_hook_type previous_end = nullptr;

Size shared_size() { return MAXALIGN(sizeof(StatisticsShared)) + hash_estimate_size(tenant_stats_size, sizeof(TenantEntry)); }

void on_shmem_startup() {
    bool found;
    shared = static_cast<StatisticsShared*>(ShmemInitStruct("tenant_guard statistics", sizeof(StatisticsShared), &found));
    if (!found) {
        memset(shared, 0, sizeof(StatisticsShared));
        shared->lock = &(GetNamedLWLockTranche("tenant_guard_statistics"))->lock;
        SpinLockInit(&shared->reasons_mutex);
        for (auto& counter : shared->counters) pg_atomic_init_u64(&counter, 0);
        pg_atomic_init_u64(&shared->removals, 0);
        for (auto& reason : shared->reasons) pg_atomic_init_u64(&reason.value, 0);
    }
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(TenantKey);
    info.entrysize = sizeof(TenantEntry);
    tenants = ShmemInitHash("tenant_guard tenant statistics", tenant_stats_size, tenant_stats_size, &info,
                            HASH_ELEM | HASH_BLOBS);
}

// ---- this backend's transaction ----

constexpr int kMaxPendingTenants = 8;

struct PendingTenant {
    pg_uuid_t tenant;
    uint64 fields[kFieldCount];
};

PendingTenant pending[kMaxPendingTenants];
int pending_count = 0;
int nesting_level = 0;

// Where this backend's recent tenants live in the shared hash. Entries move only when removed
// (DROP DATABASE), which bumps `removals`: so after the first lookup a transaction's figures are
// added with atomics alone, no lock.
constexpr int kCachedEntries = 16;
struct CachedEntry {
    pg_uuid_t tenant;
    TenantEntry* entry;
};
CachedEntry cached[kCachedEntries];
int cached_count = 0;
int cached_next = 0;
uint64 cached_removals = 0;

TenantEntry* find_or_add_entry(const pg_uuid_t* tenant) {
    for (int i = 0; i < cached_count; i++)
        if (memcmp(cached[i].tenant.data, tenant->data, UUID_LEN) == 0) return cached[i].entry;
    TenantKey key;
    memset(&key, 0, sizeof(key));
    key.database = MyDatabaseId;
    key.tenant = *tenant;
    LWLockAcquire(shared->lock, LW_SHARED);
    auto* entry = static_cast<TenantEntry*>(hash_search(tenants, &key, HASH_FIND, nullptr));
    LWLockRelease(shared->lock);
    if (entry == nullptr) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        bool found = false;
        entry = static_cast<TenantEntry*>(hash_search(tenants, &key, HASH_FIND, nullptr));
        // A shared hash grows past its nominal size while spare shared memory lasts: bound it here.
        if (entry == nullptr && hash_get_num_entries(tenants) < tenant_stats_size) {
            entry = static_cast<TenantEntry*>(hash_search(tenants, &key, HASH_ENTER_NULL, &found));
            if (entry != nullptr && !found) {
                for (auto& field : entry->fields) pg_atomic_init_u64(&field, 0);
                pg_atomic_init_u64(&entry->last_seen, 0);
            }
        }
        LWLockRelease(shared->lock);
        if (entry == nullptr) return nullptr;
    }
    const int slot = cached_count < kCachedEntries ? cached_count++ : cached_next++ % kCachedEntries;
    cached[slot] = {*tenant, entry};
    return entry;
}

void add_pending_to_shared() {
    if (pending_count == 0) return;
    if (tenants == nullptr || MyDatabaseId == InvalidOid) {
        pending_count = 0;
        return;
    }
    const uint64 removals = pg_atomic_read_u64(&shared->removals);
    if (removals != cached_removals) {
        cached_count = 0;
        cached_removals = removals;
    }
    const auto seen = static_cast<uint64>(GetCurrentStatementStartTimestamp());
    for (int i = 0; i < pending_count; i++) {
        TenantEntry* entry = find_or_add_entry(&pending[i].tenant);
        if (entry == nullptr) {
            pg_atomic_fetch_add_u64(&shared->counters[static_cast<int>(Counter::kTenantStatsOverflow)], 1);
            continue;
        }
        for (int f = 0; f < kFieldCount; f++)
            if (pending[i].fields[f] != 0) pg_atomic_fetch_add_u64(&entry->fields[f], pending[i].fields[f]);
        pg_atomic_write_u64(&entry->last_seen, seen);
    }
    pending_count = 0;
}

PendingTenant* pending_for(const pg_uuid_t* tenant) {
    for (int i = 0; i < pending_count; i++)
        if (memcmp(pending[i].tenant.data, tenant->data, UUID_LEN) == 0) return &pending[i];
    if (pending_count == kMaxPendingTenants) add_pending_to_shared();
    PendingTenant* entry = &pending[pending_count++];
    entry->tenant = *tenant;
    memset(entry->fields, 0, sizeof(entry->fields));
    // Each tenant is counted once per transaction it took part in.
    entry->fields[kTransactions] = 1;
    return entry;
}

PendingTenant* pending_for_context() {
    if (tenants == nullptr || !track_tenant_stats || IsParallelWorker()) return nullptr;
    const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
    return tenant == nullptr ? nullptr : pending_for(tenant);
}

void add_elapsed(const instr_time& start) {
    PendingTenant* entry = pending_for_context();
    if (entry == nullptr) return;
    instr_time elapsed;
    INSTR_TIME_SET_CURRENT(elapsed);
    INSTR_TIME_SUBTRACT(elapsed, start);
    entry->fields[kExecMicros] += INSTR_TIME_GET_MICROSEC(elapsed);
}

void run_with_statistics(QueryDesc* query_desc, ScanDirection direction, uint64 count, bool execute_once) {
    instr_time start;
    const bool top_level = nesting_level == 0 && track_tenant_stats;
    if (top_level) INSTR_TIME_SET_CURRENT(start);
    nesting_level++;
    PG_TRY();
    {
        if (previous_run)
            previous_run(query_desc, direction, count, execute_once);
        else
            standard_ExecutorRun(query_desc, direction, count, execute_once);
    }
    PG_FINALLY();
    {
        nesting_level--;
    }
    PG_END_TRY();
    if (top_level) add_elapsed(start);
}

void finish_with_statistics(QueryDesc* query_desc) {
    instr_time start;
    // ExecutorFinish does real work (AFTER triggers) for writes; a clock read pair saved on reads.
    const bool top_level = nesting_level == 0 && track_tenant_stats && query_desc->operation != CMD_SELECT;
    if (top_level) INSTR_TIME_SET_CURRENT(start);
    nesting_level++;
    PG_TRY();
    {
        if (previous_finish)
            previous_finish(query_desc);
        else
            standard_ExecutorFinish(query_desc);
    }
    PG_FINALLY();
    {
        nesting_level--;
    }
    PG_END_TRY();
    if (top_level) add_elapsed(start);
}

void end_with_statistics(QueryDesc* query_desc) {
    if (nesting_level == 0 && query_desc->estate != nullptr) {
        PendingTenant* entry = pending_for_context();
        if (entry != nullptr) {
            const uint64 rows = query_desc->estate->es_processed;
            switch (query_desc->operation) {
                case CMD_SELECT: entry->fields[kRowsRead] += rows; break;
                case CMD_INSERT: entry->fields[kRowsInserted] += rows; break;
                case CMD_UPDATE: entry->fields[kRowsUpdated] += rows; break;
                case CMD_DELETE: entry->fields[kRowsDeleted] += rows; break;
                default: break;
            }
        }
    }
    if (previous_end)
        previous_end(query_desc);
    else
        standard_ExecutorEnd(query_desc);
}

int find_reason(const char* name, bool add) {
    for (int i = 0; i < shared->reason_count; i++)
        if (strcmp(shared->reasons[i].name, name) == 0) return i;
    if (!add || shared->reason_count == kMaxReasons) return -1;
    const int index = shared->reason_count++;
    strlcpy(shared->reasons[index].name, name, kReasonNameBytes);
    return index;
}

}  // namespace

void count(Counter counter, uint64 amount) noexcept {
    if (shared != nullptr) pg_atomic_fetch_add_u64(&shared->counters[static_cast<int>(counter)], amount);
}

uint64 counter_value(Counter counter) noexcept {
    return shared == nullptr ? 0 : pg_atomic_read_u64(&shared->counters[static_cast<int>(counter)]);
}

void count_refusal(const char* kind, const char* reason) noexcept {
    if (shared == nullptr) return;
    char name[kReasonNameBytes];
    snprintf(name, sizeof(name), "refusals.%s.%s", kind, reason ? reason : "unspecified");
    SpinLockAcquire(&shared->reasons_mutex);
    const int index = find_reason(name, true);
    SpinLockRelease(&shared->reasons_mutex);
    if (index >= 0) pg_atomic_fetch_add_u64(&shared->reasons[index].value, 1);
}

void tenant_context_set(const pg_uuid_t* tenant) noexcept {
    if (tenants == nullptr || !track_tenant_stats || tenant == nullptr) return;
    pending_for(tenant)->fields[kSets]++;
}

void tenant_refused(const pg_uuid_t* tenant) noexcept {
    if (tenants == nullptr || !track_tenant_stats || tenant == nullptr) return;
    pending_for(tenant)->fields[kRefusals]++;
}

void forget_database_statistics(Oid database) {
    if (shared == nullptr) return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, tenants);
    for (TenantEntry* entry; (entry = static_cast<TenantEntry*>(hash_seq_search(&scan))) != nullptr;)
        if (entry->key.database == database) (void)hash_search(tenants, &entry->key, HASH_REMOVE, nullptr);
    pg_atomic_fetch_add_u64(&shared->removals, 1);
    LWLockRelease(shared->lock);
}

void statistics_transaction_ended() noexcept {
    nesting_level = 0;
    add_pending_to_shared();
}

void define_statistics_settings() {
    DefineCustomBoolVariable("tenant_guard.track_tenant_stats",
                             "Collect per-tenant statistics (tenant_guard.tenant_stats).", nullptr,
                             &track_tenant_stats, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable("tenant_guard.tenant_stats_size",
                            "How many tenants (of all databases) tenant_guard.tenant_stats can hold.",
                            "Tenants beyond it are counted in the stats counter tenant_stats_overflow.",
                            &tenant_stats_size, 10000, 100, 10000000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

void request_statistics_shared_memory() {
    add_shared_memory_part({shared_size, "tenant_guard_statistics", on_shmem_startup});
}

void install_statistics_hooks() {
    previous_run = ExecutorRun_hook;
    ExecutorRun_hook = run_with_statistics;
    previous_finish = ExecutorFinish_hook;
    ExecutorFinish_hook = finish_with_statistics;
    previous_end = ExecutorEnd_hook;
    ExecutorEnd_hook = end_with_statistics;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_stats)
TG_SQL_FUNCTION(tg_stats_reset)
TG_SQL_FUNCTION(tg_tenant_stats)

// (counter text, value bigint)
Datum tg_stats(PG_FUNCTION_ARGS) {
    tg_begin_materialized_result(fcinfo);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    auto emit = [&](const char* name, uint64 value) {
        Datum values[2] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(value))};
        bool nulls[2] = {false, false};
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    };
    if (shared == nullptr) PG_RETURN_VOID();
    for (int i = 0; i < static_cast<int>(Counter::kCount); i++)
        emit(kCounterNames[i], pg_atomic_read_u64(&shared->counters[i]));
    SpinLockAcquire(&shared->reasons_mutex);
    const int reasons = shared->reason_count;
    SpinLockRelease(&shared->reasons_mutex);
    for (int i = 0; i < reasons; i++) emit(shared->reasons[i].name, pg_atomic_read_u64(&shared->reasons[i].value));
    LWLockAcquire(shared->lock, LW_SHARED);
    const long tracked = hash_get_num_entries(tenants);
    LWLockRelease(shared->lock);
    emit("tenant_stats_tenants", static_cast<uint64>(tracked));  // slots in use, all databases
    emit("tenant_stats_size", static_cast<uint64>(tenant_stats_size));
    PG_RETURN_VOID();
}

// Zeroes every counter and forgets this database's tenant statistics.
Datum tg_stats_reset(PG_FUNCTION_ARGS) {
    if (shared == nullptr) PG_RETURN_VOID();
    for (auto& counter : shared->counters) pg_atomic_write_u64(&counter, 0);
    SpinLockAcquire(&shared->reasons_mutex);
    for (int i = 0; i < shared->reason_count; i++) pg_atomic_write_u64(&shared->reasons[i].value, 0);
    SpinLockRelease(&shared->reasons_mutex);
    // Zeroed in place (entries never move while backends may hold pointers to them); a zeroed
    // tenant is hidden from the view until it acts again.
    LWLockAcquire(shared->lock, LW_SHARED);
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, tenants);
    for (TenantEntry* entry; (entry = static_cast<TenantEntry*>(hash_seq_search(&scan))) != nullptr;) {
        if (entry->key.database != MyDatabaseId) continue;
        for (auto& field : entry->fields) pg_atomic_write_u64(&field, 0);
        pg_atomic_write_u64(&entry->last_seen, 0);
    }
    LWLockRelease(shared->lock);
    PG_RETURN_VOID();
}

// This database's tenants: (tenant_id, context_sets, refusals, transactions, rows_read,
// rows_inserted, rows_updated, rows_deleted, exec_time_ms, last_seen).
Datum tg_tenant_stats(PG_FUNCTION_ARGS) {
    tg_begin_materialized_result(fcinfo);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (shared == nullptr) PG_RETURN_VOID();
    LWLockAcquire(shared->lock, LW_SHARED);
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, tenants);
    for (TenantEntry* entry; (entry = static_cast<TenantEntry*>(hash_seq_search(&scan))) != nullptr;) {
        if (entry->key.database != MyDatabaseId || pg_atomic_read_u64(&entry->last_seen) == 0) continue;
        Datum values[10];
        bool nulls[10] = {false};
        auto* tenant = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
        *tenant = entry->key.tenant;
        values[0] = UUIDPGetDatum(tenant);
        values[1] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kSets])));
        values[2] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kRefusals])));
        values[3] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kTransactions])));
        values[4] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kRowsRead])));
        values[5] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kRowsInserted])));
        values[6] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kRowsUpdated])));
        values[7] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->fields[kRowsDeleted])));
        values[8] = Float8GetDatum(static_cast<double>(pg_atomic_read_u64(&entry->fields[kExecMicros])) / 1000.0);
        const auto last_seen = static_cast<TimestampTz>(pg_atomic_read_u64(&entry->last_seen));
        values[9] = TimestampTzGetDatum(last_seen);
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    LWLockRelease(shared->lock);
    PG_RETURN_VOID();
}

}  // extern "C"
