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
#include "audit_capture.hpp"
#include "postgres.hpp"
#include "security_events.hpp"
#include "protection.hpp"
#include "settings.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

enum class CommandKind {
    kNewTable,
    kAlteredTable,
    kAlteredPolicy,
    kAlteredType,
    kNewView,
    kAlteredView,
    kNewRule,
    kNewMaterializedView,
    kOther
};

struct DdlCommand {
    Oid objid;
    Oid relid;  // the table or view concerned (a policy's or a rule's table; else objid)
    CommandKind kind;
    bool in_extension;
};

// What the top-level statement did that matters here.
struct AlterTableChanges {
    bool adds_tenant_column;  // ALTER TABLE ... ADD COLUMN, ALTER TYPE ... ADD ATTRIBUTE
    bool attaches_partition;
    bool changes_inheritance;  // ATTACH PARTITION, INHERIT
    bool changes_schema;
    bool renames_to_tenant_column;  // RENAME COLUMN / ATTRIBUTE ... TO the tenant column
};

CommandKind classify(const char* tag, const char* object_type) {
    const auto is = [](const char* a, const char* b) { return strcmp(a, b) == 0; };
    if (is(object_type, "table")) {
        if (is(tag, "CREATE TABLE") || is(tag, "CREATE TABLE AS") || is(tag, "SELECT INTO")) return CommandKind::kNewTable;
        if (is(tag, "ALTER TABLE")) return CommandKind::kAlteredTable;
    }
    // ALTER TABLE ... RENAME COLUMN reports the column; relid is still the table.
    if (is(object_type, "table column") && is(tag, "ALTER TABLE")) return CommandKind::kAlteredTable;
    if (is(object_type, "policy") && is(tag, "ALTER POLICY")) return CommandKind::kAlteredPolicy;
    if (is(tag, "ALTER TYPE")) return CommandKind::kAlteredType;
    if (is(object_type, "view")) {
        if (is(tag, "CREATE VIEW")) return CommandKind::kNewView;
        if (is(tag, "ALTER VIEW") || is(tag, "ALTER TABLE")) return CommandKind::kAlteredView;
    }
    if (is(object_type, "rule") && is(tag, "CREATE RULE")) return CommandKind::kNewRule;
    if (is(object_type, "materialized view") && is(tag, "CREATE MATERIALIZED VIEW"))
        return CommandKind::kNewMaterializedView;
    return CommandKind::kOther;
}

// The commands of this statement, from pg_event_trigger_ddl_commands(); palloc'd in the SPI context.
DdlCommand* collect_commands(int* count) {
    static const char* const query =
        "SELECT d.objid, d.command_tag, d.object_type, d.in_extension,"
        "       CASE d.object_type"
        "         WHEN 'policy' THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = d.objid)"
        "         WHEN 'rule' THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = d.objid)"
        "         ELSE d.objid END"
        "  FROM pg_catalog.pg_event_trigger_ddl_commands() d WHERE d.objid IS NOT NULL";
    // Not read-only: the statement's own snapshot cannot see the policies and rules it created.
    if (SPI_execute(query, false, 0) != SPI_OK_SELECT) elog(ERROR, "tenant_guard: could not read the DDL commands");
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
        const Datum relid = SPI_getbinval(tuple, descriptor, 5, &is_null);
        commands[row].relid = is_null ? InvalidOid : DatumGetObjectId(relid);
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
            if (command->subtype == AT_AttachPartition || command->subtype == AT_AddInherit)
                changes.changes_inheritance = true;
        }
    } else if (IsA(statement, CreateStmt)) {
        auto* create = castNode(CreateStmt, statement);
        changes.changes_inheritance = create->inhRelations != NIL;
    } else if (IsA(statement, AlterObjectSchemaStmt)) {
        changes.changes_schema = true;
    } else if (IsA(statement, RenameStmt)) {
        auto* rename = castNode(RenameStmt, statement);
        changes.renames_to_tenant_column =
            (rename->renameType == OBJECT_COLUMN || rename->renameType == OBJECT_ATTRIBUTE) &&
            rename->newname != nullptr && strcmp(rename->newname, settings.tenant_column) == 0;
    }
    return changes;
}

[[noreturn]] void refuse_table_without_tenant_column(Oid relid) {
    TG_REFUSE_GUARD("missing_tenant_column", qualified_relation_name(relid), ERRCODE_INVALID_TABLE_DEFINITION,
                    psprintf("table %s has no tenant column \"%s\"", qualified_relation_name(relid),
                             settings.tenant_column),
                    errdetail("Schema \"%s\" is registered as tenant-scoped (tenant_guard.register_schema).",
                              get_namespace_name(get_rel_namespace(relid))),
                    errhint("Add a column \"%s\" uuid NOT NULL.", settings.tenant_column));
    pg_unreachable();
}

void refuse_unprotected_parent(Oid relid) {
    Oid child = InvalidOid;
    Oid parent = InvalidOid;
    if (!find_unprotected_parent(relid, &child, &parent)) return;
    TG_REFUSE_GUARD("unprotected_parent", qualified_relation_name(child), ERRCODE_INSUFFICIENT_PRIVILEGE,
                    psprintf("table %s is protected by tenant_guard, but its parent %s is not",
                             qualified_relation_name(child), qualified_relation_name(parent)),
                    errdetail("A query on a parent table applies only the parent's row-level security, also to "
                              "its children's rows."),
                    errhint("Protect the parent first: tenant_guard.protect_table('%s').",
                            qualified_relation_name(parent)));
}

// After a non-superuser's statement: a guarded table must still be fully protected. The utility
// guard refuses the obvious statements up front; this catches whatever got past it, e.g. a table
// renamed by a concurrent transaction between the guard's name lookup and the statement's own.
void refuse_weakened_protection(Oid relid) {
    if (superuser()) return;
    const char* defect = protection_defect(relid);
    if (defect == nullptr) return;
    TG_REFUSE_GUARD("weaken_protection", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                    psprintf("cannot weaken table %s: it is protected by tenant_guard", qualified_relation_name(relid)),
                    errdetail("After this statement %s.", defect),
                    errhint("Only a superuser can remove the protection, with tenant_guard.unprotect_table()."));
}

bool is_table(Oid relid) {
    const char relkind = get_rel_relkind(relid);
    return relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE;
}

void protect_new_table(Oid relid, const AlterTableChanges& changes) {
    if (!is_table(relid)) return;
    if (find_tenant_column(relid) != InvalidAttrNumber) {
        protect_table_tree(relid, false);
        if (settings.audit_new_tables) audit_new_table(relid);
        if (changes.changes_inheritance) audit_like_parents(relid);
    } else if (in_registered_schema(relid))
        refuse_table_without_tenant_column(relid);
    if (changes.changes_inheritance) refuse_unprotected_parent(relid);
}

void handle_altered_table(Oid relid, const AlterTableChanges& changes) {
    if (!is_table(relid)) return;
    const bool has_tenant_column = find_tenant_column(relid) != InvalidAttrNumber;
    if (changes.adds_tenant_column || changes.renames_to_tenant_column) {
        protect_table_tree(relid, false);
    } else if (changes.attaches_partition) {
        // The event names the parent; protecting the whole tree covers the new partition.
        if (read_table_protection(relid).guarded()) protect_table_tree(relid, false);
    }
    if (changes.changes_schema && in_registered_schema(relid)) {
        if (!has_tenant_column) refuse_table_without_tenant_column(relid);
        protect_table_tree(relid, false);
    }
    if (changes.changes_inheritance) {
        refuse_unprotected_parent(relid);
        if (read_table_protection(relid).guarded()) audit_like_parents(relid);
    }
    refuse_weakened_protection(relid);
    refuse_silenced_audit(relid);
}

// ALTER TYPE ... ADD / RENAME ATTRIBUTE ... CASCADE changes the columns of the type's typed tables.
// The event names the composite type's pg_class entry.
void handle_altered_type(Oid type_relid, const AlterTableChanges& changes) {
    if (!changes.adds_tenant_column && !changes.renames_to_tenant_column) return;
    const Oid type_oid = get_rel_type_id(type_relid);
    if (type_oid == InvalidOid) return;
    Oid* tables = nullptr;
    const uint64 count = typed_tables_of(type_oid, &tables);
    for (uint64 i = 0; i < count; i++)
        if (find_tenant_column(tables[i]) != InvalidAttrNumber) protect_table_tree(tables[i], false);
}

void refuse_turned_off_invoker(Oid relid) {
    if (superuser() || get_rel_relkind(relid) != RELKIND_VIEW || !reads_protected_table(relid)) return;
    if (view_is_security_invoker(relid)) return;
    TG_REFUSE_GUARD("security_invoker_off", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                    psprintf("cannot turn off security_invoker: view %s reads tables protected by tenant_guard",
                             qualified_relation_name(relid)),
                    errdetail("A view that runs with its owner's rights could bypass their row-level security."));
}

void secure_new_view(Oid relid) {
    if (reads_protected_table(relid)) make_view_security_invoker(relid);
}

void refuse_materialized_view(Oid relid) {
    if (!reads_protected_table(relid)) return;
    TG_REFUSE_GUARD("materialized_view", qualified_relation_name(relid), ERRCODE_FEATURE_NOT_SUPPORTED,
                    psprintf("materialized view %s would copy rows of tables protected by tenant_guard",
                             qualified_relation_name(relid)),
                    errdetail("A materialized view has no row-level security: every reader would see the rows "
                              "its creator saw."),
                    errhint("Use a view, or a protected table that you fill yourself."));
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
                protect_new_table(command.objid, changes);
                break;
            case CommandKind::kAlteredTable:
                handle_altered_table(command.relid, changes);
                break;
            case CommandKind::kAlteredPolicy:
                if (command.relid != InvalidOid) refuse_weakened_protection(command.relid);
                break;
            case CommandKind::kAlteredType:
                handle_altered_type(command.objid, changes);
                break;
            case CommandKind::kNewView:
                secure_new_view(command.objid);
                break;
            case CommandKind::kAlteredView:
                refuse_turned_off_invoker(command.objid);
                break;
            case CommandKind::kNewRule:
                // CREATE RULE "_RETURN" can turn an empty table into a view.
                if (command.relid != InvalidOid && get_rel_relkind(command.relid) == RELKIND_VIEW)
                    secure_new_view(command.relid);
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
    {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
        const auto* event = reinterpret_cast<EventTriggerData*>(fcinfo->context);
        record_dropped_audit_triggers(GetCommandTagName(event->tag));
        SPI_finish();
    }
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
        TG_REFUSE_GUARD("weaken_protection", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                        psprintf("cannot drop policy \"%s\": table %s is protected by tenant_guard", policy,
                                 qualified_relation_name(relid)),
                        errdetail("The statement would drop the policy together with something it depends on."),
                        errhint("Only a superuser can remove the protection, with tenant_guard.unprotect_table()."));
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
