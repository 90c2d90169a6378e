// tenant_guard's background workers: one launcher per cluster, one worker per database.
//
// The launcher (a static background worker, started with the server when tenant_guard is in
// shared_preload_libraries) starts a database's worker at its own start for every database that
// allows connections (a worker in a database without tenant_guard exits at once), when a backend
// asks (an audited write, a queued security event), and whenever security events of a database
// wait with no worker to store them: a worker that was killed is replaced within a second.
// The database worker stores the database's security events as soon as they are queued, seals the
// audit ledger every tenant_guard.audit_seal_interval, and deletes security events past
// tenant_guard.security_events_retention. DROP DATABASE stops the database's worker first (utility
// hook), as it does for autovacuum.
//
// PostgreSQL-style code (background worker API, ereport): no C++ object with a destructor.
#include "database_worker.hpp"

#include "ledger.hpp"
#include "ledger_seal.hpp"
#include "security_events.hpp"
#include "postgres.hpp"
#include "shared_memory.hpp"
#include "settings.hpp"
#include "statistics.hpp"

#include <csignal>
#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr int kMaxWorkers = 64;
constexpr int kMaxRequests = 64;

struct WorkerSlot {
    Oid database;
    pid_t pid;
    Latch* latch;
};

struct WorkersShared {
    slock_t mutex;
    Latch* launcher_latch;
    int request_count;
    Oid requests[kMaxRequests];
    WorkerSlot workers[kMaxWorkers];
    // Databases whose worker found tenant_guard: the launcher keeps a worker running there.
    Oid kept[kMaxWorkers];
};

WorkersShared* shared = nullptr;
TimestampTz last_request = 0;
int my_slot = -1;

Size workers_shared_size() { return sizeof(WorkersShared); }

void attach_shared_memory() {
    bool found;
    shared = static_cast<WorkersShared*>(ShmemInitStruct("tenant_guard workers", sizeof(WorkersShared), &found));
    if (!found) {
        memset(shared, 0, sizeof(WorkersShared));
        SpinLockInit(&shared->mutex);
    }
}

void keep_database(Oid database, bool keep) {
    SpinLockAcquire(&shared->mutex);
    int free_index = -1;
    bool listed = false;
    for (int i = 0; i < kMaxWorkers; i++) {
        if (shared->kept[i] == database) {
            listed = true;
            if (!keep) shared->kept[i] = InvalidOid;
        } else if (shared->kept[i] == InvalidOid && free_index < 0) {
            free_index = i;
        }
    }
    if (keep && !listed && free_index >= 0) shared->kept[free_index] = database;
    SpinLockRelease(&shared->mutex);
}

bool worker_running(Oid database) {
    for (const WorkerSlot& slot : shared->workers)
        if (slot.database == database && slot.pid != 0) return true;
    return false;
}

void release_slot(int, Datum) {
    if (shared == nullptr || my_slot < 0) return;
    SpinLockAcquire(&shared->mutex);
    shared->workers[my_slot].pid = 0;
    shared->workers[my_slot].database = InvalidOid;
    shared->workers[my_slot].latch = nullptr;
    SpinLockRelease(&shared->mutex);
    my_slot = -1;
}

// A second worker for the same database (two requests crossing) leaves at once.
bool claim_slot() {
    SpinLockAcquire(&shared->mutex);
    int free_slot = -1;
    for (int i = 0; i < kMaxWorkers; i++) {
        if (shared->workers[i].pid != 0 && shared->workers[i].database == MyDatabaseId) {
            SpinLockRelease(&shared->mutex);
            return false;
        }
        if (shared->workers[i].pid == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot >= 0) {
        shared->workers[free_slot].database = MyDatabaseId;
        shared->workers[free_slot].pid = MyProcPid;
        shared->workers[free_slot].latch = &MyProc->procLatch;
        my_slot = free_slot;
    }
    SpinLockRelease(&shared->mutex);
    if (free_slot < 0) return false;
    before_shmem_exit(release_slot, (Datum)0);
    return true;
}

BackgroundWorkerHandle* start_worker(Oid database) {
    BackgroundWorker worker = {};
    snprintf(worker.bgw_name, BGW_MAXLEN, "tenant_guard worker for database %u", database);
    snprintf(worker.bgw_type, BGW_MAXLEN, "tenant_guard database worker");
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "tenant_guard");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "tg_database_worker_main");
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    worker.bgw_main_arg = ObjectIdGetDatum(database);
    worker.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle* handle;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
        ereport(LOG, (errmsg("tenant_guard: could not start the worker for database %u", database),
                      errhint("Raise max_worker_processes.")));
        return nullptr;
    }
    return handle;
}

// At launcher start: one database at a time, so that workers for databases without tenant_guard (which
// exit at once) never hold many worker slots together.
void start_worker_and_settle(Oid database) {
    BackgroundWorkerHandle* handle = start_worker(database);
    if (handle == nullptr) return;
    for (int waited = 0; waited < 100; waited++) {
        pid_t pid;
        if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED || worker_running(database)) return;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

bool database_takes_worker(Oid database) {
    StartTransactionCommand();
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database));
    bool takes = false;
    if (HeapTupleIsValid(tuple)) {
        const auto* form = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        takes = form->datallowconn && !form->datistemplate;
        ReleaseSysCache(tuple);
    }
    CommitTransactionCommand();
    return takes;
}

// Databases that allow connections, for the launcher's first round.
List* connectable_databases() {
    List* databases = NIL;
    StartTransactionCommand();
    Relation relation = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(relation, 0, nullptr);
    MemoryContext outer = CurTransactionContext;
    for (HeapTuple tuple; (tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr;) {
        auto* database = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (!database->datallowconn || database->datistemplate) continue;
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        databases = lappend_oid(databases, database->oid);
        MemoryContextSwitchTo(old);
    }
    (void)outer;
    table_endscan(scan);
    table_close(relation, AccessShareLock);
    CommitTransactionCommand();
    return databases;
}

// The worker's database has tenant_guard (0.5 or later for security events); checked once, at start.
struct DatabaseFeatures {
    bool ledger;
    bool security_events;
};

DatabaseFeatures database_features() {
    DatabaseFeatures features{};
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    features.ledger = ledger_installed();
    const Oid schema = get_namespace_oid("tenant_guard", true);
    features.security_events = schema != InvalidOid && get_relname_relid("security_events", schema) != InvalidOid &&
                               get_extension_oid("tenant_guard", true) != InvalidOid;
    PopActiveSnapshot();
    CommitTransactionCommand();
    return features;
}

void seal_once() {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "sealing the audit ledger");
    (void)seal_ledger();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

void prune_events_once() {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "pruning security events");
    (void)prune_security_events();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

void give_back_claimed_events(int, Datum) { release_claimed_events(); }

}  // namespace

void request_worker_shared_memory() {
    add_shared_memory_part({workers_shared_size, nullptr, attach_shared_memory});
}

void register_launcher() {
    BackgroundWorker worker = {};
    snprintf(worker.bgw_name, BGW_MAXLEN, "tenant_guard launcher");
    snprintf(worker.bgw_type, BGW_MAXLEN, "tenant_guard launcher");
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "tenant_guard");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "tg_launcher_main");
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 5;
    RegisterBackgroundWorker(&worker);
}

bool database_worker_running(Oid database) noexcept {
    if (shared == nullptr) return false;
    SpinLockAcquire(&shared->mutex);
    const bool running = worker_running(database);
    SpinLockRelease(&shared->mutex);
    return running;
}

void wake_database_worker(Oid database) noexcept {
    if (shared == nullptr) return;
    Latch* worker = nullptr;
    SpinLockAcquire(&shared->mutex);
    for (const WorkerSlot& slot : shared->workers)
        if (slot.database == database && slot.pid != 0) worker = slot.latch;
    Latch* launcher = shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    // No worker: the launcher looks for waiting events every second, sooner when woken.
    if (worker != nullptr)
        SetLatch(worker);
    else if (launcher != nullptr)
        SetLatch(launcher);
}

void ensure_database_worker() noexcept {
    if (shared == nullptr || worker_running(MyDatabaseId)) return;
    const TimestampTz now = GetCurrentTimestamp();
    if (last_request != 0 && now - last_request < 2 * USECS_PER_SEC) return;
    last_request = now;
    SpinLockAcquire(&shared->mutex);
    bool listed = false;
    for (int i = 0; i < shared->request_count; i++) listed |= shared->requests[i] == MyDatabaseId;
    if (!listed && shared->request_count < kMaxRequests) shared->requests[shared->request_count++] = MyDatabaseId;
    Latch* launcher = shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    if (launcher != nullptr) SetLatch(launcher);
}

void stop_database_worker(Oid database) {
    if (shared == nullptr || database == InvalidOid) return;
    keep_database(database, false);
    for (int attempt = 0; attempt < 100; attempt++) {
        pid_t pid = 0;
        SpinLockAcquire(&shared->mutex);
        for (const WorkerSlot& slot : shared->workers)
            if (slot.database == database && slot.pid != 0) pid = slot.pid;
        SpinLockRelease(&shared->mutex);
        if (pid == 0) break;
        if (attempt == 0) kill(pid, SIGTERM);
        pg_usleep(50 * 1000L);
    }
    forget_database_statistics(database);
    // Its queued security events are discarded by the launcher once the database is gone.
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

PGDLLEXPORT void tg_launcher_main(Datum);
PGDLLEXPORT void tg_database_worker_main(Datum);

void tg_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    SpinLockAcquire(&shared->mutex);
    shared->launcher_latch = &MyProc->procLatch;
    SpinLockRelease(&shared->mutex);

    List* databases = connectable_databases();
    ListCell* cell;
    foreach (cell, databases) start_worker_and_settle(lfirst_oid(cell));

    struct RecentStart {
        Oid database;
        TimestampTz at;
    } recent_starts[kMaxWorkers] = {};
    int next_recent = 0;
    for (;;) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        Oid requests[kMaxRequests];
        SpinLockAcquire(&shared->mutex);
        const int count = shared->request_count;
        memcpy(requests, shared->requests, sizeof(Oid) * count);
        shared->request_count = 0;
        SpinLockRelease(&shared->mutex);
        for (int i = 0; i < count; i++)
            if (!database_worker_running(requests[i])) (void)start_worker(requests[i]);
        // A database's worker that is gone (killed, or failed) is started again, as is one for a
        // database whose security events wait with nobody to store them: at most once a second each.
        const TimestampTz now = GetCurrentTimestamp();
        Oid wanted[kMaxWorkers + 1];
        int wanted_count = 0;
        SpinLockAcquire(&shared->mutex);
        for (Oid database : shared->kept)
            if (database != InvalidOid && !worker_running(database)) wanted[wanted_count++] = database;
        SpinLockRelease(&shared->mutex);
        const Oid waiting = database_with_unclaimed_events();
        if (waiting != InvalidOid) wanted[wanted_count++] = waiting;
        for (int i = 0; i < wanted_count; i++) {
            // Never in a template (CREATE DATABASE would find it "being accessed"), nor where
            // connections are not allowed, nor in a database that is gone: its events are dropped.
            if (!database_takes_worker(wanted[i])) {
                keep_database(wanted[i], false);
                discard_security_events(wanted[i]);
                continue;
            }
            int slot = -1;
            for (int j = 0; j < kMaxWorkers && slot < 0; j++)
                if (recent_starts[j].database == wanted[i]) slot = j;
            if (slot >= 0 && now - recent_starts[slot].at < USECS_PER_SEC) continue;
            if (slot < 0) {
                slot = next_recent;
                next_recent = (next_recent + 1) % kMaxWorkers;
            }
            recent_starts[slot] = {wanted[i], now};
            (void)start_worker(wanted[i]);
        }
    }
}

void tg_database_worker_main(Datum argument) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(argument), InvalidOid, 0);
    // The worker runs as a superuser in a database whose owner may set its defaults (ALTER DATABASE
    // ... SET): nothing the database or a role configures may reach it.
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);
    if (!claim_slot()) proc_exit(0);
    before_shmem_exit(give_back_claimed_events, (Datum)0);
    release_claimed_events();
    DatabaseFeatures features = database_features();
    if (!features.security_events) discard_security_events(MyDatabaseId);
    const bool has_tenant_guard = features.ledger || features.security_events;
    keep_database(MyDatabaseId, has_tenant_guard);
    if (!has_tenant_guard) proc_exit(0);
    TimestampTz next_seal = 0;
    TimestampTz next_prune = 0;
    for (;;) {
        // Events for a database whose tenant_guard is older than 0.5: look again (ALTER EXTENSION
        // UPDATE may have brought the table), else nobody can store them.
        if (!features.security_events && security_events_pending(MyDatabaseId)) {
            features = database_features();
            if (!features.security_events) discard_security_events(MyDatabaseId);
        }
        // At most 16 batches (1,024 events) before sealing and pruning get their turn; the latch
        // brings the worker straight back for the rest.
        if (features.security_events) {
            int batches = 0;
            while (drain_security_events() > 0) {
                CHECK_FOR_INTERRUPTS();
                if (++batches == 16) {
                    SetLatch(MyLatch);
                    break;
                }
            }
        }
        TimestampTz now = GetCurrentTimestamp();
        if (features.ledger && now >= next_seal) {
            seal_once();
            next_seal = now + static_cast<TimestampTz>(settings.audit_seal_interval_ms) * 1000;
        }
        if (features.security_events && now >= next_prune) {
            prune_events_once();
            next_prune = now + 10 * 60 * USECS_PER_SEC;
        }
        long timeout_ms = 60 * 1000L;
        if (features.ledger) {
            now = GetCurrentTimestamp();
            timeout_ms = next_seal > now ? static_cast<long>((next_seal - now + 999) / 1000) : 0;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
    }
}

}  // extern "C"
