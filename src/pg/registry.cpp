// The tenant registry in shared memory.
//
// One hash table for the cluster, keyed by (database, tenant), holding each registered tenant's
// status, plus a small table of the databases whose registry is loaded. A change to
// tenant_guard.tenants is recorded by its trigger in a backend-local list and published when the
// transaction commits (subtransaction aborts drop their part; PREPARE TRANSACTION is refused, since
// the commit may happen in another session). A database is loaded from the table on first use after
// a restart (or after TRUNCATE, or when the extension was re-created); a load that races with a
// commit is retried, using a per-database generation that every publication bumps.
// The table is bounded (tenant_guard.registry_size); a database whose tenants do not fit is marked
// overflowed, and lookups that miss fall back to reading the table.
//
// PostgreSQL-style code (ereport, SPI, LWLocks): no C++ object with a destructor.
#include "registry.hpp"

#include "../core/tenant_uuid.hpp"
#include "context.hpp"
#include "ledger.hpp"
#include "postgres.hpp"
#include "shared_memory.hpp"
#include "security_events.hpp"
#include "settings.hpp"
#include "statistics.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr int kMaxDatabases = 64;

struct RegistryKey {
    Oid database;
    pg_uuid_t tenant;
};

struct RegistryEntry {
    RegistryKey key;
    char status;  // 'a', 's', 'o'
};

struct LoadedDatabase {
    Oid database;
    Oid tenants_relid;  // the tenants table the entries came from
    bool loaded;
    bool overflowed;
    uint64 generation;
    TimestampTz loaded_at;  // when the entries were read from the table
    bool refreshing;        // a standby backend is re-reading the table (others keep using the entries)
    TimestampTz refresh_claimed_at;  // a claim this old was abandoned (its backend died: FATAL, kill)
};

struct RegistryShared {
    LWLock* lock;
    LoadedDatabase databases[kMaxDatabases];
};

RegistryShared* shared = nullptr;
HTAB* entries = nullptr;
bool registry_enabled = false;
int registry_size = 10000;

Size shared_size() { return MAXALIGN(sizeof(RegistryShared)) + hash_estimate_size(registry_size, sizeof(RegistryEntry)); }

void on_shmem_startup() {
    bool found;
    shared = static_cast<RegistryShared*>(ShmemInitStruct("tenant_guard registry state", sizeof(RegistryShared), &found));
    if (!found) {
        memset(shared, 0, sizeof(RegistryShared));
        shared->lock = &(GetNamedLWLockTranche("tenant_guard_registry"))->lock;
    }
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(RegistryKey);
    info.entrysize = sizeof(RegistryEntry);
    entries = ShmemInitHash("tenant_guard registry", registry_size, registry_size, &info, HASH_ELEM | HASH_BLOBS);
}

// A shared hash grows past its nominal size while spare shared memory lasts (memory PostgreSQL's
// own lock tables may need): registry_size is enforced here. Caller holds the lock exclusively.
RegistryEntry* enter_bounded(const RegistryKey* key) {
    auto* entry = static_cast<RegistryEntry*>(hash_search(entries, key, HASH_FIND, nullptr));
    if (entry != nullptr || hash_get_num_entries(entries) >= registry_size) return entry;
    return static_cast<RegistryEntry*>(hash_search(entries, key, HASH_ENTER_NULL, nullptr));
}

// ---- this backend's unpublished changes ----

struct PendingChange {
    pg_uuid_t tenant;
    char status;  // 'a', 's', 'o', or 'd' (deleted)
    SubTransactionId subxid;
};

PendingChange* pending = nullptr;
int pending_count = 0;
int pending_capacity = 0;
bool pending_reload = false;
SubTransactionId pending_reload_subxid = InvalidSubTransactionId;

void remember(const pg_uuid_t* tenant, char status) {
    if (pending_count == pending_capacity) {
        const int capacity = pending_capacity == 0 ? 16 : pending_capacity * 2;
        pending = static_cast<PendingChange*>(
            pending ? repalloc(pending, sizeof(PendingChange) * capacity)
                    : MemoryContextAlloc(TopTransactionContext, sizeof(PendingChange) * capacity));
        pending_capacity = capacity;
    }
    pending[pending_count++] = {*tenant, status, GetCurrentSubTransactionId()};
}

void forget_pending() {
    pending = nullptr;  // TopTransactionContext goes with the transaction
    pending_count = pending_capacity = 0;
    pending_reload = false;
}

LoadedDatabase* database_slot(Oid database, bool create) {
    LoadedDatabase* free_slot = nullptr;
    for (auto& slot : shared->databases) {
        if (slot.database == database) return &slot;
        if (slot.database == InvalidOid && free_slot == nullptr) free_slot = &slot;
    }
    if (create && free_slot != nullptr) {
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->database = database;
    }
    return create ? free_slot : nullptr;
}

void remove_database_entries(Oid database) {
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, entries);
    for (auto* entry = static_cast<RegistryEntry*>(hash_seq_search(&scan)); entry != nullptr;
         entry = static_cast<RegistryEntry*>(hash_seq_search(&scan)))
        if (entry->key.database == database) hash_search(entries, &entry->key, HASH_REMOVE, nullptr);
}

char status_code(const char* text) {
    if (strcmp(text, "active") == 0) return 'a';
    if (strcmp(text, "suspended") == 0) return 's';
    return 'o';
}

Oid tenants_relid() {
    const Oid schema = get_namespace_oid("tenant_guard", true);
    return schema == InvalidOid ? InvalidOid : get_relname_relid("tenants", schema);
}

bool loading = false;  // our own SPI reads must not check the registry again

// Reads of tenant_guard.tenants run as its owner (run_as_relation_owner): the roles whose tenants are
// checked may not read it.

// The registry is read with a fresh snapshot, never the transaction's: a REPEATABLE READ
// transaction that began before a suspension would otherwise install the tenant as still active
// for everyone.
int execute_with_latest_snapshot(const char* sql, int nargs, Oid* types, Datum* values, long count) {
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr) elog(ERROR, "tenant_guard: preparing a registry read failed");
    return SPI_execute_snapshot(plan, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, count);
}

// Reads the table and installs it, unless a commit published in between (then the caller retries).
bool try_load_as_owner(Oid relid) {
    LWLockAcquire(shared->lock, LW_SHARED);
    LoadedDatabase* slot = database_slot(MyDatabaseId, false);
    const uint64 generation = slot ? slot->generation : 0;
    LWLockRelease(shared->lock);

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    if (execute_with_latest_snapshot("SELECT id, status FROM tenant_guard.tenants", 0, nullptr, nullptr, 0) !=
        SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: reading tenant_guard.tenants failed");
    SPITupleTable* rows = SPI_tuptable;
    const uint64 count = SPI_processed;

    bool installed = false;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    slot = database_slot(MyDatabaseId, true);
    if (slot != nullptr && slot->generation == generation) {
        remove_database_entries(MyDatabaseId);
        slot->overflowed = false;
        for (uint64 i = 0; i < count; i++) {
            bool is_null;
            RegistryKey key = {MyDatabaseId, *DatumGetUUIDP(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &is_null))};
            auto* entry = enter_bounded(&key);
            if (entry == nullptr) {
                slot->overflowed = true;
                break;
            }
            entry->status = status_code(SPI_getvalue(rows->vals[i], rows->tupdesc, 2));
        }
        slot->tenants_relid = relid;
        slot->loaded = true;
        slot->loaded_at = GetCurrentTimestamp();
        installed = true;
    } else if (slot == nullptr) {
        installed = true;  // more databases than slots: every lookup reads the table
    }
    LWLockRelease(shared->lock);
    SPI_finish();
    if (slot == nullptr)
        ereport(WARNING, (errmsg("tenant_guard: the shared tenant registry tracks at most %d databases", kMaxDatabases),
                          errdetail("Tenants of this database are looked up in tenant_guard.tenants.")));
    return installed;
}

TenantStatus read_status_as_owner(const pg_uuid_t* tenant) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    Oid types[1] = {UUIDOID};
    Datum values[1] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(tenant))};
    if (execute_with_latest_snapshot("SELECT status FROM tenant_guard.tenants WHERE id OPERATOR(pg_catalog.=) $1", 1,
                                     types, values, 1) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: reading tenant_guard.tenants failed");
    TenantStatus status = TenantStatus::kUnknown;
    if (SPI_processed == 1) {
        const char code = status_code(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
        status = code == 'a' ? TenantStatus::kActive : code == 's' ? TenantStatus::kSuspended : TenantStatus::kOffboarded;
    }
    SPI_finish();
    return status;
}

struct LoadCall {
    Oid relid;
    bool installed;
};

void load_body(void* arg) {
    auto* call = static_cast<LoadCall*>(arg);
    call->installed = try_load_as_owner(call->relid);
}

bool try_load(Oid relid) {
    LoadCall call = {relid, false};
    run_as_relation_owner(relid, load_body, &call);
    return call.installed;
}

struct StatusCall {
    const pg_uuid_t* tenant;
    TenantStatus status;
};

void status_body(void* arg) {
    auto* call = static_cast<StatusCall*>(arg);
    call->status = read_status_as_owner(call->tenant);
}

TenantStatus read_status_from_table(const pg_uuid_t* tenant) {
    StatusCall call = {tenant, TenantStatus::kUnknown};
    run_as_relation_owner(tenants_relid(), status_body, &call);
    return call.status;
}

// On a hot standby no commit publishes registry changes here: they arrive as replayed rows of the
// table. So a standby re-reads the table when its copy is older than kStandbyRefresh; one backend
// re-reads while the others go on with the entries they have.
constexpr long kStandbyRefreshMs = 1000;
constexpr long kAbandonedRefreshMs = 5000;

bool standby_refresh_due(const LoadedDatabase* slot) {
    if (!RecoveryInProgress()) return false;
    const TimestampTz now = GetCurrentTimestamp();
    if (slot->refreshing && !TimestampDifferenceExceeds(slot->refresh_claimed_at, now, (int)kAbandonedRefreshMs))
        return false;
    return TimestampDifferenceExceeds(slot->loaded_at, now, (int)kStandbyRefreshMs);
}

bool claim_standby_refresh() {
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    LoadedDatabase* slot = database_slot(MyDatabaseId, false);
    const bool claimed = slot != nullptr && slot->loaded && standby_refresh_due(slot);
    if (claimed) {
        slot->refreshing = true;
        slot->refresh_claimed_at = GetCurrentTimestamp();
    }
    LWLockRelease(shared->lock);
    return claimed;
}

void end_standby_refresh() {
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    LoadedDatabase* slot = database_slot(MyDatabaseId, false);
    if (slot != nullptr) slot->refreshing = false;
    LWLockRelease(shared->lock);
}

// try_load() with `loading` raised, so that our own reads do not check the registry again.
void load_registry(Oid relid) {
    loading = true;
    PG_TRY();
    {
        (void)try_load(relid);
    }
    PG_FINALLY();
    {
        loading = false;
    }
    PG_END_TRY();
}

void refresh_on_standby(Oid relid) {
    PG_TRY();
    {
        load_registry(relid);
    }
    PG_CATCH();
    {
        end_standby_refresh();
        PG_RE_THROW();
    }
    PG_END_TRY();
    end_standby_refresh();
}

TenantStatus lookup(const pg_uuid_t* tenant) {
    const Oid relid = tenants_relid();
    if (relid == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("tenant_guard.registry is on, but the tenant registry is not installed in this database"),
                        errhint("ALTER EXTENSION tenant_guard UPDATE")));
    if (shared == nullptr) return read_status_from_table(tenant);  // not preloaded: no shared memory
    for (int attempt = 0;; attempt++) {
        LWLockAcquire(shared->lock, LW_SHARED);
        LoadedDatabase* slot = database_slot(MyDatabaseId, false);
        const bool usable = slot != nullptr && slot->loaded && slot->tenants_relid == relid;
        if (usable && attempt == 0 && standby_refresh_due(slot)) {
            LWLockRelease(shared->lock);
            if (claim_standby_refresh()) refresh_on_standby(relid);
            continue;
        }
        if (usable) {
            RegistryKey key = {MyDatabaseId, *tenant};
            const auto* entry = static_cast<const RegistryEntry*>(hash_search(entries, &key, HASH_FIND, nullptr));
            const bool overflowed = slot->overflowed;
            const char status = entry ? entry->status : 0;
            LWLockRelease(shared->lock);
            if (entry == nullptr) return overflowed ? read_status_from_table(tenant) : TenantStatus::kUnknown;
            return status == 'a' ? TenantStatus::kActive : status == 's' ? TenantStatus::kSuspended : TenantStatus::kOffboarded;
        }
        LWLockRelease(shared->lock);
        if (attempt >= 5) return read_status_from_table(tenant);
        load_registry(relid);
    }
}

// Per statement: the last tenant checked and when.
TimestampTz checked_statement = 0;
pg_uuid_t checked_tenant;
LocalTransactionId checked_transaction = InvalidLocalTransactionId;

}  // namespace

void define_registry_settings() {
    DefineCustomBoolVariable("tenant_guard.registry",
                             "Admit only tenants registered as active in tenant_guard.tenants.",
                             "off: any tenant in a verified token is accepted. on: unknown, suspended and "
                             "offboarded tenants are refused, and a suspension ends existing contexts at their "
                             "next statement.",
                             &registry_enabled, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    // A server-start setting can only be defined while the library is preloaded; loaded later there
    // is no shared registry to size (lookups read the table).
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable("tenant_guard.registry_size",
                            "How many tenants (of all databases) the shared tenant registry holds.",
                            "Tenants beyond it are looked up in tenant_guard.tenants (slower, still correct).",
                            &registry_size, 10000, 100, 10000000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

void request_registry_shared_memory() {
    add_shared_memory_part({shared_size, "tenant_guard_registry", on_shmem_startup});
}

TenantStatus registry_status(const pg_uuid_t* tenant) { return lookup(tenant); }

void refuse_unless_active(const pg_uuid_t* tenant, bool revoke, const char* subject) {
    if (!registry_enabled || loading) return;
    const TenantStatus status = lookup(tenant);
    if (status == TenantStatus::kActive) return;
    if (revoke) revoke_context();
    struct Refusal {
        int sqlstate;
        const char* reason;
        const char* state;
    };
    const Refusal refusal = status == TenantStatus::kUnknown
                                ? Refusal{MAKE_SQLSTATE('2', '8', 'T', '0', '1'), "tenant_unknown", "not registered"}
                            : status == TenantStatus::kSuspended
                                ? Refusal{MAKE_SQLSTATE('2', '8', 'T', '0', '2'), "tenant_suspended", "suspended"}
                                : Refusal{MAKE_SQLSTATE('2', '8', 'T', '0', '3'), "tenant_offboarded", "offboarded"};
    const char* tenant_text = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(tenant))));
    const char* message = psprintf("tenant %s is %s", tenant_text, refusal.state);
    SecurityEventReport event;
    event.kind = kEventContextRefused;
    event.reason = refusal.reason;
    event.tenant = tenant;
    event.tenant_verified = true;
    event.subject = subject;
    event.sqlstate = refusal.sqlstate;
    event.message = message;
    (void)record_security_event(event);
    tenant_refused(tenant);
    ereport(ERROR, (errcode(refusal.sqlstate), errmsg("%s", message),
                    status == TenantStatus::kUnknown
                        ? errhint("tenant_guard.registry is on: register it with tenant_guard.create_tenant().")
                        : 0,
                    errhidestmt(true)));
}

void check_context_tenant(const pg_uuid_t* tenant) {
    if (!registry_enabled || loading || IsParallelWorker()) return;
    const TimestampTz statement = GetCurrentStatementStartTimestamp();
    if (statement == checked_statement && MyProc != nullptr && TG_MY_LOCAL_XID() == checked_transaction &&
        memcmp(&checked_tenant, tenant, sizeof(pg_uuid_t)) == 0)
        return;
    refuse_unless_active(tenant, false, context_subject());
    checked_statement = statement;
    checked_transaction = MyProc != nullptr ? TG_MY_LOCAL_XID() : InvalidLocalTransactionId;
    checked_tenant = *tenant;
}

void registry_transaction_ended(bool committed) {
    if (committed && shared != nullptr && (pending_count > 0 || pending_reload)) {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        LoadedDatabase* slot = database_slot(MyDatabaseId, false);
        if (slot != nullptr) {
            slot->generation++;
            if (pending_reload) {
                slot->loaded = false;
            } else if (slot->loaded) {
                for (int i = 0; i < pending_count; i++) {
                    RegistryKey key = {MyDatabaseId, pending[i].tenant};
                    if (pending[i].status == 'd') {
                        hash_search(entries, &key, HASH_REMOVE, nullptr);
                        continue;
                    }
                    auto* entry = enter_bounded(&key);
                    if (entry == nullptr)
                        slot->overflowed = true;
                    else
                        entry->status = pending[i].status;
                }
            }
        }
        LWLockRelease(shared->lock);
    }
    forget_pending();
}

void registry_before_prepare() {
    if (pending_count > 0 || pending_reload)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot prepare a transaction that changed the tenant registry"),
                        errdetail("Registry changes are published when the transaction commits in this session.")));
}

void registry_subtransaction_aborted(SubTransactionId subxid) {
    int kept = 0;
    for (int i = 0; i < pending_count; i++)
        if (pending[i].subxid < subxid) pending[kept++] = pending[i];
    pending_count = kept;
    if (pending_reload && pending_reload_subxid >= subxid) pending_reload = false;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

TG_SQL_FUNCTION(tg_registry_changed)
TG_SQL_FUNCTION(tg_uuid_v7)
TG_SQL_FUNCTION(tg_tenant_status)

extern "C" {

Datum tg_registry_changed(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("tenant_guard.registry_changed() must be called as a trigger")));
    auto* data = reinterpret_cast<TriggerData*>(fcinfo->context);
    const TriggerEvent event = data->tg_event;
    if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
        pending_reload = true;
        pending_reload_subxid = GetCurrentSubTransactionId();
        return PointerGetDatum(nullptr);
    }
    const TupleDesc descriptor = RelationGetDescr(data->tg_relation);
    const int id_column = SPI_fnumber(descriptor, "id");
    const int status_column = SPI_fnumber(descriptor, "status");
    bool is_null;
    if (TRIGGER_FIRED_BY_DELETE(event) || TRIGGER_FIRED_BY_UPDATE(event)) {
        const Datum old_id = heap_getattr(data->tg_trigtuple, id_column, descriptor, &is_null);
        if (TRIGGER_FIRED_BY_DELETE(event)) {
            remember(DatumGetUUIDP(old_id), 'd');
            return PointerGetDatum(nullptr);
        }
        const Datum new_id = heap_getattr(data->tg_newtuple, id_column, descriptor, &is_null);
        if (memcmp(DatumGetUUIDP(old_id), DatumGetUUIDP(new_id), sizeof(pg_uuid_t)) != 0)
            remember(DatumGetUUIDP(old_id), 'd');
    }
    HeapTuple row = TRIGGER_FIRED_BY_INSERT(event) ? data->tg_trigtuple : data->tg_newtuple;
    const Datum id = heap_getattr(row, id_column, descriptor, &is_null);
    const char* status = SPI_getvalue(row, descriptor, status_column);
    remember(DatumGetUUIDP(id), status_code(status));
    return PointerGetDatum(nullptr);
}

Datum tg_uuid_v7(PG_FUNCTION_ARGS) {
    std::array<unsigned char, 10> random;
    if (!pg_strong_random(random.data(), random.size()))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate random bytes")));
    const int64 unix_ms = (GetCurrentTimestamp() / 1000) + (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * 86400000LL;
    const tenant_guard::core::TenantId id = tenant_guard::core::make_uuid_v7(unix_ms, random);
    auto* result = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    memcpy(result->data, id.bytes.data(), UUID_LEN);
    PG_RETURN_UUID_P(result);
}

Datum tg_tenant_status(PG_FUNCTION_ARGS) {
    switch (registry_status(PG_GETARG_UUID_P(0))) {
        case TenantStatus::kActive: PG_RETURN_TEXT_P(cstring_to_text("active"));
        case TenantStatus::kSuspended: PG_RETURN_TEXT_P(cstring_to_text("suspended"));
        case TenantStatus::kOffboarded: PG_RETURN_TEXT_P(cstring_to_text("offboarded"));
        default: PG_RETURN_TEXT_P(cstring_to_text("unknown"));
    }
}

}  // extern "C"
