// The audit ledger's tables and the one way to write them.
//
// The ledger tables (audit_log, audit_blocks, audit_pruned_blocks, audit_seal_state) are
// append-only for everybody (ledger_guard.cpp). tenant_guard's own code writes them inside
// run_as_ledger_writer(): as the ledger's owner (so the app role needs no privilege on them) and with
// the append-only guard standing aside for exactly that call.
//
// PostgreSQL-style code: it calls SPI and catalog functions that may ereport(), so callers keep no
// C++ object with a destructor alive across these calls.
#pragma once

#include "postgres.hpp"

#include "../core/ledger.hpp"

namespace tenant_guard::pg {

enum class LedgerTable { kNone, kLog, kBlocks, kPrunedBlocks, kSealState };

// Which ledger table relid is (kNone for every other relation). Cached; reset by any relcache
// invalidation, so it follows CREATE/DROP EXTENSION.
LedgerTable ledger_table_of(Oid relid);
bool ledger_installed();  // tenant_guard 0.3.0 or later is installed in this database

bool ledger_write_in_progress();

// Runs body(arg) as the ledger's owner with the guard standing aside; restores both on error too.
void run_as_ledger_writer(void (*body)(void* arg), void* arg);

// Runs body(arg) as the owner of a relation (like SECURITY DEFINER, in a restricted operation), for
// tenant_guard's reads and writes of its own tables; the caller's identity is back afterwards,
// also on error.
void run_as_relation_owner(Oid relid, void (*body)(void* arg), void* arg);

void register_ledger_cache_invalidation();

// An audit entry on its way into audit_log. Texts are palloc'd C strings (nullptr: SQL NULL);
// old/new values are jsonb datums (or nullptr).
struct EntryDraft {
    pg_uuid_t tenant;
    const char* action;
    const char* entity_type;
    const char* entity_id;
    const char* const* changed_columns;  // nullptr: SQL NULL
    int changed_count;
    Jsonb* old_values;
    Jsonb* new_values;
};

// Inserts the entry (subject and role from the current context and user, sequence number, top
// transaction id, transaction start time, entry hash), directly into the heap and its indexes.
void insert_entry(const EntryDraft* draft, const char* role_name);

// A ledger entry about the ledger itself (audit_table, unaudit_table, TRUNCATE, prune): tenant is
// the nil uuid.
void record_system_entry(const char* action, const char* entity_type, Jsonb* details);

// "schema"."name" of a relation, quoted as needed; palloc'd.
char* ledger_entity_name(Oid relid);

extern const pg_uuid_t kNilTenant;

// An entry's fields as the canonical encoding takes them (C strings; nullptr: SQL NULL). The writer
// and verify_audit() both hash through compute_entry_hash(), so they cannot drift apart.
struct EntryHashInput {
    const char* tenant;
    int64 entry_seq;
    uint64 xact_id;
    int64 logged_at_us;
    const char* subject;
    const char* role_name;
    const char* action;
    const char* entity_type;
    const char* entity_id;
    const char* const* changed_columns;  // nullptr: SQL NULL
    int changed_count;
    const char* old_values;
    const char* new_values;
};
core::Sha256 compute_entry_hash(const EntryHashInput& input);  // raises the error itself

Datum digest_datum(const core::Sha256& digest);  // a palloc'd 32-byte bytea

// Microseconds since 1970-01-01 UTC, the encoding's time unit.
int64 unix_microseconds(TimestampTz ts);

}  // namespace tenant_guard::pg
