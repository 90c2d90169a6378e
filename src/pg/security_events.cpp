// The security-event queue: a fixed array of slots in shared memory (tenant_guard.
// security_events_queue_size), one lock. A backend fills a free slot and wakes its database's
// worker; with no free slot the event is dropped and counted (events_dropped): a refusal never
// waits. The worker claims its database's ready slots oldest first, inserts them in one
// transaction, and frees them only after the commit, so an event is either stored or still queued
// (a worker that fails gives its claimed slots back; a crash of the server empties the queue, as it
// does every shared-memory structure, and loses only events not yet stored).
//
// PostgreSQL-style code (LWLocks, SPI, ereport): no C++ object with a destructor outside call_core().
#include "security_events.hpp"

#include "../core/security_event.hpp"
#include "boundary.hpp"
#include "context.hpp"
#include "database_worker.hpp"
#include "postgres.hpp"
#include "shared_memory.hpp"
#include "protection.hpp"
#include "statistics.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

enum SlotState : int32 { kFree = 0, kReady = 1, kClaimed = 2 };

struct EventSlot {
    uint64 sequence;
    Oid database;
    int32 state;
    pid_t claimed_by;
    TimestampTz occurred_at;
    int32 backend_pid;
    Oid role;
    bool has_tenant;
    bool tenant_verified;
    pg_uuid_t tenant;
    char sqlstate[6];
    char kind[32];
    char reason[160];
    char subject[core::kMaxEventSubjectBytes + 1];
    char application_name[NAMEDATALEN];
    char client_addr[64];
    char object[2 * NAMEDATALEN + 8];
    char route[48];
    char message[256];
};

struct EventQueue {
    LWLock* lock;
    uint64 next_sequence;
    int capacity;
    int free_count;
    int cursor;  // where the search for a free slot starts
    EventSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

EventQueue* queue = nullptr;
int queue_size = 1024;
int retention_minutes = 90 * 24 * 60;
int security_events_rate = 100;
ExecutorRun_hook_type previous_run = nullptr;

Size queue_bytes() { return add_size(offsetof(EventQueue, slots), mul_size(sizeof(EventSlot), queue_size)); }

void on_shmem_startup() {
    bool found;
    queue = static_cast<EventQueue*>(ShmemInitStruct("tenant_guard security events", queue_bytes(), &found));
    if (!found) {
        memset(queue, 0, queue_bytes());
        queue->lock = &(GetNamedLWLockTranche("tenant_guard_security_events"))->lock;
        queue->capacity = queue_size;
        queue->free_count = queue_size;
    }
}

void copy_text(char* target, size_t size, const char* source) {
    if (source == nullptr) {
        target[0] = '\0';
        return;
    }
    // Cut on a character boundary: the worker stores these as text.
    const size_t length = strlen(source);
    const size_t keep = length < size ? length : static_cast<size_t>(pg_mbcliplen(source, static_cast<int>(length), static_cast<int>(size - 1)));
    memcpy(target, source, keep);
    target[keep] = '\0';
}

// The client's address as text, once per backend; empty for Unix-socket connections.
// (inet_client_addr() spares us libpq-be.h, whose GSSAPI include is not installed everywhere.)
const char* client_address() {
    static bool known = false;
    static char address[64];
    if (known) return address;
    known = true;
    address[0] = '\0';
    LOCAL_FCINFO(call, 0);
    InitFunctionCallInfoData(*call, nullptr, 0, InvalidOid, nullptr, nullptr);
    const Datum inet = inet_client_addr(call);
    if (!call->isnull) strlcpy(address, DatumGetCString(DirectFunctionCall1(inet_out, inet)), sizeof(address));
    return address;
}

// Not every backend that refuses something is in a database with tenant_guard 0.5 (the library is
// preloaded cluster-wide): only queue events someone will store, or a database without the table
// would fill the cluster's queue.
bool database_stores_events() {
    if (!IsTransactionState()) return true;  // cannot look; the worker discards what it cannot store
    // A template would get a worker, and CREATE DATABASE from it would then fail.
    HeapTuple database = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
    if (!HeapTupleIsValid(database)) return false;
    const bool template_database = reinterpret_cast<Form_pg_database>(GETSTRUCT(database))->datistemplate;
    ReleaseSysCache(database);
    if (template_database) return false;
    const Oid schema = get_namespace_oid("tenant_guard", true);
    return schema != InvalidOid && get_relname_relid("security_events", schema) != InvalidOid &&
           get_extension_oid("tenant_guard", true) != InvalidOid;
}

}  // namespace

namespace {

// Per-session rate limit (tenant_guard.security_events_rate): a session that refuses faster than
// that — a flood, perhaps meant to bury one real attempt — has the excess counted
// (events_suppressed) and summarised in one event, instead of filling the queue, the table and
// the log for everyone.
double rate_tokens = -1;
TimestampTz rate_refilled_at = 0;
int64 suppressed_events = 0;
bool summary_at_exit_registered = false;

bool push_event(const SecurityEventReport& event);
bool log_on_standby(const SecurityEventReport& event);

SecurityEventReport suppression_summary() {
    static char message[128];
    snprintf(message, sizeof(message),
             "%lld events of this session were not stored (over tenant_guard.security_events_rate)",
             static_cast<long long>(suppressed_events));
    SecurityEventReport summary;
    summary.kind = "events_suppressed";
    summary.reason = "rate_limit";
    summary.sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
    summary.message = message;
    return summary;
}

void summarise_at_exit(int, Datum) {
    if (suppressed_events > 0 && queue != nullptr)
        (void)(RecoveryInProgress() ? log_on_standby(suppression_summary()) : push_event(suppression_summary()));
    suppressed_events = 0;
}

bool admitted_by_rate_limit() {
    if (security_events_rate <= 0) return true;
    const TimestampTz now = GetCurrentTimestamp();
    const double burst = 10.0 * security_events_rate;
    if (rate_tokens < 0) rate_tokens = burst;
    rate_tokens += static_cast<double>(now - rate_refilled_at) / USECS_PER_SEC * security_events_rate;
    if (rate_tokens > burst) rate_tokens = burst;
    rate_refilled_at = now;
    if (rate_tokens >= 1) {
        rate_tokens -= 1;
        return true;
    }
    suppressed_events++;
    count(Counter::kEventsSuppressed);
    if (!summary_at_exit_registered) {
        before_shmem_exit(summarise_at_exit, (Datum)0);
        summary_at_exit_registered = true;
    }
    return false;
}

}  // namespace

bool record_security_event(const SecurityEventReport& event) noexcept {
    // A platform access is no refusal, and its reason is the operator's free text.
    if (strcmp(event.kind, kEventPlatformAccess) == 0)
        count(Counter::kPlatformAccesses);
    else
        count_refusal(event.kind, event.reason);
    if (queue == nullptr || MyProc == nullptr || MyDatabaseId == InvalidOid || !IsUnderPostmaster) return false;
    if (!database_stores_events()) return false;
    if (!admitted_by_rate_limit()) return false;
    // A hot standby cannot store events (and runs no worker): the log line is the record there.
    if (RecoveryInProgress()) {
        if (suppressed_events > 0) {
            (void)log_on_standby(suppression_summary());
            suppressed_events = 0;
        }
        return log_on_standby(event);
    }
    if (suppressed_events > 0) {
        (void)push_event(suppression_summary());
        suppressed_events = 0;
    }
    return push_event(event);
}

namespace {

void fill_slot(EventSlot* slot, const SecurityEventReport& event, const char* address) {
    memset(slot, 0, sizeof(EventSlot));
    slot->database = MyDatabaseId;
    slot->occurred_at = GetCurrentTimestamp();
    slot->backend_pid = MyProcPid;
    slot->role = GetUserId();
    if (event.tenant != nullptr) {
        slot->has_tenant = true;
        slot->tenant = *event.tenant;
        slot->tenant_verified = event.tenant_verified;
    }
    strlcpy(slot->sqlstate, unpack_sql_state(event.sqlstate), sizeof(slot->sqlstate));
    copy_text(slot->kind, sizeof(slot->kind), event.kind);
    copy_text(slot->reason, sizeof(slot->reason), event.reason);
    copy_text(slot->subject, sizeof(slot->subject), event.subject);
    copy_text(slot->application_name, sizeof(slot->application_name), application_name);
    copy_text(slot->client_addr, sizeof(slot->client_addr), address);
    copy_text(slot->object, sizeof(slot->object), event.object);
    copy_text(slot->route, sizeof(slot->route), event.route);
    copy_text(slot->message, sizeof(slot->message), event.message);
}

bool push_event(const SecurityEventReport& event) {
    const char* address = client_address();  // outside the lock: it may allocate
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    if (queue->free_count == 0) {
        LWLockRelease(queue->lock);
        count(Counter::kEventsDropped);
        return false;
    }
    EventSlot* slot = nullptr;
    for (int i = 0; i < queue->capacity; i++) {
        const int index = (queue->cursor + i) % queue->capacity;
        if (queue->slots[index].state == kFree) {
            slot = &queue->slots[index];
            queue->cursor = (index + 1) % queue->capacity;
            break;
        }
    }
    if (slot == nullptr) {  // cannot happen while free_count is right; never trust it blindly
        LWLockRelease(queue->lock);
        count(Counter::kEventsDropped);
        return false;
    }
    fill_slot(slot, event, address);
    slot->sequence = ++queue->next_sequence;
    slot->state = kReady;
    queue->free_count--;
    LWLockRelease(queue->lock);
    count(Counter::kEventsQueued);
    wake_database_worker(MyDatabaseId);
    return true;
}

}  // namespace

void record_refusal(const char* kind, const char* reason, int sqlstate, const char* message, const char* object,
                    const char* route) noexcept {
    SecurityEventReport event;
    event.kind = kind;
    event.reason = reason;
    event.tenant = static_cast<const pg_uuid_t*>(context_tenant());
    event.tenant_verified = event.tenant != nullptr;
    event.subject = context_subject();
    event.sqlstate = sqlstate;
    event.message = message;
    event.object = object;
    event.route = route;
    record_security_event(event);
}

// ---- WITH CHECK violations ----

namespace {

bool violation_recorded = false;  // by the innermost statement; outer ones see the same error

constexpr char kRlsViolationPrefix[] = "new row violates row-level security policy";

// The protected table a row-level security error is about: the one the (English) message names,
// else the first protected target of the statement.
Oid violated_table(const ErrorData* error, const Oid* candidates, int count) {
    Oid first = InvalidOid;
    for (int i = 0; i < count; i++) {
        if (!has_isolation_policy(candidates[i])) continue;
        if (first == InvalidOid) first = candidates[i];
        const char* name = get_rel_name(candidates[i]);
        const char* quoted = name ? psprintf("\"%s\"", name) : nullptr;
        if (quoted != nullptr && error->message != nullptr && strstr(error->message, quoted) != nullptr) return candidates[i];
    }
    return first;
}

// Called in PG_CATCH, with the error on the error stack: reads it, records, and lets it go on.
void record_if_write_violation(MemoryContext caller_context, const Oid* candidates, int count) {
    // The error left us in ErrorContext; the copy must be made elsewhere.
    MemoryContext error_context = MemoryContextSwitchTo(caller_context);
    ErrorData* error = CopyErrorData();
    if (error->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE && error->message_id != nullptr &&
        strncmp(error->message_id, kRlsViolationPrefix, sizeof(kRlsViolationPrefix) - 1) == 0) {
        const Oid relid = violated_table(error, candidates, count);
        if (relid != InvalidOid) {
            const auto* tenant = static_cast<const pg_uuid_t*>(context_tenant());
            SecurityEventReport event;
            event.kind = kEventCrossTenantWrite;
            event.reason = tenant == nullptr ? "write_without_context" : "row_of_another_tenant";
            event.tenant = tenant;
            event.tenant_verified = tenant != nullptr;
            event.subject = context_subject();
            event.sqlstate = error->sqlerrcode;
            event.message = error->message;
            event.object = qualified_relation_name(relid);
            record_security_event(event);
            tenant_refused(tenant);
            violation_recorded = true;
        }
    }
    MemoryContextSwitchTo(error_context);
}

void run_next(QueryDesc* query_desc, ScanDirection direction, uint64 count, bool execute_once) {
    if (previous_run)
        previous_run(query_desc, direction, count, execute_once);
    else
        standard_ExecutorRun(query_desc, direction, count, execute_once);
}

void run_and_record(QueryDesc* query_desc, ScanDirection direction, uint64 count, bool execute_once) {
    const PlannedStmt* statement = query_desc->plannedstmt;
    if (query_desc->operation == CMD_SELECT && !statement->hasModifyingCTE) {
        run_next(query_desc, direction, count, execute_once);
        return;
    }
    violation_recorded = false;
    MemoryContext caller_context = CurrentMemoryContext;
    PG_TRY();
    {
        run_next(query_desc, direction, count, execute_once);
    }
    PG_CATCH();
    {
        if (!violation_recorded) {
            Oid candidates[16];
            int found = 0;
            ListCell* cell;
            foreach (cell, statement->resultRelations) {
                if (found == 16) break;
                const auto* entry = rt_fetch(lfirst_int(cell), statement->rtable);
                if (entry->rtekind == RTE_RELATION) candidates[found++] = entry->relid;
            }
            record_if_write_violation(caller_context, candidates, found);
        }
        PG_RE_THROW();
    }
    PG_END_TRY();
}

}  // namespace

void forget_recorded_violation() noexcept { violation_recorded = false; }

void install_write_violation_capture() {
    previous_run = ExecutorRun_hook;
    ExecutorRun_hook = run_and_record;
}

// ---- the worker's side ----

namespace {

constexpr int kBatch = 64;

int compare_slots(const void* a, const void* b) {
    const uint64 left = static_cast<const EventSlot*>(a)->sequence;
    const uint64 right = static_cast<const EventSlot*>(b)->sequence;
    return left < right ? -1 : (left > right ? 1 : 0);
}

// Claims up to kBatch of the database's ready events, oldest first; copies them to `out`.
int claim_events(EventSlot* out, int* indexes) {
    int count = 0;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    // The oldest kBatch ready events: collect candidates, keep the smallest sequences.
    for (int i = 0; i < queue->capacity; i++) {
        const EventSlot& slot = queue->slots[i];
        if (slot.state != kReady || slot.database != MyDatabaseId) continue;
        if (count < kBatch) {
            indexes[count++] = i;
            continue;
        }
        int newest = 0;
        for (int j = 1; j < count; j++)
            if (queue->slots[indexes[j]].sequence > queue->slots[indexes[newest]].sequence) newest = j;
        if (slot.sequence < queue->slots[indexes[newest]].sequence) indexes[newest] = i;
    }
    for (int i = 0; i < count; i++) {
        queue->slots[indexes[i]].state = kClaimed;
        queue->slots[indexes[i]].claimed_by = MyProcPid;
        out[i] = queue->slots[indexes[i]];
    }
    LWLockRelease(queue->lock);
    return count;
}

void free_events(const int* indexes, int count) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    for (int i = 0; i < count; i++) {
        EventSlot& slot = queue->slots[indexes[i]];
        if (slot.state != kClaimed || slot.claimed_by != MyProcPid) continue;  // discarded meanwhile
        slot.state = kFree;
        slot.claimed_by = 0;
        queue->free_count++;
    }
    LWLockRelease(queue->lock);
}

struct EventText {
    char* detail;    // palloc'd JSON
    char* log_line;  // palloc'd JSON
};

// The detail and log line of one event: JSON built by the core, copied into palloc'd memory.
bool event_text(const EventSlot& slot, const char* role_name, const char* database, EventText* out) {
    const char* occurred_at = timestamptz_to_str(slot.occurred_at);
    const char* tenant = slot.has_tenant
                             ? DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(&slot.tenant))))
                             : nullptr;
    CoreFailure failure;
    return call_core(
        [&] {
            core::SecurityEventRecord record;
            record.occurred_at = occurred_at;
            record.database = database;
            record.kind = slot.kind;
            record.reason = slot.reason;
            if (tenant) record.tenant_id = tenant;
            record.tenant_verified = slot.tenant_verified;
            if (slot.subject[0]) record.subject = slot.subject;
            if (role_name) record.role_name = role_name;
            if (slot.application_name[0]) record.application_name = slot.application_name;
            if (slot.client_addr[0]) record.client_addr = slot.client_addr;
            record.backend_pid = slot.backend_pid;
            record.sqlstate = slot.sqlstate;
            record.message = slot.message;
            record.object = slot.object;
            record.route = slot.route;
            out->detail = pstrdup_or_throw(core::event_detail_json(record));
            out->log_line = pstrdup_or_throw(core::event_log_line(record));
        },
        &failure);
}

// On a hot standby: the same JSON line the worker logs for a stored event, written right away, and
// counted (events_logged_on_standby). Names need the catalogs: outside a transaction (a refusal at
// login) the last names seen, or the database's OID, stand in. An event whose text cannot be built
// is not recorded (false).
bool log_on_standby(const SecurityEventReport& event) {
    EventSlot slot;
    fill_slot(&slot, event, client_address());
    // Names seen in a transaction are kept for the events raised outside one (the summary of a
    // flood at disconnect). No PG_TRY here: this may run while an error is being raised, and
    // catching would swallow that error; the lookups raise nothing for a missing name.
    static char known_database[NAMEDATALEN];
    static char known_role_name[NAMEDATALEN];
    static Oid known_role = InvalidOid;
    if (IsTransactionState()) {
        if (const char* name = get_database_name(MyDatabaseId)) strlcpy(known_database, name, sizeof(known_database));
        if (const char* name = GetUserNameFromId(slot.role, true)) {
            strlcpy(known_role_name, name, sizeof(known_role_name));
            known_role = slot.role;
        }
    }
    const char* role_name = known_role == slot.role && known_role_name[0] ? known_role_name : nullptr;
    const char* database = known_database[0] ? known_database : psprintf("%u", MyDatabaseId);
    EventText text;
    if (!event_text(slot, role_name, database, &text)) return false;
    ereport(LOG, (errmsg("tenant_guard security event: %s", text.log_line), errhidestmt(true), errhidecontext(true)));
    count(Counter::kEventsLoggedOnStandby);
    return true;
}

Datum text_or_null(const char* value, bool* is_null) {
    *is_null = value == nullptr || value[0] == '\0';
    return *is_null ? Datum(0) : CStringGetTextDatum(value);
}

}  // namespace

int drain_security_events() {
    if (queue == nullptr) return 0;
    EventSlot* events = static_cast<EventSlot*>(palloc(sizeof(EventSlot) * kBatch));
    int indexes[kBatch];
    const int count = claim_events(events, indexes);
    if (count == 0) {
        pfree(events);
        return 0;
    }
    qsort(events, count, sizeof(EventSlot), compare_slots);
    char** log_lines = static_cast<char**>(palloc0(sizeof(char*) * count));
    MemoryContext worker_context = CurrentMemoryContext;

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "storing security events");
    const char* database = get_database_name(MyDatabaseId);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    Oid types[10] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, INETOID, INT4OID, JSONBOID};
    SPIPlanPtr plan = SPI_prepare(
        "INSERT INTO tenant_guard.security_events (occurred_at, kind, reason, tenant_id, subject, role_name, "
        "application_name, client_addr, backend_pid, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        10, types);
    if (plan == nullptr) elog(ERROR, "tenant_guard: could not prepare the security event insert");
    for (int i = 0; i < count; i++) {
        const EventSlot& slot = events[i];
        const char* role_name = GetUserNameFromId(slot.role, true);
        EventText text{};
        if (!event_text(slot, role_name, database ? database : "", &text))
            elog(ERROR, "tenant_guard: could not format a security event");
        Datum values[10];
        char nulls[10];
        bool is_null;
        values[0] = TimestampTzGetDatum(slot.occurred_at);
        values[1] = CStringGetTextDatum(slot.kind);
        values[2] = CStringGetTextDatum(slot.reason);
        values[3] = slot.has_tenant ? UUIDPGetDatum(const_cast<pg_uuid_t*>(&slot.tenant)) : Datum(0);
        nulls[3] = slot.has_tenant ? ' ' : 'n';
        values[4] = text_or_null(slot.subject, &is_null);
        nulls[4] = is_null ? 'n' : ' ';
        values[5] = text_or_null(role_name, &is_null);
        nulls[5] = is_null ? 'n' : ' ';
        values[6] = text_or_null(slot.application_name, &is_null);
        nulls[6] = is_null ? 'n' : ' ';
        if (slot.client_addr[0]) {
            values[7] = DirectFunctionCall1(inet_in, CStringGetDatum(slot.client_addr));
            nulls[7] = ' ';
        } else {
            values[7] = Datum(0);
            nulls[7] = 'n';
        }
        values[8] = Int32GetDatum(slot.backend_pid);
        values[9] = DirectFunctionCall1(jsonb_in, CStringGetDatum(text.detail));
        nulls[0] = nulls[1] = nulls[2] = nulls[8] = nulls[9] = ' ';
        if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "tenant_guard: could not store a security event");
        log_lines[i] = MemoryContextStrdup(worker_context, text.log_line);
    }
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    MemoryContextSwitchTo(worker_context);
    pgstat_report_activity(STATE_IDLE, nullptr);
    // Stored: now, and only now, the slots may be reused.
    free_events(indexes, count);
    tenant_guard::pg::count(Counter::kEventsRecorded, static_cast<uint64>(count));
    for (int i = 0; i < count; i++) {
        ereport(LOG, (errmsg("tenant_guard security event: %s", log_lines[i]), errhidestmt(true)));
        pfree(log_lines[i]);
    }
    pfree(log_lines);
    pfree(events);
    return count;
}

bool security_events_pending(Oid database) {
    if (queue == nullptr) return false;
    bool pending = false;
    LWLockAcquire(queue->lock, LW_SHARED);
    for (int i = 0; i < queue->capacity && !pending; i++)
        pending = queue->slots[i].state == kReady && queue->slots[i].database == database;
    LWLockRelease(queue->lock);
    return pending;
}

Oid database_with_unclaimed_events() {
    if (queue == nullptr) return InvalidOid;
    Oid database = InvalidOid;
    LWLockAcquire(queue->lock, LW_SHARED);
    for (int i = 0; i < queue->capacity && database == InvalidOid; i++)
        if (queue->slots[i].state == kReady && !database_worker_running(queue->slots[i].database))
            database = queue->slots[i].database;
    LWLockRelease(queue->lock);
    return database;
}

void release_claimed_events() {
    if (queue == nullptr) return;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    for (int i = 0; i < queue->capacity; i++)
        if (queue->slots[i].state == kClaimed && queue->slots[i].claimed_by == MyProcPid) {
            queue->slots[i].state = kReady;
            queue->slots[i].claimed_by = 0;
        }
    LWLockRelease(queue->lock);
}

void discard_security_events(Oid database) {
    if (queue == nullptr) return;
    int discarded = 0;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    // Only events nobody has claimed: a worker storing some frees them itself.
    for (int i = 0; i < queue->capacity; i++)
        if (queue->slots[i].state == kReady && queue->slots[i].database == database) {
            queue->slots[i].state = kFree;
            discarded++;
        }
    queue->free_count += discarded;
    LWLockRelease(queue->lock);
    if (discarded > 0) count(Counter::kEventsDiscarded, static_cast<uint64>(discarded));
}

int64 prune_security_events() {
    if (retention_minutes <= 0) return 0;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    Oid types[1] = {INT4OID};
    Datum values[1] = {Int32GetDatum(retention_minutes)};
    if (SPI_execute_with_args("DELETE FROM tenant_guard.security_events WHERE occurred_at "
                              "OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) "
                              "pg_catalog.make_interval(mins => $1))",
                              1, types, values, nullptr, false, 0) != SPI_OK_DELETE)
        elog(ERROR, "tenant_guard: could not prune security events");
    const int64 pruned = static_cast<int64>(SPI_processed);
    SPI_finish();
    return pruned;
}

void define_security_event_settings() {
    DefineCustomIntVariable("tenant_guard.security_events_retention",
                            "How long tenant_guard.security_events keeps an event; 0 keeps them forever.",
                            "The database's background worker deletes older events.", &retention_minutes,
                            90 * 24 * 60, 0, INT_MAX / 2, PGC_SIGHUP, GUC_UNIT_MIN, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("tenant_guard.security_events_rate",
                            "Security events one session may record per second (bursts of ten times as many); 0: no limit.",
                            "The excess is counted (events_suppressed) and summarised in one events_suppressed event.",
                            &security_events_rate, 100, 0, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable("tenant_guard.security_events_queue_size",
                            "How many security events the shared queue holds before new ones are dropped.",
                            "A dropped event is counted in tenant_guard.stats (events_dropped).", &queue_size, 1024, 1,
                            1 << 20, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

void request_security_event_shared_memory() {
    add_shared_memory_part({queue_bytes, "tenant_guard_security_events", on_shmem_startup});
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_prune_security_events)

Datum tg_prune_security_events(PG_FUNCTION_ARGS) { PG_RETURN_INT64(prune_security_events()); }

}  // extern "C"
