// Sealing, pruning and verifying the audit ledger.
//
// Which entries a block holds is defined by transaction ids, not by a list: block k of a tenant
// holds that tenant's entries with xact_lo <= xact_id < xact_hi. The sealer takes as its horizon
// the xmin of a fresh snapshot: every transaction below it has ended, so no entry with a smaller
// xact_id can appear later, and the block is final. Writers never touch a shared lock; only sealers
// serialise, on the audit_seal_state row. A transaction that stays open holds the horizon back
// (like it holds back VACUUM), and its entries are sealed when it ends.
//
// PostgreSQL-style code (SPI, ereport): C++ is used only inside call_core().
#include "ledger_seal.hpp"

#include "../core/ledger.hpp"
#include "boundary.hpp"
#include "ledger.hpp"
#include "postgres.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

using core::Sha256;

uint64 xid8_from_text(const char* text) { return text == nullptr ? 0 : strtoull(text, nullptr, 10); }


// NULL (only possible after tampering) reads as all zeroes, which no real hash matches.
Sha256 digest_of(Datum value, bool is_null) {
    Sha256 digest{};
    if (is_null) return digest;
    bytea* bytes = DatumGetByteaPP(value);
    if (VARSIZE_ANY_EXHDR(bytes) == digest.size()) memcpy(digest.data(), VARDATA_ANY(bytes), digest.size());
    return digest;
}

Sha256 digest_column(HeapTuple row, TupleDesc descriptor, int column) {
    bool is_null;
    const Datum value = SPI_getbinval(row, descriptor, column, &is_null);
    return digest_of(value, is_null);
}

bool digest_datum_valid(Datum value, bool is_null) {
    return !is_null && VARSIZE_ANY_EXHDR(DatumGetByteaPP(value)) == sizeof(Sha256);
}

// Leaves of the block being built or checked: a palloc'd, growing array.
struct Leaves {
    Sha256* items;
    int64 count;
    int64 capacity;
};

void add_leaf(Leaves* leaves, const Sha256& leaf) {
    if (leaves->count == leaves->capacity) {
        leaves->capacity = leaves->capacity == 0 ? 256 : leaves->capacity * 2;
        const Size bytes = sizeof(Sha256) * leaves->capacity;
        leaves->items = static_cast<Sha256*>(leaves->items ? repalloc_huge(leaves->items, bytes)
                                                             : MemoryContextAllocHuge(CurrentMemoryContext, bytes));
    }
    leaves->items[leaves->count++] = leaf;
}

Sha256 root_of(const Leaves* leaves) {
    Sha256 root{};
    CoreFailure failure;
    if (!call_core([&] { root = core::merkle_root(std::vector<Sha256>(leaves->items, leaves->items + leaves->count)); },
                   &failure))
        raise_core_failure(failure);
    return root;
}

struct BlockFields {
    const char* tenant;
    int64 block_no;
    uint64 xact_lo, xact_hi;
    int64 entry_count;
    Sha256 merkle_root;
    bool has_prev;
    Sha256 prev_hash;
    TimestampTz sealed_at;
};

Sha256 hash_of_block(const BlockFields& fields) {
    Sha256 digest{};
    CoreFailure failure;
    const bool ok = call_core(
        [&] {
            core::AuditBlock block;
            block.tenant_id = fields.tenant;
            block.block_no = fields.block_no;
            block.xact_lo = fields.xact_lo;
            block.xact_hi = fields.xact_hi;
            block.entry_count = fields.entry_count;
            block.merkle_root = fields.merkle_root;
            if (fields.has_prev) block.prev_hash = fields.prev_hash;
            block.sealed_at_us = unix_microseconds(fields.sealed_at);
            digest = core::block_hash(block);
        },
        &failure);
    if (!ok) raise_core_failure(failure);
    return digest;
}

// The newest block of a tenant's chain, pruned or not.
struct ChainEnd {
    bool exists;
    int64 block_no;
    Sha256 block_hash;
    uint64 xact_hi;
};

ChainEnd chain_end(const char* tenant) {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(tenant)};
    const int result = SPI_execute_with_args(
        "SELECT block_no, block_hash, xact_hi::pg_catalog.text FROM ("
        " SELECT block_no, block_hash, xact_hi FROM tenant_guard.audit_blocks"
        "  WHERE tenant_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
        " UNION ALL"
        " SELECT block_no, block_hash, xact_hi FROM tenant_guard.audit_pruned_blocks"
        "  WHERE tenant_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
        ") b ORDER BY block_no DESC LIMIT 1",
        1, types, values, nullptr, false, 1);
    if (result != SPI_OK_SELECT) elog(ERROR, "tenant_guard: reading the chain end failed");
    ChainEnd end = {};
    if (SPI_processed == 0) return end;
    bool is_null;
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    end.exists = true;
    end.block_no = DatumGetInt64(SPI_getbinval(row, descriptor, 1, &is_null));
    end.block_hash = digest_column(row, descriptor, 2);
    end.xact_hi = xid8_from_text(SPI_getvalue(row, descriptor, 3));
    return end;
}

void write_block(const char* tenant, const Leaves* leaves, uint64 horizon, TimestampTz sealed_at) {
    const ChainEnd end = chain_end(tenant);
    BlockFields block = {};
    block.tenant = tenant;
    block.block_no = end.exists ? end.block_no + 1 : 1;
    block.xact_lo = end.exists ? end.xact_hi : 0;
    block.xact_hi = horizon;
    block.entry_count = leaves->count;
    block.merkle_root = root_of(leaves);
    block.has_prev = end.exists;
    block.prev_hash = end.block_hash;
    block.sealed_at = sealed_at;
    const Sha256 hash = hash_of_block(block);

    Oid types[9] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, INT8OID, BYTEAOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID};
    Datum values[9] = {CStringGetTextDatum(tenant),
                       Int64GetDatum(block.block_no),
                       CStringGetTextDatum(psprintf(UINT64_FORMAT, block.xact_lo)),
                       CStringGetTextDatum(psprintf(UINT64_FORMAT, block.xact_hi)),
                       Int64GetDatum(block.entry_count),
                       digest_datum(block.merkle_root),
                       block.has_prev ? digest_datum(block.prev_hash) : (Datum)0,
                       digest_datum(hash),
                       TimestampTzGetDatum(sealed_at)};
    char nulls[9];
    memset(nulls, ' ', sizeof(nulls));
    if (!block.has_prev) nulls[6] = 'n';
    const int result = SPI_execute_with_args(
        "INSERT INTO tenant_guard.audit_blocks (tenant_id, block_no, xact_lo, xact_hi, entry_count, merkle_root, "
        "prev_hash, block_hash, sealed_at) VALUES ($1::pg_catalog.uuid, $2, $3::pg_catalog.xid8, $4::pg_catalog.xid8, "
        "$5, $6, $7, $8, $9)",
        9, types, values, nulls, false, 0);
    if (result != SPI_OK_INSERT) elog(ERROR, "tenant_guard: writing an audit block failed");
}

struct SealResult {
    int64 blocks;
};

void seal_body(void* arg) {
    auto* outcome = static_cast<SealResult*>(arg);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    // A test first, without a lock (which would write): is any finished entry still open?
    int result = SPI_execute(
        "WITH RECURSIVE tenants(t) AS ("
        "   SELECT (SELECT l.tenant_id FROM tenant_guard.audit_log l ORDER BY l.tenant_id LIMIT 1)"
        " UNION ALL"
        "   SELECT (SELECT l.tenant_id FROM tenant_guard.audit_log l"
        "            WHERE l.tenant_id OPERATOR(pg_catalog.>) tenants.t ORDER BY l.tenant_id LIMIT 1)"
        "     FROM tenants WHERE tenants.t IS NOT NULL),"
        " horizon AS (SELECT s.sealed_below AS low,"
        "                    pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) AS high"
        "               FROM tenant_guard.audit_seal_state s)"
        " SELECT EXISTS (SELECT FROM tenants, horizon h"
        "                 WHERE h.low OPERATOR(pg_catalog.<) h.high AND EXISTS ("
        "                       SELECT FROM tenant_guard.audit_log l"
        "                        WHERE l.tenant_id OPERATOR(pg_catalog.=) tenants.t"
        "                          AND l.xact_id OPERATOR(pg_catalog.>=) h.low"
        "                          AND l.xact_id OPERATOR(pg_catalog.<) h.high))",
        false, 1);
    bool is_null;
    if (result != SPI_OK_SELECT || SPI_processed != 1 ||
        !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null))) {
        SPI_finish();
        return;
    }
    result = SPI_execute("SELECT sealed_below::pg_catalog.text FROM tenant_guard.audit_seal_state FOR UPDATE", false, 1);
    if (result != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "tenant_guard: audit_seal_state has no row");
    const uint64 sealed_below = xid8_from_text(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    result = SPI_execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::pg_catalog.text", false, 1);
    const uint64 horizon = xid8_from_text(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    if (horizon <= sealed_below) {
        SPI_finish();
        return;
    }
    const TimestampTz sealed_at = GetCurrentTimestamp();
    Oid types[2] = {TEXTOID, TEXTOID};
    Datum values[2] = {CStringGetTextDatum(psprintf(UINT64_FORMAT, sealed_below)),
                       CStringGetTextDatum(psprintf(UINT64_FORMAT, horizon))};
    // The tenants one index descent each (a skip scan), then each tenant's new range of its trail.
    SPIPlanPtr plan = SPI_prepare(
        "WITH RECURSIVE tenants(t) AS ("
        "   SELECT (SELECT l.tenant_id FROM tenant_guard.audit_log l ORDER BY l.tenant_id LIMIT 1)"
        " UNION ALL"
        "   SELECT (SELECT l.tenant_id FROM tenant_guard.audit_log l"
        "            WHERE l.tenant_id OPERATOR(pg_catalog.>) tenants.t ORDER BY l.tenant_id LIMIT 1)"
        "     FROM tenants WHERE tenants.t IS NOT NULL)"
        " SELECT e.tenant_id::pg_catalog.text, e.entry_hash FROM tenants,"
        "   LATERAL (SELECT l.tenant_id, l.entry_hash, l.xact_id, l.entry_seq FROM tenant_guard.audit_log l"
        "             WHERE l.tenant_id OPERATOR(pg_catalog.=) tenants.t"
        "               AND l.xact_id OPERATOR(pg_catalog.>=) $1::pg_catalog.xid8"
        "               AND l.xact_id OPERATOR(pg_catalog.<) $2::pg_catalog.xid8"
        "             ORDER BY l.xact_id, l.entry_seq) e"
        " ORDER BY e.tenant_id, e.xact_id, e.entry_seq",
        2, types);
    // read_only = false: a snapshot taken now, after the horizon, so every entry below it is visible
    // (the transaction's older snapshot could miss entries committed in between).
    Portal cursor = SPI_cursor_open(nullptr, plan, values, nullptr, false);
    char* tenant = nullptr;
    Leaves leaves = {};
    for (;;) {
        SPI_cursor_fetch(cursor, true, 10000);
        SPITupleTable* batch = SPI_tuptable;
        const uint64 rows = SPI_processed;
        if (rows == 0) break;
        for (uint64 i = 0; i < rows; i++) {
            char* row_tenant = SPI_getvalue(batch->vals[i], batch->tupdesc, 1);
            if (tenant != nullptr && strcmp(tenant, row_tenant) != 0) {
                write_block(tenant, &leaves, horizon, sealed_at);
                outcome->blocks++;
                leaves.count = 0;
            }
            tenant = row_tenant;
            add_leaf(&leaves, digest_column(batch->vals[i], batch->tupdesc, 2));
        }
        SPI_freetuptable(batch);
    }
    SPI_cursor_close(cursor);
    if (tenant != nullptr) {
        write_block(tenant, &leaves, horizon, sealed_at);
        outcome->blocks++;
    }
    Datum state[2] = {CStringGetTextDatum(psprintf(UINT64_FORMAT, horizon)), TimestampTzGetDatum(sealed_at)};
    Oid state_types[2] = {TEXTOID, TIMESTAMPTZOID};
    result = SPI_execute_with_args(
        "UPDATE tenant_guard.audit_seal_state SET sealed_below = $1::pg_catalog.xid8, sealed_at = $2", 2, state_types,
        state, nullptr, false, 0);
    if (result != SPI_OK_UPDATE) elog(ERROR, "tenant_guard: updating audit_seal_state failed");
    SPI_finish();
}

// ---- pruning ----

struct PruneRequest {
    TimestampTz before;
    int64 blocks;
};

void prune_body(void* arg) {
    auto* request = static_cast<PruneRequest*>(arg);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    if (SPI_execute("SELECT FROM tenant_guard.audit_seal_state FOR UPDATE", false, 0) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: locking audit_seal_state failed");
    Oid types[1] = {TIMESTAMPTZOID};
    Datum values[1] = {TimestampTzGetDatum(request->before)};
    int result = SPI_execute_with_args(
        "INSERT INTO tenant_guard.audit_pruned_blocks (tenant_id, block_no, xact_lo, xact_hi, entry_count, "
        "merkle_root, prev_hash, block_hash, sealed_at, pruned_at) "
        "SELECT tenant_id, block_no, xact_lo, xact_hi, entry_count, merkle_root, prev_hash, block_hash, sealed_at, "
        "pg_catalog.now() FROM tenant_guard.audit_blocks WHERE sealed_at OPERATOR(pg_catalog.<) $1",
        1, types, values, nullptr, false, 0);
    if (result != SPI_OK_INSERT) elog(ERROR, "tenant_guard: keeping pruned block headers failed");
    request->blocks = (int64)SPI_processed;
    result = SPI_execute_with_args(
        "DELETE FROM tenant_guard.audit_log l USING tenant_guard.audit_blocks b"
        " WHERE b.sealed_at OPERATOR(pg_catalog.<) $1 AND l.tenant_id OPERATOR(pg_catalog.=) b.tenant_id"
        "   AND l.xact_id OPERATOR(pg_catalog.>=) b.xact_lo AND l.xact_id OPERATOR(pg_catalog.<) b.xact_hi",
        1, types, values, nullptr, false, 0);
    if (result != SPI_OK_DELETE) elog(ERROR, "tenant_guard: pruning entries failed");
    result = SPI_execute_with_args("DELETE FROM tenant_guard.audit_blocks WHERE sealed_at OPERATOR(pg_catalog.<) $1", 1, types, values,
                                   nullptr, false, 0);
    if (result != SPI_OK_DELETE) elog(ERROR, "tenant_guard: pruning blocks failed");
    SPI_finish();
}

// ---- verification ----

struct ProblemSink {
    Tuplestorestate* store;
    TupleDesc descriptor;
};

void report(ProblemSink* sink, const char* tenant, const char* problem, const char* detail) {
    Datum values[3];
    bool nulls[3] = {tenant == nullptr, false, detail == nullptr};
    values[0] = tenant ? DirectFunctionCall1(uuid_in, CStringGetDatum(tenant)) : (Datum)0;
    values[1] = CStringGetTextDatum(problem);
    values[2] = detail ? CStringGetTextDatum(detail) : (Datum)0;
    tuplestore_putvalues(sink->store, sink->descriptor, values, nulls);
}

// A cursor read one row at a time, in batches.
struct RowStream {
    Portal portal;
    SPITupleTable* batch;
    uint64 rows;
    uint64 next;
};

HeapTuple peek(RowStream* stream) {
    if (stream->batch != nullptr && stream->next < stream->rows) return stream->batch->vals[stream->next];
    if (stream->batch != nullptr) SPI_freetuptable(stream->batch);
    SPI_cursor_fetch(stream->portal, true, 1000);
    stream->batch = SPI_tuptable;
    stream->rows = SPI_processed;
    stream->next = 0;
    return stream->rows > 0 ? stream->batch->vals[0] : nullptr;
}

RowStream open_stream(const char* sql, const char* tenant) {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(tenant)};
    SPIPlanPtr plan = SPI_prepare(sql, 1, types);
    if (plan == nullptr) elog(ERROR, "tenant_guard: preparing verification failed");
    RowStream stream = {SPI_cursor_open(nullptr, plan, values, nullptr, true), nullptr, 0, 0};
    return stream;
}

struct EntryCheck {
    uint64 xact_id;
    int64 entry_seq;
    bool hash_ok;
    Sha256 stored_hash;
};

const char* nullable_text(HeapTuple row, TupleDesc descriptor, int column) {
    return SPI_getvalue(row, descriptor, column);  // NULL for SQL NULL
}

// Recomputes the hash of the entry row (columns as selected in verify_tenant()).
EntryCheck check_entry(HeapTuple row, TupleDesc descriptor, const char* tenant) {
    EntryCheck check = {};
    bool is_null;
    check.entry_seq = DatumGetInt64(SPI_getbinval(row, descriptor, 1, &is_null));
    check.xact_id = xid8_from_text(SPI_getvalue(row, descriptor, 2));
    const TimestampTz logged_at = DatumGetTimestampTz(SPI_getbinval(row, descriptor, 3, &is_null));
    const char* subject = nullable_text(row, descriptor, 4);
    const char* role_name = nullable_text(row, descriptor, 5);
    const char* action = nullable_text(row, descriptor, 6);
    const char* entity_type = nullable_text(row, descriptor, 7);
    const char* entity_id = nullable_text(row, descriptor, 8);
    const Datum changed_datum = SPI_getbinval(row, descriptor, 9, &is_null);
    const bool changed_null = is_null;
    const char** changed = nullptr;
    int changed_count = 0;
    bool has_null_column = false;
    if (!changed_null) {
        Datum* elements;
        bool* nulls;
        deconstruct_array(DatumGetArrayTypeP(changed_datum), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls,
                          &changed_count);
        changed = static_cast<const char**>(palloc(sizeof(char*) * (changed_count > 0 ? changed_count : 1)));
        for (int i = 0; i < changed_count; i++) {
            changed[i] = nulls[i] ? "" : TextDatumGetCString(elements[i]);
            has_null_column |= nulls[i];  // never written: the encoding has no NULL list item
        }
    }
    const char* old_values = nullable_text(row, descriptor, 10);
    const char* new_values = nullable_text(row, descriptor, 11);
    const Datum stored = SPI_getbinval(row, descriptor, 12, &is_null);
    const bool stored_null = is_null;
    check.stored_hash = digest_of(stored, stored_null);
    EntryHashInput input = {tenant,      check.entry_seq, check.xact_id, unix_microseconds(logged_at),
                             subject,     role_name,       action,        entity_type,
                             entity_id,   changed_null ? nullptr : changed,   changed_count,
                             old_values,  new_values};
    const Sha256 computed = compute_entry_hash(input);
    check.hash_ok = !has_null_column && digest_datum_valid(stored, stored_null) &&
                    core::digests_equal(computed, check.stored_hash);
    return check;
}

// What prune_audit() has recorded: every pruned block must have been sealed before the `before` of
// some PRUNE_AUDIT entry that still exists. Checked only for callers who can read those entries (the
// nil tenant's, auditors and superusers).
struct PruneRecord {
    bool checked;
    int64 before_us;  // INT64_MIN when no prune is recorded
};

void verify_tenant(ProblemSink* sink, const char* tenant, uint64 sealed_below, PruneRecord prunes,
                   MemoryContext row_context) {
    RowStream blocks = open_stream(
        "SELECT block_no, xact_lo::pg_catalog.text, xact_hi::pg_catalog.text, entry_count, merkle_root, prev_hash, "
        "block_hash, sealed_at, pruned FROM ("
        " SELECT *, false AS pruned FROM tenant_guard.audit_blocks WHERE tenant_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
        " UNION ALL"
        " SELECT tenant_id, block_no, xact_lo, xact_hi, entry_count, merkle_root, prev_hash, block_hash, sealed_at, true"
        " FROM tenant_guard.audit_pruned_blocks WHERE tenant_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
        ") b ORDER BY block_no",
        tenant);
    RowStream entries = open_stream(
        "SELECT entry_seq, xact_id::pg_catalog.text, logged_at, subject, role_name, action, entity_type, entity_id, "
        "changed_columns, old_values::pg_catalog.text, new_values::pg_catalog.text, entry_hash "
        "FROM tenant_guard.audit_log l WHERE l.tenant_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
        " ORDER BY l.xact_id, l.entry_seq",
        tenant);
    bool has_previous = false;
    bool seen_live_block = false;
    int64 previous_no = 0;
    uint64 previous_hi = 0;
    Sha256 previous_hash{};
    Leaves leaves = {};
    bool is_null;
    for (HeapTuple block_row; (block_row = peek(&blocks)) != nullptr; blocks.next++) {
        TupleDesc bd = blocks.batch->tupdesc;
        BlockFields block = {};
        block.tenant = tenant;
        block.block_no = DatumGetInt64(SPI_getbinval(block_row, bd, 1, &is_null));
        block.xact_lo = xid8_from_text(SPI_getvalue(block_row, bd, 2));
        block.xact_hi = xid8_from_text(SPI_getvalue(block_row, bd, 3));
        block.entry_count = DatumGetInt64(SPI_getbinval(block_row, bd, 4, &is_null));
        block.merkle_root = digest_column(block_row, bd, 5);
        const Datum prev = SPI_getbinval(block_row, bd, 6, &is_null);
        block.has_prev = !is_null;
        if (block.has_prev) block.prev_hash = digest_of(prev, false);
        const Sha256 stored_hash = digest_column(block_row, bd, 7);
        block.sealed_at = DatumGetTimestampTz(SPI_getbinval(block_row, bd, 8, &is_null));
        const bool pruned = DatumGetBool(SPI_getbinval(block_row, bd, 9, &is_null));
        // prune_audit() removes a prefix of the chain, and records it.
        if (pruned && seen_live_block)
            report(sink, tenant, "pruned_out_of_order",
                   psprintf("block %lld is marked pruned, but a block before it is not", (long long)block.block_no));
        if (pruned && prunes.checked && unix_microseconds(block.sealed_at) >= prunes.before_us)
            report(sink, tenant, "unrecorded_prune",
                   psprintf("block %lld is marked pruned, but no PRUNE_AUDIT entry covers it", (long long)block.block_no));
        if (!pruned) seen_live_block = true;
        const int64 expected_no = has_previous ? previous_no + 1 : 1;
        if (block.block_no != expected_no)
            report(sink, tenant, "block_missing",
                   psprintf("expected block %lld, found block %lld", (long long)expected_no, (long long)block.block_no));
        if (block.has_prev != has_previous || (has_previous && !core::digests_equal(block.prev_hash, previous_hash)))
            report(sink, tenant, "chain_broken",
                   psprintf("block %lld does not link to the block before it", (long long)block.block_no));
        if (block.xact_lo != (has_previous ? previous_hi : 0) || block.xact_hi <= block.xact_lo)
            report(sink, tenant, "block_range",
                   psprintf("block %lld covers transactions " UINT64_FORMAT " to " UINT64_FORMAT ", not contiguous with "
                            "the block before it", (long long)block.block_no, block.xact_lo, block.xact_hi));
        if (!core::digests_equal(hash_of_block(block), stored_hash))
            report(sink, tenant, "block_hash", psprintf("block %lld: its hash does not match its contents",
                                                        (long long)block.block_no));
        leaves.count = 0;
        for (HeapTuple entry_row; (entry_row = peek(&entries)) != nullptr; entries.next++) {
            MemoryContext caller = MemoryContextSwitchTo(row_context);
            const EntryCheck check = check_entry(entry_row, entries.batch->tupdesc, tenant);
            MemoryContextSwitchTo(caller);
            MemoryContextReset(row_context);
            if (check.xact_id >= block.xact_hi) break;
            if (!check.hash_ok)
                report(sink, tenant, "entry_hash", psprintf("entry %lld (transaction " UINT64_FORMAT ") was changed",
                                                            (long long)check.entry_seq, check.xact_id));
            if (pruned)
                report(sink, tenant, "pruned_entry", psprintf("entry %lld lies in pruned block %lld",
                                                              (long long)check.entry_seq, (long long)block.block_no));
            else
                add_leaf(&leaves, check.stored_hash);
        }
        if (!pruned && (leaves.count != block.entry_count || !core::digests_equal(root_of(&leaves), block.merkle_root)))
            report(sink, tenant, "merkle_root",
                   psprintf("block %lld: its %lld entries do not match the sealed Merkle root (sealed with %lld)",
                            (long long)block.block_no, (long long)leaves.count, (long long)block.entry_count));
        has_previous = true;
        previous_no = block.block_no;
        previous_hi = block.xact_hi;
        previous_hash = stored_hash;
    }
    for (HeapTuple entry_row; (entry_row = peek(&entries)) != nullptr; entries.next++) {
        MemoryContext caller = MemoryContextSwitchTo(row_context);
        const EntryCheck check = check_entry(entry_row, entries.batch->tupdesc, tenant);
        MemoryContextSwitchTo(caller);
        MemoryContextReset(row_context);
        if (!check.hash_ok)
            report(sink, tenant, "entry_hash", psprintf("entry %lld (transaction " UINT64_FORMAT ") was changed",
                                                        (long long)check.entry_seq, check.xact_id));
        if (check.xact_id < sealed_below)
            report(sink, tenant, "unsealed_entry",
                   psprintf("entry %lld (transaction " UINT64_FORMAT ") is older than the seal horizon but in no block",
                            (long long)check.entry_seq, check.xact_id));
    }
    SPI_cursor_close(blocks.portal);
    SPI_cursor_close(entries.portal);
}

}  // namespace

int64 seal_ledger() {
    if (IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("sealing the audit ledger needs READ COMMITTED"),
                        errdetail("The sealer must see blocks that a concurrent sealer has just committed.")));
    SealResult outcome = {0};
    run_as_ledger_writer(seal_body, &outcome);
    return outcome.blocks;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

TG_SQL_FUNCTION(tg_seal_audit)
TG_SQL_FUNCTION(tg_prune_audit)
TG_SQL_FUNCTION(tg_verify_audit)

extern "C" {

Datum tg_seal_audit(PG_FUNCTION_ARGS) { PG_RETURN_INT64(seal_ledger()); }

Datum tg_prune_audit(PG_FUNCTION_ARGS) {
    if (!superuser())
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("only a superuser can prune the audit ledger")));
    PruneRequest request = {PG_GETARG_TIMESTAMPTZ(0), 0};
    run_as_ledger_writer(prune_body, &request);
    Jsonb* details = DatumGetJsonbP(DirectFunctionCall1(
        jsonb_in, CStringGetDatum(psprintf("{\"before_unix_us\": " INT64_FORMAT ", \"blocks\": " INT64_FORMAT "}",
                                           unix_microseconds(request.before), request.blocks))));
    record_system_entry("PRUNE_AUDIT", nullptr, details);
    PG_RETURN_INT64(request.blocks);
}

// verify_audit(tenant uuid DEFAULT NULL): runs as the caller, so row-level security decides which
// chains a tenant administrator can check.
Datum tg_verify_audit(PG_FUNCTION_ARGS) {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) || (rsinfo->allowedModes & SFRM_Materialize) == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("verify_audit() must be called in FROM")));
    TupleDesc descriptor;
    if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "tenant_guard: verify_audit() has no composite result type");
    MemoryContext per_query = rsinfo->econtext->ecxt_per_query_memory;
    MemoryContext caller = MemoryContextSwitchTo(per_query);
    ProblemSink sink = {tuplestore_begin_heap(true, false, work_mem), CreateTupleDescCopy(descriptor)};
    MemoryContextSwitchTo(caller);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = sink.store;
    rsinfo->setDesc = sink.descriptor;

    if (!ledger_installed())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the tenant_guard audit ledger is not installed in this database")));
    const char* only_tenant = PG_ARGISNULL(0) ? nullptr
                                              : DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0)));
    MemoryContext row_context = AllocSetContextCreate(CurrentMemoryContext, "tenant_guard verify", ALLOCSET_DEFAULT_SIZES);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    // The tuplestore lives in per-query memory; SPI's context must not be current when writing it.
    int result = SPI_execute("SELECT sealed_below::pg_catalog.text FROM tenant_guard.audit_seal_state", true, 1);
    const uint64 sealed_below =
        (result == SPI_OK_SELECT && SPI_processed == 1)
            ? xid8_from_text(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1))
            : 0;
    SPITupleTable* tenants;
    uint64 tenant_count;
    if (only_tenant != nullptr) {
        tenants = nullptr;
        tenant_count = 1;
    } else {
        result = SPI_execute(
            "SELECT tenant_id::pg_catalog.text FROM tenant_guard.audit_blocks"
            " UNION SELECT tenant_id::pg_catalog.text FROM tenant_guard.audit_pruned_blocks"
            " UNION SELECT tenant_id::pg_catalog.text FROM tenant_guard.audit_log ORDER BY 1",
            true, 0);
        if (result != SPI_OK_SELECT) elog(ERROR, "tenant_guard: listing the ledger's tenants failed");
        tenants = SPI_tuptable;
        tenant_count = SPI_processed;
    }
    PruneRecord prunes = {false, PG_INT64_MIN};
    const Oid auditor = get_role_oid("tenant_guard_auditor", true);
    if (superuser() || (auditor != InvalidOid && has_privs_of_role(GetUserId(), auditor))) {
        result = SPI_execute(
            "SELECT pg_catalog.max((new_values OPERATOR(pg_catalog.->>) 'before_unix_us')::pg_catalog.int8)"
            "  FROM tenant_guard.audit_log"
            " WHERE tenant_id OPERATOR(pg_catalog.=) '00000000-0000-0000-0000-000000000000'"
            "   AND action OPERATOR(pg_catalog.=) 'PRUNE_AUDIT'",
            true, 1);
        if (result != SPI_OK_SELECT) elog(ERROR, "tenant_guard: reading the prune records failed");
        bool is_null;
        const Datum before = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
        prunes.checked = true;
        if (!is_null) prunes.before_us = DatumGetInt64(before);
    }
    for (uint64 i = 0; i < tenant_count; i++) {
        const char* tenant = tenants ? SPI_getvalue(tenants->vals[i], tenants->tupdesc, 1) : only_tenant;
        verify_tenant(&sink, tenant, sealed_below, prunes, row_context);
    }
    SPI_finish();
    MemoryContextDelete(row_context);
    return (Datum)0;
}

}  // extern "C"
