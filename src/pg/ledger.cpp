#include "ledger.hpp"

#include "../core/ledger.hpp"
#include "boundary.hpp"
#include "context.hpp"
#include "protection.hpp"

#include <cstring>

namespace tenant_guard::pg {

const pg_uuid_t kNilTenant = {{0}};

namespace {

constexpr const char kSchemaName[] = "tenant_guard";

// audit_log's columns, in the order insert_entry() fills them (found by name, so that a later
// version may add columns).
constexpr const char* kLogColumns[] = {"tenant_id",   "entry_seq", "xact_id",         "logged_at", "subject",
                                       "role_name",   "action",    "entity_type",     "entity_id", "changed_columns",
                                       "old_values",  "new_values", "entry_hash"};
constexpr int kLogColumnCount = sizeof(kLogColumns) / sizeof(kLogColumns[0]);

struct LedgerCache {
    bool valid;
    Oid log, blocks, pruned_blocks, seal_state, entry_seq;
    AttrNumber log_columns[kLogColumnCount];
};
LedgerCache cache;

bool writer_active = false;

void forget_ledger_oids(Datum, Oid) { cache.valid = false; }

const LedgerCache& ledger_cache() {
    if (cache.valid) return cache;
    LedgerCache fresh = {};
    const Oid schema = get_namespace_oid(kSchemaName, true);
    if (schema != InvalidOid && get_extension_oid("tenant_guard", true) != InvalidOid) {
        fresh.log = get_relname_relid("audit_log", schema);
        fresh.blocks = get_relname_relid("audit_blocks", schema);
        fresh.pruned_blocks = get_relname_relid("audit_pruned_blocks", schema);
        fresh.seal_state = get_relname_relid("audit_seal_state", schema);
        fresh.entry_seq = get_relname_relid("audit_entry_seq", schema);
        for (int i = 0; i < kLogColumnCount && fresh.log != InvalidOid; i++) {
            fresh.log_columns[i] = get_attnum(fresh.log, kLogColumns[i]);
            if (fresh.log_columns[i] == InvalidAttrNumber) fresh.log = InvalidOid;  // not a ledger we know
        }
    }
    fresh.valid = true;
    cache = fresh;
    return cache;
}

char* uuid_text(const pg_uuid_t* uuid) {
    return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(uuid))));
}

char* jsonb_text(Jsonb* value) {
    return value == nullptr ? nullptr : DatumGetCString(DirectFunctionCall1(jsonb_out, JsonbPGetDatum(value)));
}

Datum text_array_datum(const char* const* values, int count) {
    Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (count > 0 ? count : 1)));
    for (int i = 0; i < count; i++) elements[i] = CStringGetTextDatum(values[i]);
    return PointerGetDatum(construct_array(elements, count, TEXTOID, -1, false, TYPALIGN_INT));
}

}  // namespace

Datum digest_datum(const core::Sha256& digest) {
    bytea* result = static_cast<bytea*>(palloc(VARHDRSZ + digest.size()));
    SET_VARSIZE(result, VARHDRSZ + digest.size());
    memcpy(VARDATA(result), digest.data(), digest.size());
    return PointerGetDatum(result);
}

int64 unix_microseconds(TimestampTz ts) {
    return ts + (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

core::Sha256 compute_entry_hash(const EntryHashInput& input) {
    core::Sha256 digest{};
    CoreFailure failure;
    auto optional_text = [](const char* text) {
        return text == nullptr ? std::optional<std::string>() : std::optional<std::string>(text);
    };
    const bool ok = call_core(
        [&] {
            core::AuditEntry entry;
            entry.tenant_id = input.tenant;
            entry.entry_seq = input.entry_seq;
            entry.xact_id = input.xact_id;
            entry.logged_at_us = input.logged_at_us;
            entry.subject = optional_text(input.subject);
            entry.role_name = optional_text(input.role_name);
            entry.action = input.action ? input.action : "";
            entry.entity_type = optional_text(input.entity_type);
            entry.entity_id = optional_text(input.entity_id);
            if (input.changed_columns != nullptr)
                entry.changed_columns =
                    std::vector<std::string>(input.changed_columns, input.changed_columns + input.changed_count);
            entry.old_values = optional_text(input.old_values);
            entry.new_values = optional_text(input.new_values);
            digest = core::entry_hash(entry);
        },
        &failure);
    if (!ok) raise_core_failure(failure);
    return digest;
}

void register_ledger_cache_invalidation() { CacheRegisterRelcacheCallback(forget_ledger_oids, (Datum)0); }

LedgerTable ledger_table_of(Oid relid) {
    const LedgerCache& oids = ledger_cache();
    if (relid == InvalidOid) return LedgerTable::kNone;
    if (relid == oids.log) return LedgerTable::kLog;
    if (relid == oids.blocks) return LedgerTable::kBlocks;
    if (relid == oids.pruned_blocks) return LedgerTable::kPrunedBlocks;
    if (relid == oids.seal_state) return LedgerTable::kSealState;
    return LedgerTable::kNone;
}

bool ledger_installed() {
    const LedgerCache& oids = ledger_cache();
    return oids.log != InvalidOid && oids.blocks != InvalidOid && oids.pruned_blocks != InvalidOid &&
           oids.seal_state != InvalidOid && oids.entry_seq != InvalidOid;
}

bool ledger_write_in_progress() { return writer_active; }

struct WriterCall {
    void (*body)(void* arg);
    void* arg;
};

void run_writer_body(void* arg) {
    const auto* call = static_cast<const WriterCall*>(arg);
    const bool saved_active = writer_active;
    PG_TRY();
    {
        writer_active = true;
        call->body(call->arg);
    }
    PG_FINALLY();
    {
        writer_active = saved_active;
    }
    PG_END_TRY();
}

void run_as_ledger_writer(void (*body)(void* arg), void* arg) {
    if (!ledger_installed())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the tenant_guard audit ledger is not installed in this database"),
                        errhint("ALTER EXTENSION tenant_guard UPDATE")));
    WriterCall call = {body, arg};
    run_as_relation_owner(ledger_cache().log, run_writer_body, &call);
}

void run_as_relation_owner(Oid relid, void (*body)(void* arg), void* arg) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "tenant_guard: relation %u is missing", relid);
    const Oid owner = ((Form_pg_class)GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    PG_TRY();
    {
        SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
        body(arg);
    }
    PG_FINALLY();
    {
        SetUserIdAndSecContext(saved_user, saved_context);
    }
    PG_END_TRY();
}

void insert_entry(const EntryDraft* draft, const char* role_name) {
    const LedgerCache& oids = ledger_cache();
    if (!ledger_installed())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the tenant_guard audit ledger is not installed in this database"),
                        errhint("ALTER EXTENSION tenant_guard UPDATE")));
    const int64 entry_seq = nextval_internal(oids.entry_seq, false);
    const FullTransactionId xact = GetTopFullTransactionId();
    const TimestampTz logged_at = GetCurrentTransactionStartTimestamp();
    const char* subject = context_subject();
    char* old_text = jsonb_text(draft->old_values);
    char* new_text = jsonb_text(draft->new_values);

    EntryHashInput input = {uuid_text(&draft->tenant), entry_seq,          U64FromFullTransactionId(xact),
                       unix_microseconds(logged_at), subject,         role_name,
                       draft->action,                draft->entity_type, draft->entity_id,
                       draft->changed_columns,       draft->changed_count, old_text,
                       new_text};
    const core::Sha256 digest = compute_entry_hash(input);

    // Written directly (heap insert and index entries, as PostgreSQL writes its catalogs): no
    // executor, no permission check, no rule or trigger on the way. The ledger's guards make sure no
    // such thing exists, and this is the one place entries come from.
    Relation log = table_open(oids.log, RowExclusiveLock);
    const TupleDesc descriptor = RelationGetDescr(log);
    Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * descriptor->natts));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * descriptor->natts));
    for (int i = 0; i < descriptor->natts; i++) nulls[i] = true;
    auto set = [&](int column, Datum value) {
        const int index = oids.log_columns[column] - 1;
        values[index] = value;
        nulls[index] = false;
    };
    auto set_text = [&](int column, const char* value) {
        if (value != nullptr) set(column, CStringGetTextDatum(value));
    };
    set(0, UUIDPGetDatum(const_cast<pg_uuid_t*>(&draft->tenant)));
    set(1, Int64GetDatum(entry_seq));
    set(2, FullTransactionIdGetDatum(xact));
    set(3, TimestampTzGetDatum(logged_at));
    set_text(4, subject);
    set_text(5, role_name);
    set_text(6, draft->action);
    set_text(7, draft->entity_type);
    set_text(8, draft->entity_id);
    if (draft->changed_columns != nullptr) set(9, text_array_datum(draft->changed_columns, draft->changed_count));
    if (draft->old_values != nullptr) set(10, JsonbPGetDatum(draft->old_values));
    if (draft->new_values != nullptr) set(11, JsonbPGetDatum(draft->new_values));
    set(12, digest_datum(digest));
    HeapTuple tuple = heap_form_tuple(descriptor, values, nulls);
    CatalogTupleInsert(log, tuple);
    table_close(log, NoLock);
}

void record_system_entry(const char* action, const char* entity_type, Jsonb* details) {
    EntryDraft draft = {};
    draft.tenant = kNilTenant;
    draft.action = action;
    draft.entity_type = entity_type;
    draft.new_values = details;
    insert_entry(&draft, GetUserNameFromId(GetUserId(), false));
}

char* ledger_entity_name(Oid relid) { return qualified_relation_name(relid); }

}  // namespace tenant_guard::pg
