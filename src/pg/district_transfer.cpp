// Moving a district between its own database and the shared schema, one call each:
//   import_tenant(source, tenant, replace)  its database's tables -> the tenant's rows here
//   reconcile_tenant(source, tenant)          the same comparison import makes, on demand
//   export_tenant(tenant, target)             the tenant's rows here -> a dedicated database
//
// Import streams each source table with COPY TO STDOUT over libpq straight into BeginCopyFrom()
// (the way logical replication's table sync does), in one transaction: the tenant column is left
// out of the column list and filled by its default, policy_tenant(), which returns the district
// being loaded (set_loading_tenant()); a source can therefore never choose the tenant of a row.
// Every table is then compared with the source by an order-independent checksum, computed by both
// servers with the same SQL, and any difference rolls the whole import back.
//
// The work on each table runs as that table's owner in a security-restricted operation (as VACUUM
// does), with search_path pg_catalog, the checksum's output settings and the client encoding
// pinned; the caller must be a superuser or a tenant_guard_admin member. PostgreSQL-style code: it
// ereport()s, so it keeps no C++ object alive across PostgreSQL calls; the C++ planner runs inside
// call_core() on plain structs.
#include "boundary.hpp"
#include "context.hpp"
#include "ledger.hpp"
#include "postgres.hpp"
#include "platform_access.hpp"
#include "protection.hpp"
#include "remote_database.hpp"
#include "settings.hpp"
#include "transfer_progress.hpp"

#include "../core/transfer_plan.hpp"

extern "C" {
#include "commands/copy.h"
#include "nodes/makefuncs.h"
#include "commands/progress.h"
#include "parser/parse_relation.h"
#include "utils/backend_status.h"
}

#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr const char* kAdminRole = "tenant_guard_admin";
// pg_advisory_xact_lock's first key for "a district is being imported"; the second is the tenant.
constexpr int32 kImportLockClass = 0x74676931;  // "tgi1"

// ---------------------------------------------------------------------------------------------
// Catalogs of both sides, read with the same SQL (remote with libpq, local with SPI).

// One row per column of every user table (ordinary or partitioned, not a partition, not part of
// an extension), tables in name order, columns in attribute order.
constexpr const char* kCatalogSql =
    "SELECT n.nspname, c.relname, c.relkind::pg_catalog.text, a.attname, a.atttypid::pg_catalog.int8, "
    "       (a.atttypid OPERATOR(pg_catalog.<) 10000)::pg_catalog.text, "
    "       (a.attgenerated OPERATOR(pg_catalog.<>) '')::pg_catalog.text, c.oid::pg_catalog.int8, "
    "       GREATEST(c.reltuples, 0)::pg_catalog.int8 "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid "
    "     AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "  AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema' "
    "  AND n.nspname OPERATOR(pg_catalog.!~) '^pg_' "
    "  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d "
    "                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
    "                    AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e') "
    "ORDER BY n.nspname, c.relname, a.attnum";

// Foreign keys between user tables: child schema, child name, parent schema, parent name.
constexpr const char* kForeignKeySql =
    "SELECT cn.nspname, cc.relname, pn.nspname, pc.relname "
    "FROM pg_catalog.pg_constraint k "
    "JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) k.conrelid "
    "JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace "
    "JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) k.confrelid "
    "JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace "
    "WHERE k.contype OPERATOR(pg_catalog.=) 'f'";

struct PlainColumn {
    char* name;
    uint32 type_oid;
    bool builtin_type;
    bool generated;
};

struct PlainTable {
    char* schema;
    char* name;
    char relkind;
    Oid relid;  // in the database the catalog was read from
    int64 estimated_rows;  // pg_class.reltuples, for progress only
    PlainColumn* columns;
    int column_count;
};

struct Catalog {
    PlainTable* tables;
    int count;
    RemoteRows foreign_keys;
};

// Runs SQL through SPI and returns its rows as text, like remote_query().
RemoteRows local_query(const char* sql, int parameter_count = 0, const char* const* parameters = nullptr,
                       bool read_only = false) {
    Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[4];
    char nulls[4] = {' ', ' ', ' ', ' '};
    Assert(parameter_count <= 4);
    for (int i = 0; i < parameter_count; ++i) values[i] = CStringGetTextDatum(parameters[i]);
    int rc = SPI_execute_with_args(sql, parameter_count, types, values, nulls, read_only, 0);
    if (rc < 0) elog(ERROR, "tenant_guard: SPI failed (%d) for: %s", rc, sql);
    RemoteRows rows;
    rows.rows = (int)SPI_processed;
    rows.columns = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
    rows.values = static_cast<char**>(palloc0(sizeof(char*) * (size_t)Max(rows.rows * rows.columns, 1)));
    for (int row = 0; row < rows.rows; ++row)
        for (int column = 0; column < rows.columns; ++column)
            rows.values[row * rows.columns + column] =
                SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column + 1);
    if (SPI_tuptable) SPI_freetuptable(SPI_tuptable);
    return rows;
}

// The work on one table runs as the table's owner, in a security-restricted operation, the way
// VACUUM and REINDEX run: its triggers, defaults, constraints and index expressions then have no
// more rights than the owner who wrote them. (Row-level security, forced on the owner, admits the
// loading tenant's rows: see set_loading_tenant().)
struct OwnerQuery {
    const char* sql;
    int parameter_count;
    const char* const* parameters;
    bool read_only;
    RemoteRows rows;
};

void run_owner_query(void* arg) {
    auto* query = static_cast<OwnerQuery*>(arg);
    query->rows = local_query(query->sql, query->parameter_count, query->parameters, query->read_only);
}

RemoteRows local_query_as_owner(Oid relid, const char* sql, int parameter_count, const char* const* parameters,
                                bool read_only = false) {
    OwnerQuery query{sql, parameter_count, parameters, read_only, RemoteRows{}};
    run_as_relation_owner(relid, run_owner_query, &query);
    return query.rows;
}

bool text_is_true(const char* value) { return value != nullptr && strcmp(value, "true") == 0; }

Catalog catalog_from_rows(const RemoteRows& rows, const RemoteRows& foreign_keys) {
    Catalog catalog{};
    catalog.tables = static_cast<PlainTable*>(palloc0(sizeof(PlainTable) * (size_t)Max(rows.rows, 1)));
    catalog.foreign_keys = foreign_keys;
    for (int row = 0; row < rows.rows;) {
        PlainTable& table = catalog.tables[catalog.count++];
        table.schema = pstrdup(rows.value(row, 0));
        table.name = pstrdup(rows.value(row, 1));
        table.relkind = rows.value(row, 2)[0];
        table.relid = (Oid)strtoul(rows.value(row, 7), nullptr, 10);
        table.estimated_rows = strtoll(rows.value(row, 8), nullptr, 10);
        int end = row;
        while (end < rows.rows && strcmp(rows.value(end, 0), table.schema) == 0 &&
               strcmp(rows.value(end, 1), table.name) == 0)
            ++end;
        table.column_count = end - row;
        table.columns = static_cast<PlainColumn*>(palloc0(sizeof(PlainColumn) * (size_t)table.column_count));
        for (int i = 0; i < table.column_count; ++i) {
            PlainColumn& column = table.columns[i];
            column.name = pstrdup(rows.value(row + i, 3));
            column.type_oid = (uint32)strtoul(rows.value(row + i, 4), nullptr, 10);
            column.builtin_type = text_is_true(rows.value(row + i, 5));
            column.generated = text_is_true(rows.value(row + i, 6));
        }
        row = end;
    }
    return catalog;
}

Catalog read_remote_catalog(RemoteDatabase* database) {
    RemoteRows rows = remote_query(database, kCatalogSql);
    RemoteRows foreign_keys = remote_query(database, kForeignKeySql);
    return catalog_from_rows(rows, foreign_keys);
}

Catalog read_local_catalog() {
    RemoteRows rows = local_query(kCatalogSql, 0, nullptr, true);
    RemoteRows foreign_keys = local_query(kForeignKeySql, 0, nullptr, true);
    return catalog_from_rows(rows, foreign_keys);
}

const PlainTable* find_table(const Catalog& catalog, const char* schema, const char* name) {
    for (int i = 0; i < catalog.count; ++i)
        if (strcmp(catalog.tables[i].schema, schema) == 0 && strcmp(catalog.tables[i].name, name) == 0)
            return &catalog.tables[i];
    return nullptr;
}

int find_index(const PlainTable* const* tables, int count, const char* schema, const char* name) {
    for (int i = 0; i < count; ++i)
        if (tables[i] != nullptr && strcmp(tables[i]->schema, schema) == 0 && strcmp(tables[i]->name, name) == 0) return i;
    return -1;
}

bool is_tenant_table(Oid relid) {
    TableProtection protection = read_table_protection(relid);
    return protection.has_isolation_policy && protection.tenant_attnum != InvalidAttrNumber;
}

// ---------------------------------------------------------------------------------------------
// The plan: which tables, which columns, which order (src/core/transfer_plan.cpp decides).

struct PlannedTable {
    const PlainTable* source;
    const PlainTable* target;
    char** columns;         // names, as in the catalogs
    char** quoted_columns;  // always double-quoted (the remote may reserve words this server does not)
    int column_count;
    bool send_tenant_column;
    bool binary;
    char* source_name;  // "schema"."name", quoted for SQL
    char* display_name; // schema.name, for people
};

struct DistrictPlan {
    PlannedTable* tables;
    int count;
    char* problems;  // nullptr when there are none
};

// sources[i] goes to targets[i] (nullptr: no such table in the target). Import: the targets are
// here, and must be tenant tables; export: they are in the other database.
DistrictPlan make_plan(const PlainTable* const* sources, const PlainTable* const* targets, int count,
                       const Catalog& target_catalog, bool import_direction) {
    DistrictPlan plan{};
    plan.tables = static_cast<PlannedTable*>(palloc0(sizeof(PlannedTable) * (size_t)Max(count, 1)));
    // Foreign keys of the target, as indexes into targets[].
    int** references = static_cast<int**>(palloc0(sizeof(int*) * (size_t)Max(count, 1)));
    int* reference_counts = static_cast<int*>(palloc0(sizeof(int) * (size_t)Max(count, 1)));
    const RemoteRows& keys = target_catalog.foreign_keys;
    for (int i = 0; i < count; ++i) references[i] = static_cast<int*>(palloc0(sizeof(int) * (size_t)Max(keys.rows, 1)));
    for (int row = 0; row < keys.rows; ++row) {
        int child = find_index(targets, count, keys.value(row, 0), keys.value(row, 1));
        int parent = find_index(targets, count, keys.value(row, 2), keys.value(row, 3));
        if (child >= 0 && parent >= 0) references[child][reference_counts[child]++] = parent;
    }

    bool* tenant_tables = static_cast<bool*>(palloc0(sizeof(bool) * (size_t)Max(count, 1)));
    if (import_direction)
        for (int i = 0; i < count; ++i) tenant_tables[i] = targets[i] != nullptr && is_tenant_table(targets[i]->relid);

    CoreFailure failure;
    const char* tenant_column = settings.tenant_column;
    bool planned = call_core(
        [&] {
            std::vector<core::SourceTable> source_tables(static_cast<size_t>(count));
            std::vector<core::TargetTable> target_tables(static_cast<size_t>(count));
            auto columns_of = [](const PlainTable* table) {
                std::vector<core::TransferColumn> columns;
                for (int c = 0; c < table->column_count; ++c)
                    columns.push_back({table->columns[c].name, table->columns[c].type_oid,
                                       table->columns[c].builtin_type, table->columns[c].generated});
                return columns;
            };
            for (int i = 0; i < count; ++i) {
                source_tables[i].schema = sources[i]->schema;
                source_tables[i].name = sources[i]->name;
                source_tables[i].columns = columns_of(sources[i]);
                if (targets[i] == nullptr) continue;
                target_tables[i].exists = true;
                target_tables[i].tenant_table = tenant_tables[i];
                target_tables[i].columns = columns_of(targets[i]);
                for (int r = 0; r < reference_counts[i]; ++r)
                    target_tables[i].references.push_back(static_cast<size_t>(references[i][r]));
            }
            core::TransferOptions options;
            options.tenant_column = tenant_column;
            options.target_must_be_tenant_table = import_direction;
            core::TransferPlan result = core::plan_transfer(source_tables, target_tables, options);
            if (!result.problems.empty()) {
                std::string all;
                for (const auto& problem : result.problems) all += (all.empty() ? "" : "\n") + problem;
                plan.problems = pstrdup_or_throw(all);
                return;
            }
            for (const auto& transfer : result.tables) {
                PlannedTable& table = plan.tables[plan.count++];
                table.source = sources[transfer.source_index];
                table.target = targets[transfer.source_index];
                table.column_count = static_cast<int>(transfer.columns.size());
                table.columns = static_cast<char**>(palloc_or_throw(sizeof(char*) * transfer.columns.size()));
                table.quoted_columns = static_cast<char**>(palloc_or_throw(sizeof(char*) * transfer.columns.size()));
                for (size_t c = 0; c < transfer.columns.size(); ++c) {
                    table.columns[c] = pstrdup_or_throw(transfer.columns[c]);
                    table.quoted_columns[c] = pstrdup_or_throw(core::quoted_identifier(transfer.columns[c]));
                }
                table.send_tenant_column = transfer.send_tenant_column;
                table.binary = transfer.binary;
                table.source_name = pstrdup_or_throw(core::quoted_table_name(table.source->schema, table.source->name));
                table.display_name =
                    pstrdup_or_throw(std::string(table.source->schema) + "." + table.source->name);
            }
        },
        &failure);
    if (!planned) raise_core_failure(failure);
    return plan;
}

// ---------------------------------------------------------------------------------------------
// SQL both sides run.

char* column_list(const PlannedTable& table) {
    StringInfoData list;
    initStringInfo(&list);
    for (int c = 0; c < table.column_count; ++c)
        appendStringInfo(&list, "%s%s", c ? ", " : "", table.quoted_columns[c]);
    return list.data;
}

// FROM clause: ONLY for an ordinary table (its inheritance children are tables of their own).
char* from_table(const PlainTable* table, const char* quoted_name) {
    return psprintf("%s%s", table->relkind == 'p' ? "" : "ONLY ", quoted_name);
}

// count and an order-independent checksum: the sum of the first 64 bits of each row's SHA-256 (over
// the row's text in UTF-8). A changed value changes one term; a missing or duplicated row changes the
// count and the sum. Both servers print values with the same settings (see kCanonicalOutput).
// SHA-256 rather than MD5: a server in FIPS mode refuses md5(); the two cost the same here.
char* checksum_sql(const PlannedTable& table, const PlainTable* side, const char* quoted_name, bool by_tenant) {
    const char* tenant_column = quote_identifier(settings.tenant_column);
    return psprintf(
        "SELECT pg_catalog.count(*)::pg_catalog.text, "
        "COALESCE(pg_catalog.sum(('x' OPERATOR(pg_catalog.||) pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256("
        "pg_catalog.convert_to(ROW(%s)::pg_catalog.text, 'UTF8')), 1, 8), 'hex'))::pg_catalog.bit(64)"
        "::pg_catalog.int8), 0)::pg_catalog.text FROM %s%s",
        column_list(table), from_table(side, quoted_name),
        by_tenant ? psprintf(" WHERE %s OPERATOR(pg_catalog.=) $1::pg_catalog.uuid", tenant_column) : "");
}

struct Checksum {
    int64 rows;
    char* sum;
};

// A checksum statement's (count, sum) starting at first_column of the row.
Checksum checksum_from(const RemoteRows& rows, int row = 0, int first_column = 0) {
    Checksum checksum{};
    checksum.rows = strtoll(rows.value(row, first_column), nullptr, 10);
    checksum.sum = pstrdup(rows.value(row, first_column + 1));
    return checksum;
}

bool same_checksum(const Checksum& a, const Checksum& b) { return a.rows == b.rows && strcmp(a.sum, b.sum) == 0; }

// ---------------------------------------------------------------------------------------------
// Who may, and as whom the work runs.

void require_transfer_privilege(const char* function) {
    if (superuser()) return;
    Oid admin = get_role_oid(kAdminRole, true);
    if (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin)) return;
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied for %s", function),
                    errdetail("Only superusers and members of %s move districts.", kAdminRole)));
}

// Pins what the checksum's text depends on, the search_path and the client encoding, for this
// transfer only.
int enter_canonical_output() {
    static const char* const kCanonicalOutput[][2] = {
        {"search_path", "pg_catalog, pg_temp"}, {"TimeZone", "UTC"},           {"DateStyle", "ISO, YMD"},
        {"IntervalStyle", "postgres"},          {"extra_float_digits", "3"},   {"bytea_output", "hex"},
    };
    int level = NewGUCNestLevel();
    for (const auto& setting : kCanonicalOutput)
        (void)set_config_option(setting[0], setting[1], PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    // COPY FROM converts text from the client encoding (binary text_recv too), and the source
    // sends this database's encoding: the caller's client_encoding must not get in between.
    (void)set_config_option("client_encoding", GetDatabaseEncodingName(), PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    return level;
}

// Everything a transfer changes in this backend, undone in one place whichever way it ends.
struct TransferScope {
    int guc_level;
};

void enter_transfer(TransferScope* scope, const pg_uuid_t* tenant, const char* operation) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    scope->guc_level = enter_canonical_output();
    set_loading_tenant(tenant);
    begin_transfer_progress(operation, tenant, GetUserId());
}

void leave_transfer(TransferScope* scope) {
    end_transfer_progress();
    set_loading_tenant(nullptr);
    AtEOXact_GUC(true, scope->guc_level);
    SPI_finish();
}

// After an error: the transaction's abort resets the settings and SPI; these are ours.
void abandon_transfer() noexcept {
    end_transfer_progress();
    set_loading_tenant(nullptr);
    close_all_remote_databases();
}

// ---------------------------------------------------------------------------------------------
// Import.

RemoteDatabase* copy_source = nullptr;

int read_from_copy_source(void* buffer, int min_bytes, int max_bytes) {
    int filled = remote_copy_out_read(copy_source, buffer, min_bytes, max_bytes);
    if (MyBEEntry != nullptr) transfer_progress_rows(MyBEEntry->st_progress_param[PROGRESS_COPY_TUPLES_PROCESSED]);
    return filled;
}

uint64 copy_table_from_source(RemoteDatabase* source, const PlannedTable& table) {
    const char* columns = column_list(table);
    const char* copy_sql =
        table.source->relkind == 'p'
            ? psprintf("COPY (SELECT %s FROM %s) TO STDOUT%s", columns, table.source_name,
                       table.binary ? " (FORMAT binary)" : "")
            : psprintf("COPY %s (%s) TO STDOUT%s", table.source_name, columns, table.binary ? " (FORMAT binary)" : "");
    remote_copy_out_begin(source, copy_sql);

    Relation relation = table_open(table.target->relid, RowExclusiveLock);
    ParseState* parse_state = make_parsestate(nullptr);
    (void)addRangeTableEntryForRelation(parse_state, relation, RowExclusiveLock, nullptr, false, false);
    List* column_names = NIL;
    for (int c = 0; c < table.column_count; ++c) column_names = lappend(column_names, makeString(table.columns[c]));
    List* options = NIL;
    if (table.binary) options = list_make1(makeDefElem(pstrdup("format"), (Node*)makeString(pstrdup("binary")), -1));

    copy_source = source;
    CopyFromState copy = BeginCopyFrom(parse_state, relation, nullptr, nullptr, false, read_from_copy_source,
                                       column_names, options);
    uint64 rows = CopyFrom(copy);
    EndCopyFrom(copy);
    copy_source = nullptr;
    table_close(relation, NoLock);
    free_parsestate(parse_state);
    return rows;
}

struct TableCopy {
    RemoteDatabase* remote;
    const PlannedTable* table;
    const char* tenant;
    uint64 rows;
};

void run_import_copy(void* arg) {
    auto* copy = static_cast<TableCopy*>(arg);
    copy->rows = copy_table_from_source(copy->remote, *copy->table);
}


// The source side of import and reconcile: the district's tables, their targets here, the plan.
struct SourcePlan {
    Catalog source_catalog;
    Catalog target_catalog;
    DistrictPlan plan;
};

SourcePlan plan_from_source(RemoteDatabase* source) {
    SourcePlan result{};
    // One snapshot for every table, so that a child never refers to a parent row copied later.
    remote_command(source, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    result.source_catalog = read_remote_catalog(source);
    if (result.source_catalog.count == 0)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("the source database has no table to copy")));
    result.target_catalog = read_local_catalog();
    int count = result.source_catalog.count;
    auto** sources = static_cast<const PlainTable**>(palloc0(sizeof(PlainTable*) * (size_t)count));
    auto** targets = static_cast<const PlainTable**>(palloc0(sizeof(PlainTable*) * (size_t)count));
    for (int i = 0; i < count; ++i) {
        sources[i] = &result.source_catalog.tables[i];
        targets[i] = find_table(result.target_catalog, sources[i]->schema, sources[i]->name);
    }
    result.plan = make_plan(sources, targets, count, result.target_catalog, true);
    if (result.plan.problems != nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the source database cannot be imported as it is; nothing was copied"),
                        errdetail("%s", result.plan.problems),
                        errhint("Each problem is listed in the detail: create what is missing here (protected tables, "
                                "with the tenant column), or change the source.")));
    return result;
}

// One statement for the source checksums of every planned table, sent before the copies start so
// that the source server computes them while this backend loads rows.
char* source_checksums_sql(const DistrictPlan& plan) {
    StringInfoData sql;
    initStringInfo(&sql);
    for (int i = 0; i < plan.count; ++i) {
        const PlannedTable& table = plan.tables[i];
        appendStringInfo(&sql, "%s(%s)", i ? " UNION ALL " : "",
                         psprintf("SELECT %d AS position, * FROM (%s) AS checksum_%d", i,
                                  checksum_sql(table, table.source, table.source_name, false), i));
    }
    appendStringInfoString(&sql, " ORDER BY 1");
    return sql.data;
}

Checksum* collect_source_checksums(RemoteDatabase* connection, const DistrictPlan& plan) {
    RemoteRows rows = remote_collect(connection);
    if (rows.rows != plan.count) elog(ERROR, "tenant_guard: expected %d source checksums, got %d", plan.count, rows.rows);
    auto* checksums = static_cast<Checksum*>(palloc0(sizeof(Checksum) * (size_t)Max(plan.count, 1)));
    for (int i = 0; i < plan.count; ++i) checksums[i] = checksum_from(rows, i, 1);  // after the position
    return checksums;
}

// A second connection to the source that sees exactly what the first one copies.
RemoteDatabase* connect_with_same_snapshot(const char* conninfo, RemoteDatabase* first, Oid caller) {
    RemoteRows snapshot = remote_query(first, "SELECT pg_catalog.pg_export_snapshot()");
    RemoteDatabase* second = connect_remote_database(conninfo, "source", caller);
    remote_command(second, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    // SET TRANSACTION SNAPSHOT takes no parameter: the identifier is quoted as a literal.
    remote_command(second, psprintf("SET TRANSACTION SNAPSHOT %s", quote_literal_cstr(snapshot.value(0, 0))));
    return second;
}

char* tenant_text(const pg_uuid_t* tenant) {
    return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(tenant))));
}

Checksum local_checksum(const PlannedTable& table, const PlainTable* side, const char* tenant, bool read_only) {
    const char* parameters[] = {tenant};
    const char* quoted = table.source_name;
    return checksum_from(local_query_as_owner(side->relid, checksum_sql(table, side, quoted, true), 1, parameters, read_only));
}

// Sequences behind the copied columns (serial or identity) move past the district's values, so
// that the next nextval() never hands out an id the district already uses. Never backwards: the
// sequence may already be past them for another tenant.
const char* const kSerialSequenceSql = "SELECT pg_catalog.pg_get_serial_sequence($1, $2)";

char* advance_sequence_sql(const char* sequence_name, const PlannedTable& table, const PlainTable* side, int column,
                           bool by_tenant) {
    return psprintf("SELECT pg_catalog.setval(%s, copied.top) "
                    "FROM (SELECT pg_catalog.max(%s)::pg_catalog.int8 AS top FROM %s%s) AS copied, %s AS current "
                    "WHERE copied.top OPERATOR(pg_catalog.>) CASE WHEN current.is_called "
                    "      THEN current.last_value ELSE current.last_value OPERATOR(pg_catalog.-) 1 END",
                    quote_literal_cstr(sequence_name), table.quoted_columns[column],
                    from_table(side, table.source_name),
                    by_tenant ? psprintf(" WHERE %s OPERATOR(pg_catalog.=) $1::pg_catalog.uuid",
                                         quote_identifier(settings.tenant_column))
                              : "",
                    sequence_name);
}

void advance_local_sequences(const PlannedTable& table, const char* tenant) {
    for (int c = 0; c < table.column_count; ++c) {
        const char* lookup[] = {table.source_name, table.columns[c]};
        RemoteRows sequence = local_query(kSerialSequenceSql, 2, lookup);
        if (sequence.rows != 1 || sequence.value(0, 0) == nullptr) continue;
        const char* parameters[] = {tenant};
        local_query_as_owner(table.target->relid, advance_sequence_sql(sequence.value(0, 0), table, table.target, c, true), 1,
                             parameters);
    }
}

void advance_remote_sequences(RemoteDatabase* database, const PlannedTable& table) {
    for (int c = 0; c < table.column_count; ++c) {
        const char* lookup[] = {table.source_name, table.columns[c]};
        RemoteRows sequence = remote_query(database, kSerialSequenceSql, 2, lookup);
        if (sequence.rows != 1 || sequence.value(0, 0) == nullptr) continue;
        remote_command(database, advance_sequence_sql(sequence.value(0, 0), table, table.target, c, false));
    }
}

// The first tenant table here (whether the source has it or not) with rows of the tenant, or nullptr.
const PlainTable* table_with_tenant_rows(const Catalog& here, const char* tenant) {
    const char* parameters[] = {tenant};
    for (int i = 0; i < here.count; ++i) {
        const PlainTable* table = &here.tables[i];
        if (!is_tenant_table(table->relid)) continue;
        const char* name = quote_qualified_identifier(table->schema, table->name);
        RemoteRows rows = local_query_as_owner(table->relid, psprintf("SELECT EXISTS (SELECT FROM %s WHERE %s OPERATOR(pg_catalog.=) "
                                               "$1::pg_catalog.uuid)::pg_catalog.text",
                                               from_table(table, name), quote_identifier(settings.tenant_column)),
                                      1, parameters);
        if (text_is_true(rows.value(0, 0))) return table;
    }
    return nullptr;
}

void delete_tenant_rows(const PlannedTable& table, const char* tenant) {
    const char* parameters[] = {tenant};
    local_query_as_owner(table.target->relid, psprintf("DELETE FROM %s WHERE %s OPERATOR(pg_catalog.=) $1::pg_catalog.uuid",
                         from_table(table.target, table.source_name), quote_identifier(settings.tenant_column)),
                1, parameters);
}

const pg_uuid_t* tenant_argument(FunctionCallInfo fcinfo, int argument) {
    if (PG_ARGISNULL(argument))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tenant must not be null")));
    const pg_uuid_t* tenant = PG_GETARG_UUID_P(argument);
    static const pg_uuid_t nil = {{0}};
    if (memcmp(tenant, &nil, sizeof(nil)) == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the nil UUID is not a tenant")));
    return tenant;
}

const char* conninfo_argument(FunctionCallInfo fcinfo, int argument, const char* which) {
    if (PG_ARGISNULL(argument))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s connection string must not be null", which)));
    return text_to_cstring(PG_GETARG_TEXT_PP(argument));
}

void put_transfer_row(ReturnSetInfo* result, const char* table_name, int64 source_rows, int64 copied_rows,
                      bool reconciled) {
    Datum values[4] = {CStringGetTextDatum(table_name), Int64GetDatum(source_rows), Int64GetDatum(copied_rows),
                       BoolGetDatum(reconciled)};
    bool nulls[4] = {false, false, false, false};
    tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
}

// ---------------------------------------------------------------------------------------------
// Export.

// COPY's text format: backslash, newline, carriage return and tab escaped; NULL is \N.
void append_copy_text(StringInfo line, const char* value) {
    for (const char* c = value; *c != '\0'; ++c) {
        switch (*c) {
            case '\\': appendBinaryStringInfo(line, "\\\\", 2); break;
            case '\n': appendBinaryStringInfo(line, "\\n", 2); break;
            case '\r': appendBinaryStringInfo(line, "\\r", 2); break;
            case '\t': appendBinaryStringInfo(line, "\\t", 2); break;
            default: appendStringInfoCharMacro(line, *c);
        }
    }
}

// Streams the tenant's rows of one table into COPY FROM STDIN on the target, in batches, with
// the types' output functions (the settings pinned by enter_canonical_output()).
uint64 export_table(RemoteDatabase* target, const PlannedTable& table, const char* tenant) {
    const char* tenant_column = quote_identifier(settings.tenant_column);
    remote_copy_in_begin(target, psprintf("COPY %s (%s%s%s) FROM STDIN", table.source_name, column_list(table),
                                          table.send_tenant_column ? ", " : "",
                                          table.send_tenant_column ? tenant_column : ""));
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(tenant)};
    Portal cursor = SPI_cursor_open_with_args(
        nullptr,
        psprintf("SELECT %s FROM %s WHERE %s OPERATOR(pg_catalog.=) $1::pg_catalog.uuid", column_list(table),
                 from_table(table.source, table.source_name), tenant_column),
        1, types, values, nullptr, true, CURSOR_OPT_NO_SCROLL);
    MemoryContext batch_memory = AllocSetContextCreate(CurrentMemoryContext, "tenant_guard export batch",
                                                       ALLOCSET_DEFAULT_SIZES);
    FmgrInfo* output = nullptr;
    uint64 rows = 0;
    StringInfoData data;
    initStringInfo(&data);
    for (;;) {
        SPI_cursor_fetch(cursor, true, 10000);
        if (SPI_processed == 0) break;
        TupleDesc descriptor = SPI_tuptable->tupdesc;
        if (output == nullptr) {
            output = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo) * (size_t)descriptor->natts));
            for (int c = 0; c < descriptor->natts; ++c) {
                Oid function;
                bool is_varlena;
                getTypeOutputInfo(TupleDescAttr(descriptor, c)->atttypid, &function, &is_varlena);
                fmgr_info(function, &output[c]);
            }
        }
        MemoryContext previous = MemoryContextSwitchTo(batch_memory);
        for (uint64 r = 0; r < SPI_processed; ++r) {
            HeapTuple tuple = SPI_tuptable->vals[r];
            for (int c = 0; c < descriptor->natts; ++c) {
                if (c > 0) appendStringInfoChar(&data, '\t');
                bool is_null;
                Datum value = heap_getattr(tuple, c + 1, descriptor, &is_null);
                if (is_null)
                    appendBinaryStringInfo(&data, "\\N", 2);
                else
                    append_copy_text(&data, OutputFunctionCall(&output[c], value));
            }
            if (table.send_tenant_column) {
                appendStringInfoChar(&data, '\t');
                appendStringInfoString(&data, tenant);
            }
            appendStringInfoChar(&data, '\n');
        }
        MemoryContextSwitchTo(previous);
        remote_copy_in_write(target, data.data, (size_t)data.len);
        resetStringInfo(&data);
        MemoryContextReset(batch_memory);
        rows += SPI_processed;
        SPI_freetuptable(SPI_tuptable);
        transfer_progress_rows((int64)rows);
    }
    SPI_cursor_close(cursor);
    MemoryContextDelete(batch_memory);
    pfree(data.data);
    return remote_copy_in_end(target);
}

void run_export_copy(void* arg) {
    auto* copy = static_cast<TableCopy*>(arg);
    copy->rows = export_table(copy->remote, *copy->table, copy->tenant);
}


// ---------------------------------------------------------------------------------------------
// The SQL entry points.

// One call's arguments and result set.
struct TransferCall {
    ReturnSetInfo* result;
    const char* conninfo;
    const pg_uuid_t* tenant;
    const char* tenant_string;
    Oid caller;    // the role that called, before the switch to the extension's owner
    bool replace;  // import only
};

// The frame every transfer runs in: who may, the arguments, the scope (user, settings, SPI, the
// loading tenant, progress), and the cleanup, whichever way the body ends.
Datum run_transfer(FunctionCallInfo fcinfo, const char* function, const char* operation, int tenant_argument_number,
                   int conninfo_argument_number, const char* which, bool replace,
                   void (*body)(const TransferCall& call)) {
    require_transfer_privilege(function);
    TransferCall call{};
    call.conninfo = conninfo_argument(fcinfo, conninfo_argument_number, which);
    call.tenant = tenant_argument(fcinfo, tenant_argument_number);
    call.tenant_string = tenant_text(call.tenant);
    call.caller = GetUserId();
    call.replace = replace;
    tg_begin_materialized_result(fcinfo);
    call.result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

    TransferScope scope{};
    PG_TRY();
    {
        enter_transfer(&scope, call.tenant, operation);
        body(call);
        close_all_remote_databases();
        leave_transfer(&scope);
    }
    PG_CATCH();
    {
        abandon_transfer();
        PG_RE_THROW();
    }
    PG_END_TRY();
    return (Datum)0;
}

// Tables that did not reconcile: the transfer is rolled back.
void refuse_mismatches(const StringInfoData& mismatches, const char* message, const char* hint) {
    if (mismatches.len == 0) return;
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("%s", message), errdetail("%s", mismatches.data),
                    errhint("%s", hint)));
}

// import_tenant(): copy, advance sequences, reconcile; any difference rolls it all back.
void import_body(const TransferCall& call) {
    transfer_progress_phase("reading catalogs");
    // Two imports of one district would both find it empty: the second waits for the first.
    const char* lock_parameters[] = {call.tenant_string};
    local_query(psprintf("SELECT pg_catalog.pg_advisory_xact_lock(%d, pg_catalog.hashtext($1))", kImportLockClass),
                1, lock_parameters);

    RemoteDatabase* source = connect_remote_database(call.conninfo, "source", call.caller);
    SourcePlan source_plan = plan_from_source(source);
    const DistrictPlan& plan = source_plan.plan;
    transfer_progress_tables_total(plan.count);

    if (!call.replace)
        if (const PlainTable* table = table_with_tenant_rows(source_plan.target_catalog, call.tenant_string))
            ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                            errmsg("tenant %s already has rows in %s.%s", call.tenant_string, table->schema, table->name),
                            errhint("Pass replace => true to delete the tenant's rows first (in the same transaction).")));
    if (call.replace) {
        transfer_progress_phase("deleting the tenant's rows");
        for (int i = plan.count - 1; i >= 0; --i) delete_tenant_rows(plan.tables[i], call.tenant_string);
    }

    RemoteDatabase* checksummer = connect_with_same_snapshot(call.conninfo, source, call.caller);
    remote_send(checksummer, source_checksums_sql(plan));

    auto* imported = static_cast<uint64*>(palloc0(sizeof(uint64) * (size_t)Max(plan.count, 1)));
    auto* source_rows = static_cast<uint64*>(palloc0(sizeof(uint64) * (size_t)Max(plan.count, 1)));
    for (int i = 0; i < plan.count; ++i) {
        const PlannedTable& table = plan.tables[i];
        transfer_progress_table(table.display_name, "copying", table.source->estimated_rows);
        TableCopy copy{source, &table, nullptr, 0};
        run_as_relation_owner(table.target->relid, run_import_copy, &copy);
        imported[i] = copy.rows;
        source_rows[i] = remote_copy_out_rows(source);
        CommandCounterIncrement();
        advance_local_sequences(table, call.tenant_string);
        transfer_progress_table_done();
    }

    transfer_progress_table(nullptr, "reconciling", 0);
    Checksum* source_checksums = collect_source_checksums(checksummer, plan);
    StringInfoData mismatches;
    initStringInfo(&mismatches);
    for (int i = 0; i < plan.count; ++i) {
        const PlannedTable& table = plan.tables[i];
        Checksum here = local_checksum(table, table.target, call.tenant_string, false);
        bool reconciled = same_checksum(here, source_checksums[i]) && (uint64)here.rows == imported[i] &&
                          source_rows[i] == imported[i];
        if (!reconciled)
            appendStringInfo(&mismatches, "%s%s: source %lld rows, imported %lld", mismatches.len ? "\n" : "",
                             table.display_name, (long long)source_checksums[i].rows, (long long)here.rows);
        put_transfer_row(call.result, table.display_name, (int64)source_rows[i], (int64)imported[i], reconciled);
    }
    refuse_mismatches(mismatches, "the imported rows do not match the source; nothing was imported",
                      "A trigger or default on the target may change rows, or the source changed.");
    remote_command(source, "COMMIT");
    remote_command(checksummer, "COMMIT");
}

// reconcile_tenant(): both sides' checksums, side by side.
void reconcile_body(const TransferCall& call) {
    RemoteDatabase* source = connect_remote_database(call.conninfo, "source", call.caller);
    SourcePlan source_plan = plan_from_source(source);
    const DistrictPlan& plan = source_plan.plan;
    transfer_progress_tables_total(plan.count);
    remote_send(source, source_checksums_sql(plan));  // the source works while we do
    transfer_progress_phase("checksumming");
    auto* here = static_cast<Checksum*>(palloc0(sizeof(Checksum) * (size_t)Max(plan.count, 1)));
    for (int i = 0; i < plan.count; ++i) {
        transfer_progress_table(plan.tables[i].display_name, "checksumming", plan.tables[i].target->estimated_rows);
        here[i] = local_checksum(plan.tables[i], plan.tables[i].target, call.tenant_string, true);
        transfer_progress_table_done();
    }
    Checksum* there = collect_source_checksums(source, plan);
    for (int i = 0; i < plan.count; ++i) {
        Datum values[6] = {CStringGetTextDatum(plan.tables[i].display_name), Int64GetDatum(there[i].rows),
                           Int64GetDatum(here[i].rows), CStringGetTextDatum(there[i].sum),
                           CStringGetTextDatum(here[i].sum), BoolGetDatum(same_checksum(here[i], there[i]))};
        bool nulls[6] = {false, false, false, false, false, false};
        tuplestore_putvalues(call.result->setResult, call.result->setDesc, values, nulls);
    }
    remote_command(source, "COMMIT");
}

// export_tenant(): into empty tables there, in one transaction there, reconciled.
void export_body(const TransferCall& call) {
    transfer_progress_phase("reading catalogs");
    // Every local read below is read-only SPI, so all of them see this statement's snapshot.
    Catalog here = read_local_catalog();
    RemoteDatabase* target = connect_remote_database(call.conninfo, "target", call.caller);
    remote_command(target, "BEGIN");
    Catalog there = read_remote_catalog(target);

    auto** sources = static_cast<const PlainTable**>(palloc0(sizeof(PlainTable*) * (size_t)Max(here.count, 1)));
    auto** targets = static_cast<const PlainTable**>(palloc0(sizeof(PlainTable*) * (size_t)Max(here.count, 1)));
    int count = 0;
    for (int i = 0; i < here.count; ++i) {
        if (!is_tenant_table(here.tables[i].relid)) continue;
        sources[count] = &here.tables[i];
        targets[count] = find_table(there, here.tables[i].schema, here.tables[i].name);
        ++count;
    }
    if (count == 0)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("this database has no tenant table to export")));
    DistrictPlan plan = make_plan(sources, targets, count, there, false);
    if (plan.problems != nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the tenant cannot be exported into this target as it is; nothing was copied"),
                        errdetail("%s", plan.problems),
                        errhint("Create the tables and columns in the target first (pg_dump --schema-only).")));
    transfer_progress_tables_total(plan.count);
    for (int i = 0; i < plan.count; ++i) {
        RemoteRows rows = remote_query(target, psprintf("SELECT EXISTS (SELECT FROM %s)::pg_catalog.text",
                                                        from_table(plan.tables[i].target, plan.tables[i].source_name)));
        if (text_is_true(rows.value(0, 0)))
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("target table %s already has rows; nothing was copied", plan.tables[i].display_name),
                            errhint("Export into a fresh database.")));
    }

    auto* exported = static_cast<uint64*>(palloc0(sizeof(uint64) * (size_t)Max(plan.count, 1)));
    for (int i = 0; i < plan.count; ++i) {
        const PlannedTable& table = plan.tables[i];
        transfer_progress_table(table.display_name, "copying", table.source->estimated_rows);
        TableCopy copy{target, &table, call.tenant_string, 0};
        run_as_relation_owner(table.source->relid, run_export_copy, &copy);
        exported[i] = copy.rows;
        advance_remote_sequences(target, table);
        transfer_progress_table_done();
    }

    transfer_progress_table(nullptr, "reconciling", 0);
    StringInfoData mismatches;
    initStringInfo(&mismatches);
    for (int i = 0; i < plan.count; ++i) {
        const PlannedTable& table = plan.tables[i];
        remote_send(target, checksum_sql(table, table.target, table.source_name, false));
        Checksum mine = local_checksum(table, table.source, call.tenant_string, true);
        Checksum theirs = checksum_from(remote_collect(target));
        bool reconciled = same_checksum(mine, theirs) && (uint64)mine.rows == exported[i];
        if (!reconciled)
            appendStringInfo(&mismatches, "%s%s: %lld rows here, %lld in the target", mismatches.len ? "\n" : "",
                             table.display_name, (long long)mine.rows, (long long)theirs.rows);
        put_transfer_row(call.result, table.display_name, mine.rows, (int64)exported[i], reconciled);
    }
    refuse_mismatches(mismatches, "the exported rows do not match; the target was left unchanged",
                      "A trigger or default in the target may change rows.");
    remote_command(target, "COMMIT");
}

}  // namespace
}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

TG_SQL_FUNCTION(tg_import_tenant)
TG_SQL_FUNCTION(tg_reconcile_tenant)
TG_SQL_FUNCTION(tg_export_tenant)

// import_tenant(source text, tenant uuid, replace boolean DEFAULT false)
//   RETURNS TABLE(table_name text, source_rows bigint, imported_rows bigint, reconciled boolean)
Datum tg_import_tenant(PG_FUNCTION_ARGS) {
    // COPY FROM bypasses the permission hook that keeps platform access read-only.
    if (platform_access_active()) refuse_platform_write("import_tenant()");
    const bool replace = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
    return run_transfer(fcinfo, "import_tenant", "import", 1, 0, "source", replace, import_body);
}

// reconcile_tenant(source text, tenant uuid) RETURNS TABLE(table_name text, source_rows bigint,
//   target_rows bigint, source_checksum text, target_checksum text, matches boolean)
Datum tg_reconcile_tenant(PG_FUNCTION_ARGS) {
    return run_transfer(fcinfo, "reconcile_tenant", "reconcile", 1, 0, "source", false, reconcile_body);
}

// export_tenant(tenant uuid, target text) RETURNS TABLE(table_name text, source_rows bigint,
//   exported_rows bigint, reconciled boolean)
Datum tg_export_tenant(PG_FUNCTION_ARGS) {
    return run_transfer(fcinfo, "export_tenant", "export", 0, 1, "target", false, export_body);
}
