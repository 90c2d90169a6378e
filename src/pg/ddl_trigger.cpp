// The ddl_command_end event trigger (tenant_guard.on_ddl_command_end) and the SQL functions
// protect_table() / unprotect_table(). The trigger protects every new table that has the tenant
// column, fails closed in registered tenant schemas, makes views over protected tables
// security_invoker and refuses materialized views over them.
//
// It runs as the user whose command fired it (the new table's owner), with
// search_path = pg_catalog, pg_temp set on the function; all the SQL it runs is schema-qualified.
// Tables created by another extension's script are left to that extension. While
// tenant_guard.restoring is on it does nothing: the dump being restored recreates the protection.
//
// PostgreSQL-style code: no C++ object with a destructor is alive across a call that may ereport().
#include "postgres.hpp"
#include "protection.hpp"
#include "settings.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

enum class CommandKind { kNewTable, kAlteredTable, kNewView, kNewMaterializedView, kOther };

struct DdlCommand {
    Oid objid;
    CommandKind kind;
    bool in_extension;
};

// What the top-level ALTER TABLE statement did that matters here.
struct AlterTableChanges {
    bool adds_tenant_column;
    bool attaches_partition;
    bool changes_schema;
    bool renames_to_tenant_column;
};

CommandKind classify(const char* tag, const char* object_type) {
    if (strcmp(object_type, "table") == 0) {
        if (strcmp(tag, "CREATE TABLE") == 0 || strcmp(tag, "CREATE TABLE AS") == 0 || strcmp(tag, "SELECT INTO") == 0)
            return CommandKind::kNewTable;
        if (strcmp(tag, "ALTER TABLE") == 0) return CommandKind::kAlteredTable;
    }
    // ALTER TABLE ... RENAME COLUMN reports the column; objid is still the table.
    if (strcmp(object_type, "table column") == 0 && strcmp(tag, "ALTER TABLE") == 0) return CommandKind::kAlteredTable;
    if (strcmp(object_type, "view") == 0 && strcmp(tag, "CREATE VIEW") == 0) return CommandKind::kNewView;
    if (strcmp(object_type, "materialized view") == 0 && strcmp(tag, "CREATE MATERIALIZED VIEW") == 0)
        return CommandKind::kNewMaterializedView;
    return CommandKind::kOther;
}

// The commands of this statement, from pg_event_trigger_ddl_commands(); palloc'd in the SPI context.
DdlCommand* collect_commands(int* count) {
    static const char* const query =
        "SELECT objid, command_tag, object_type, in_extension FROM pg_catalog.pg_event_trigger_ddl_commands()"
        " WHERE objid IS NOT NULL";
    if (SPI_execute(query, true, 0) != SPI_OK_SELECT) elog(ERROR, "tenant_guard: could not read the DDL commands");
    const uint64 rows = SPI_processed;
    auto* commands = static_cast<DdlCommand*>(palloc0(sizeof(DdlCommand) * (rows + 1)));
    TupleDesc descriptor = SPI_tuptable->tupdesc;
    for (uint64 row = 0; row < rows; row++) {
        HeapTuple tuple = SPI_tuptable->vals[row];
        bool is_null = false;
        commands[row].objid = DatumGetObjectId(SPI_getbinval(tuple, descriptor, 1, &is_null));
        const char* tag = SPI_getvalue(tuple, descriptor, 2);
        const char* object_type = SPI_getvalue(tuple, descriptor, 3);
        commands[row].kind = (tag && object_type) ? classify(tag, object_type) : CommandKind::kOther;
        const Datum in_extension = SPI_getbinval(tuple, descriptor, 4, &is_null);
        commands[row].in_extension = !is_null && DatumGetBool(in_extension);
    }
    *count = static_cast<int>(rows);
    return commands;
}

AlterTableChanges inspect_statement(Node* statement) {
    AlterTableChanges changes{};
    if (statement == nullptr) return changes;
    if (IsA(statement, AlterTableStmt)) {
        ListCell* cell;
        foreach (cell, castNode(AlterTableStmt, statement)->cmds) {
            auto* command = castNode(AlterTableCmd, lfirst(cell));
            if (command->subtype == AT_AddColumn && command->def != nullptr && IsA(command->def, ColumnDef) &&
                strcmp(castNode(ColumnDef, command->def)->colname, settings.tenant_column) == 0)
                changes.adds_tenant_column = true;
            if (command->subtype == AT_AttachPartition) changes.attaches_partition = true;
        }
    } else if (IsA(statement, AlterObjectSchemaStmt)) {
        changes.changes_schema = true;
    } else if (IsA(statement, RenameStmt)) {
        auto* rename = castNode(RenameStmt, statement);
        changes.renames_to_tenant_column = rename->renameType == OBJECT_COLUMN && rename->newname != nullptr &&
                                           strcmp(rename->newname, settings.tenant_column) == 0;
    }
    return changes;
}

[[noreturn]] void refuse_table_without_tenant_column(Oid relid) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                    errmsg("table %s has no tenant column \"%s\"", qualified_relation_name(relid),
                           settings.tenant_column),
                    errdetail("Schema \"%s\" is registered as tenant-scoped (tenant_guard.register_schema).",
                              get_namespace_name(get_rel_namespace(relid))),
                    errhint("Add a column \"%s\" uuid NOT NULL.", settings.tenant_column)));
    pg_unreachable();
}

void protect_new_table(Oid relid) {
    const char relkind = get_rel_relkind(relid);
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) return;
    if (find_tenant_column(relid) != InvalidAttrNumber)
        protect_table_tree(relid, false);
    else if (in_registered_schema(relid))
        refuse_table_without_tenant_column(relid);
}

void handle_altered_table(Oid relid, const AlterTableChanges& changes) {
    const char relkind = get_rel_relkind(relid);
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) return;
    if (changes.adds_tenant_column || changes.renames_to_tenant_column) {
        protect_table_tree(relid, false);
    } else if (changes.attaches_partition) {
        // The event names the parent; protecting the whole tree covers the new partition.
        if (read_table_protection(relid).guarded()) protect_table_tree(relid, false);
    }
    if (changes.changes_schema && find_tenant_column(relid) == InvalidAttrNumber && in_registered_schema(relid))
        refuse_table_without_tenant_column(relid);
}

void secure_new_view(Oid relid) {
    if (reads_protected_table(relid)) make_view_security_invoker(relid);
}

void refuse_materialized_view(Oid relid) {
    if (!reads_protected_table(relid)) return;
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("materialized view %s would copy rows of tables protected by tenant_guard",
                           qualified_relation_name(relid)),
                    errdetail("A materialized view has no row-level security: every reader would see the rows "
                              "its creator saw."),
                    errhint("Use a view, or a protected table that you fill yourself.")));
}

}  // namespace

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_on_ddl_command_end)
TG_SQL_FUNCTION(tg_on_sql_drop)
TG_SQL_FUNCTION(tg_protect_table)
TG_SQL_FUNCTION(tg_unprotect_table)

Datum tg_on_ddl_command_end(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("tenant_guard.on_ddl_command_end() must be called as an event trigger")));
    if (settings.restoring || protection_in_progress()) PG_RETURN_VOID();

    const AlterTableChanges changes = inspect_statement(reinterpret_cast<EventTriggerData*>(fcinfo->context)->parsetree);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    int count = 0;
    DdlCommand* commands = collect_commands(&count);
    for (int i = 0; i < count; i++) {
        const DdlCommand& command = commands[i];
        if (command.in_extension) continue;
        switch (command.kind) {
            case CommandKind::kNewTable:
                protect_new_table(command.objid);
                break;
            case CommandKind::kAlteredTable:
                handle_altered_table(command.objid, changes);
                break;
            case CommandKind::kNewView:
                secure_new_view(command.objid);
                break;
            case CommandKind::kNewMaterializedView:
                refuse_materialized_view(command.objid);
                break;
            case CommandKind::kOther:
                break;
        }
    }
    SPI_finish();
    PG_RETURN_VOID();
}

// The guards in utility_guard.cpp see DROP POLICY and ALTER TABLE ... DROP COLUMN, but a policy
// also goes when something it depends on is dropped with CASCADE: the tenant column's domain, the
// composite type of a typed table (ALTER TYPE ... DROP ATTRIBUTE ... CASCADE). Whatever the
// statement, a non-superuser may not remove tenant_guard's policies from a table that stays.
Datum tg_on_sql_drop(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("tenant_guard.on_sql_drop() must be called as an event trigger")));
    if (protection_in_progress() || superuser()) PG_RETURN_VOID();
    static const char* const query =
        "SELECT d.address_names[3], t.oid"
        "  FROM pg_catalog.pg_event_trigger_dropped_objects() d"
        "  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) d.address_names[1]"
        "  JOIN pg_catalog.pg_class t ON t.relnamespace OPERATOR(pg_catalog.=) n.oid"
        "   AND t.relname OPERATOR(pg_catalog.=) d.address_names[2]"
        " WHERE d.object_type OPERATOR(pg_catalog.=) 'policy'"
        "   AND d.address_names[3] OPERATOR(pg_catalog.=) ANY"
        "       ('{tenant_guard_isolation,tenant_guard_tenant_rows}'::pg_catalog.text[])"
        " LIMIT 1";
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    if (SPI_execute(query, false, 0) != SPI_OK_SELECT) elog(ERROR, "tenant_guard: could not read the dropped objects");
    if (SPI_processed > 0) {
        const char* policy = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
        bool is_null = false;
        const Oid relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &is_null));
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("cannot drop policy \"%s\": table %s is protected by tenant_guard", policy,
                               qualified_relation_name(relid)),
                        errdetail("The statement would drop the policy together with something it depends on."),
                        errhint("Only a superuser can remove the protection, with tenant_guard.unprotect_table().")));
    }
    SPI_finish();
    PG_RETURN_VOID();
}

Datum tg_protect_table(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("table must not be null")));
    const Oid relid = PG_GETARG_OID(0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    protect_table_tree(relid, true);
    SPI_finish();
    PG_RETURN_VOID();
}

Datum tg_unprotect_table(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("table must not be null")));
    const Oid relid = PG_GETARG_OID(0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    unprotect_table_tree(relid);
    SPI_finish();
    PG_RETURN_VOID();
}

}  // extern "C"
