// The audit ledger is append-only, for every role including superusers and the tables' owner:
//   executor   INSERT / UPDATE / DELETE / MERGE / SELECT FOR UPDATE / COPY FROM on a ledger table,
//              except tenant_guard's own writes (ledger.hpp, run_as_ledger_writer);
//   utility    TRUNCATE, ALTER, RENAME, rules, triggers and policies on ledger tables; disabling,
//              re-enabling as non-ALWAYS, dropping or renaming an audited table's audit triggers;
//              CREATE OR REPLACE of tenant_guard's functions;
//   drop       the ledger tables and tenant_guard's functions, by DROP TABLE / SCHEMA ... CASCADE /
//              OWNED / FUNCTION ... CASCADE (object-access hook), unless DROP EXTENSION is running.
// What a superuser can still do (start the server without the library, edit catalogs) is what the
// ledger's hashes and the digests kept outside are for.
//
// PostgreSQL-style code: no C++ object with a destructor.
#include "ledger_guard.hpp"

#include "audit_capture.hpp"
#include "ledger.hpp"
#include "database_worker.hpp"
#include "protection.hpp"
#include "postgres.hpp"
#include "security_events.hpp"
#include "settings.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

ExecutorCheckPerms_hook_type previous_check_perms = nullptr;
object_access_hook_type previous_object_access = nullptr;
bool dropping_extension = false;

constexpr AclMode kWritePermissions = ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;

[[noreturn]] void refuse_ledger_change(const char* what) {
    TG_REFUSE_GUARD("ledger_append_only", what, ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "the tenant_guard audit ledger is append-only", errdetail("%s is not allowed, for any role.", what),
                    errhint("Entries are written by audited tables' triggers, blocks by the sealer; "
                            "prune_audit() removes whole sealed blocks."));
    pg_unreachable();
}

bool check_ledger_permissions(TG_CHECK_PERMS_HOOK_ARGS) {
    if (!ledger_write_in_progress() && !creating_extension) {
        ListCell* cell;
        foreach (cell, TG_PERMISSION_LIST) {
            auto* entry = static_cast<TG_PERMISSION_ENTRY*>(lfirst(cell));
            if (!TG_PERMISSION_APPLIES(entry) || (entry->requiredPerms & kWritePermissions) == 0) continue;
            if (ledger_table_of(entry->relid) != LedgerTable::kNone) {
                if (!ereport_on_violation) return false;
                refuse_ledger_change(psprintf("Writing to %s", get_rel_name(entry->relid)));
            }
        }
    }
    if (previous_check_perms) return previous_check_perms(TG_CHECK_PERMS_HOOK_PASS);
    return true;
}

Oid guarded_schema() { return ledger_installed() ? get_namespace_oid("tenant_guard", true) : InvalidOid; }

// tenant_guard's own objects (tables, views, sequences, indexes, functions) are changed only by its
// scripts: a renamed or replaced function or view could quietly report that all is well.
bool in_guarded_schema(RangeVar* relation) {
    if (relation == nullptr) return false;
    const Oid schema = guarded_schema();
    if (schema == InvalidOid) return false;
    const Oid relid = RangeVarGetRelid(relation, NoLock, true);
    return relid != InvalidOid && get_rel_namespace(relid) == schema;
}

bool function_in_guarded_schema(ObjectWithArgs* function, ObjectType type) {
    const Oid schema = guarded_schema();
    if (schema == InvalidOid || function == nullptr) return false;
    const Oid oid = LookupFuncWithArgs(type, function, true);
    return oid != InvalidOid && get_func_namespace(oid) == schema;
}

bool is_ledger_relation(RangeVar* relation) {
    if (relation == nullptr) return false;
    const Oid relid = RangeVarGetRelid(relation, NoLock, true);
    return ledger_table_of(relid) != LedgerTable::kNone;
}

bool has_audit_trigger(RangeVar* relation) {
    const Oid relid = RangeVarGetRelid(relation, NoLock, true);
    return relid != InvalidOid && get_trigger_oid(relid, kAuditTriggerName, true) != InvalidOid;
}

[[noreturn]] void refuse_trigger_change(const char* action, RangeVar* relation) {
    TG_REFUSE_GUARD("silence_audit", relation->relname, ERRCODE_INSUFFICIENT_PRIVILEGE,
                    psprintf("cannot %s: table %s is audited by tenant_guard", action, relation->relname),
                    errhint("A superuser can stop auditing it with tenant_guard.unaudit_table(), which the ledger "
                            "records."));
    pg_unreachable();
}

Jsonb* json_object_of(const char* key, const char* value) {
    StringInfoData text;
    initStringInfo(&text);
    appendStringInfoString(&text, "{");
    escape_json(&text, key);
    appendStringInfoString(&text, ": ");
    escape_json(&text, value);
    appendStringInfoChar(&text, '}');
    return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text.data)));
}

// What an ALTER TABLE did, for the ledger (names only: the statement's text may hold values).
const char* subcommand_name(AlterTableType type) {
    switch (type) {
        case AT_AddColumn: return "ADD COLUMN";
        case AT_DropColumn: return "DROP COLUMN";
        case AT_AlterColumnType: return "ALTER COLUMN TYPE";
        case AT_ColumnDefault: return "ALTER COLUMN DEFAULT";
        case AT_DropNotNull: return "DROP NOT NULL";
        case AT_SetNotNull: return "SET NOT NULL";
        case AT_AddConstraint: return "ADD CONSTRAINT";
        case AT_DropConstraint: return "DROP CONSTRAINT";
        case AT_AttachPartition: return "ATTACH PARTITION";
        case AT_DetachPartition: return "DETACH PARTITION";
        case AT_AddInherit: return "INHERIT";
        case AT_DropInherit: return "NO INHERIT";
        case AT_ChangeOwner: return "OWNER TO";
        case AT_EnableRowSecurity: return "ENABLE ROW LEVEL SECURITY";
        case AT_ForceRowSecurity: return "FORCE ROW LEVEL SECURITY";
        case AT_EnableAlwaysTrig: return "ENABLE ALWAYS TRIGGER";
        case AT_SetRelOptions: return "SET (options)";
        default: return "other";
    }
}

// Names of the excluded columns are the audit trigger's arguments.
bool is_excluded_column(Oid relid, const char* column) {
    const Oid trigger_oid = get_trigger_oid(relid, kAuditTriggerName, true);
    if (trigger_oid == InvalidOid || column == nullptr) return false;
    Relation triggers = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(trigger_oid));
    SysScanDesc scan = systable_beginscan(triggers, TriggerOidIndexId, true, nullptr, 1, &key);
    bool excluded = false;
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        const auto* form = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
        bool is_null;
        const Datum args = heap_getattr(tuple, Anum_pg_trigger_tgargs, RelationGetDescr(triggers), &is_null);
        if (!is_null) {
            bytea* bytes = DatumGetByteaPP(args);
            const char* cursor = VARDATA_ANY(bytes);
            for (int i = 0; i < form->tgnargs; i++) {
                if (strcmp(cursor, column) == 0) excluded = true;
                cursor += strlen(cursor) + 1;
            }
        }
    }
    systable_endscan(scan);
    table_close(triggers, AccessShareLock);
    return excluded;
}

void inspect_alter_table(const AlterTableStmt* statement) {
    if (is_ledger_relation(statement->relation) || in_guarded_schema(statement->relation))
        refuse_ledger_change("ALTER of tenant_guard's objects");
    if (!has_audit_trigger(statement->relation)) return;
    const Oid relid = RangeVarGetRelid(statement->relation, NoLock, true);
    // Schema changes can change data without a row trigger firing (ALTER COLUMN ... TYPE ... USING,
    // DROP COLUMN, ATTACH PARTITION of a filled table): the ledger records every ALTER TABLE of an
    // audited table, with its subcommands, in the same transaction.
    if (!protection_in_progress()) {
        StringInfoData kinds;
        initStringInfo(&kinds);
        ListCell* cell;
        foreach (cell, statement->cmds) {
            const auto* command = castNode(AlterTableCmd, lfirst(cell));
            appendStringInfo(&kinds, "%s%s", kinds.len ? ", " : "", subcommand_name(command->subtype));
        }
        record_system_entry("ALTER_AUDITED_TABLE", ledger_entity_name(relid), json_object_of("subcommands", kinds.data));
    }
    ListCell* cell;
    foreach (cell, statement->cmds) {
        const auto* command = castNode(AlterTableCmd, lfirst(cell));
        switch (command->subtype) {
            case AT_DisableTrigAll:
            case AT_DisableTrigUser:
            case AT_EnableTrigAll:
            case AT_EnableTrigUser:
                refuse_trigger_change("change the firing of all triggers", statement->relation);
            // ENABLE ALWAYS is the state audit_table() leaves (and what a restored dump sets).
            case AT_DisableTrig:
            case AT_EnableTrig:
            case AT_EnableReplicaTrig:
                if (is_audit_trigger_name(command->name))
                    refuse_trigger_change(psprintf("change trigger \"%s\"", command->name), statement->relation);
                break;
            case AT_DetachPartition: {
                // The partition leaves with its cloned audit trigger dropped internally (no sql_drop
                // event): the ledger records that it is no longer audited, in the same transaction.
                const Oid partition = RangeVarGetRelid(castNode(PartitionCmd, command->def)->name, NoLock, true);
                if (partition == InvalidOid) break;
                StringInfoData details;
                initStringInfo(&details);
                appendStringInfoString(&details, "{\"parent\": ");
                escape_json(&details, ledger_entity_name(RangeVarGetRelid(statement->relation, NoLock, false)));
                appendStringInfoChar(&details, '}');
                record_system_entry("DETACH_AUDITED_PARTITION", ledger_entity_name(partition),
                                    DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(details.data))));
                break;
            }
            default:
                break;
        }
    }
}

void inspect_drop(const DropStmt* statement) {
    ListCell* cell;
    if (statement->removeType != OBJECT_TRIGGER) return;
    foreach (cell, statement->objects) {
        List* names = castNode(List, lfirst(cell));
        const char* trigger = strVal(llast(names));
        List* owner_names = list_truncate(list_copy(names), list_length(names) - 1);
        if (in_guarded_schema(makeRangeVarFromNameList(owner_names))) refuse_ledger_change("Dropping tenant_guard's triggers");
        if (!is_audit_trigger_name(trigger)) continue;
        List* table_names = list_truncate(list_copy(names), list_length(names) - 1);
        RangeVar* table = makeRangeVarFromNameList(table_names);
        if (has_audit_trigger(table)) refuse_trigger_change(psprintf("drop trigger \"%s\"", trigger), table);
    }
}

bool names_tenant_guard_schema(List* qualified_name) {
    char* schema = nullptr;
    char* name = nullptr;
    DeconstructQualifiedName(qualified_name, &schema, &name);
    if (schema != nullptr) return strcmp(schema, "tenant_guard") == 0;
    List* path = fetch_search_path(false);
    return path != NIL && linitial_oid(path) == get_namespace_oid("tenant_guard", true);
}

void inspect_statement(Node* statement) {
    switch (nodeTag(statement)) {
        case T_TruncateStmt: {
            ListCell* cell;
            foreach (cell, castNode(TruncateStmt, statement)->relations) {
                auto* relation = castNode(RangeVar, lfirst(cell));
                if (is_ledger_relation(relation)) refuse_ledger_change("TRUNCATE");
                // Partitions inherit the row trigger but not the statement trigger that records TRUNCATE.
                const Oid relid = RangeVarGetRelid(relation, NoLock, true);
                if (relid != InvalidOid && get_trigger_oid(relid, kAuditTriggerName, true) != InvalidOid &&
                    get_trigger_oid(relid, kAuditTruncateTriggerName, true) == InvalidOid)
                    record_system_entry("TRUNCATE", ledger_entity_name(relid), json_object_of("statement", "TRUNCATE"));
            }
            break;
        }
        case T_AlterTableStmt:
            inspect_alter_table(castNode(AlterTableStmt, statement));
            break;
        case T_DropStmt:
            inspect_drop(castNode(DropStmt, statement));
            break;
        case T_RenameStmt: {
            auto* rename = castNode(RenameStmt, statement);
            if (rename->relation != nullptr && (is_ledger_relation(rename->relation) || in_guarded_schema(rename->relation)))
                refuse_ledger_change("Renaming tenant_guard's objects");
            if ((rename->renameType == OBJECT_FUNCTION || rename->renameType == OBJECT_PROCEDURE) &&
                function_in_guarded_schema(castNode(ObjectWithArgs, rename->object), rename->renameType))
                refuse_ledger_change("Renaming tenant_guard's functions");
            // The ledger is found by its schema's name: renaming the schema would hide it from the guards.
            if (rename->renameType == OBJECT_SCHEMA && strcmp(rename->subname, "tenant_guard") == 0 && ledger_installed())
                refuse_ledger_change("Renaming schema tenant_guard");
            if (rename->renameType == OBJECT_TRIGGER &&
                (is_audit_trigger_name(rename->subname) || is_reserved_trigger_name(rename->newname)))
                refuse_trigger_change("rename an audit trigger", rename->relation);
            if (rename->relation != nullptr && has_audit_trigger(rename->relation)) {
                const Oid relid = RangeVarGetRelid(rename->relation, NoLock, true);
                // Exclusions are kept by column name: renamed, the secret would be stored.
                if (rename->renameType == OBJECT_COLUMN && is_excluded_column(relid, rename->subname))
                    refuse_trigger_change(psprintf("rename column \"%s\", which the audit excludes", rename->subname),
                                          rename->relation);
                if (rename->renameType == OBJECT_TABLE)
                    record_system_entry("RENAME_AUDITED_TABLE", ledger_entity_name(relid),
                                        json_object_of("new_name", rename->newname));
            }
            break;
        }
        case T_AlterObjectDependsStmt: {
            auto* depends = castNode(AlterObjectDependsStmt, statement);
            if (depends->objectType == OBJECT_TRIGGER && depends->object != nullptr) {
                List* names = castNode(List, depends->object);
                if (is_audit_trigger_name(strVal(llast(names))))
                    refuse_trigger_change("make an audit trigger depend on an extension", depends->relation);
            }
            break;
        }
        case T_AlterObjectSchemaStmt: {
            auto* move = castNode(AlterObjectSchemaStmt, statement);
            if (in_guarded_schema(move->relation) ||
                ((move->objectType == OBJECT_FUNCTION || move->objectType == OBJECT_PROCEDURE) &&
                 function_in_guarded_schema(castNode(ObjectWithArgs, move->object), move->objectType)))
                refuse_ledger_change("Moving tenant_guard's objects");
            if (move->relation != nullptr && is_ledger_relation(move->relation)) refuse_ledger_change("SET SCHEMA");
            break;
        }
        case T_AlterOwnerStmt: {
            auto* owner = castNode(AlterOwnerStmt, statement);
            if ((owner->objectType == OBJECT_FUNCTION || owner->objectType == OBJECT_PROCEDURE) &&
                function_in_guarded_schema(castNode(ObjectWithArgs, owner->object), owner->objectType))
                refuse_ledger_change("Changing the owner of tenant_guard's functions");
            break;
        }
        case T_AlterFunctionStmt: {
            auto* alter = castNode(AlterFunctionStmt, statement);
            if (function_in_guarded_schema(alter->func, alter->objtype)) refuse_ledger_change("ALTER FUNCTION of tenant_guard's functions");
            break;
        }
        case T_AlterSeqStmt:
            if (in_guarded_schema(castNode(AlterSeqStmt, statement)->sequence)) refuse_ledger_change("ALTER SEQUENCE");
            break;
        case T_ViewStmt:
            if (castNode(ViewStmt, statement)->replace && in_guarded_schema(castNode(ViewStmt, statement)->view))
                refuse_ledger_change("Replacing tenant_guard's views");
            break;
        case T_AlterExtensionContentsStmt: {
            auto* contents = castNode(AlterExtensionContentsStmt, statement);
            if (contents->action < 0 && strcmp(contents->extname, "tenant_guard") == 0 && ledger_installed())
                refuse_ledger_change("Removing objects from extension tenant_guard");
            break;
        }
        case T_CreateTrigStmt: {
            auto* create = castNode(CreateTrigStmt, statement);
            if (is_ledger_relation(create->relation)) refuse_ledger_change("CREATE TRIGGER");
            if (is_reserved_trigger_name(create->trigname) && !settings.restoring)
                TG_REFUSE_GUARD("reserved_name", create->trigname, ERRCODE_RESERVED_NAME,
                                psprintf("trigger name \"%s\" is reserved for tenant_guard", create->trigname),
                                errhint("Use tenant_guard.audit_table() to audit a table. To restore a dump, set "
                                        "tenant_guard.restoring = on for the restoring session."));
            break;
        }
        case T_RuleStmt:
            if (is_ledger_relation(castNode(RuleStmt, statement)->relation)) refuse_ledger_change("CREATE RULE");
            break;
        case T_CreatePolicyStmt:
            if (is_ledger_relation(castNode(CreatePolicyStmt, statement)->table)) refuse_ledger_change("CREATE POLICY");
            break;
        case T_AlterPolicyStmt:
            if (is_ledger_relation(castNode(AlterPolicyStmt, statement)->table)) refuse_ledger_change("ALTER POLICY");
            break;
        case T_CreateFunctionStmt: {
            auto* create = castNode(CreateFunctionStmt, statement);
            if (create->replace && names_tenant_guard_schema(create->funcname))
                refuse_ledger_change("Replacing tenant_guard's functions");
            break;
        }
        default:
            break;
    }
}

void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void* arg) {
    if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
    // DROP DATABASE calls this after its permission checks: only then may it stop the database's
    // sealer (which would otherwise keep the database busy).
    if (access == OAT_DROP && class_id == DatabaseRelationId) {
        stop_database_worker(object_id);
        return;
    }
    if (access != OAT_DROP || dropping_extension || creating_extension) return;
    // PostgreSQL's own internal drops (the transient heap of VACUUM FULL, CLUSTER or a table
    // rewrite, the old index of REINDEX CONCURRENTLY) are maintenance, not removal.
    if (arg != nullptr && (static_cast<ObjectAccessDrop*>(arg)->dropflags & PERFORM_DELETION_INTERNAL)) return;
    if (class_id == RelationRelationId && sub_id == 0 &&
        (ledger_table_of(object_id) != LedgerTable::kNone ||
         (get_rel_namespace(object_id) == guarded_schema() && guarded_schema() != InvalidOid)))
        refuse_ledger_change(psprintf("Dropping %s", get_rel_name(object_id)));
    if (class_id == ProcedureRelationId && get_func_namespace(object_id) == get_namespace_oid("tenant_guard", true) &&
        ledger_installed())
        refuse_ledger_change(psprintf("Dropping function tenant_guard.%s", get_func_name(object_id)));
}

}  // namespace

bool guard_ledger_utility(Node* statement) {
    if (IsA(statement, DropStmt) && castNode(DropStmt, statement)->removeType == OBJECT_EXTENSION) {
        ListCell* cell;
        foreach (cell, castNode(DropStmt, statement)->objects)
            if (strcmp(strVal(lfirst(cell)), "tenant_guard") == 0) return true;
        return false;
    }
    if (creating_extension || audit_ddl_in_progress()) return false;
    inspect_statement(statement);
    return false;
}

void run_guarded_utility(bool drops_extension, void (*run)(void* arg), void* arg) {
    const bool saved = dropping_extension;
    PG_TRY();
    {
        dropping_extension = saved || drops_extension;
        run(arg);
    }
    PG_FINALLY();
    {
        dropping_extension = saved;
    }
    PG_END_TRY();
}

void install_ledger_guard() {
    previous_check_perms = ExecutorCheckPerms_hook;
    ExecutorCheckPerms_hook = check_ledger_permissions;
    previous_object_access = object_access_hook;
    object_access_hook = on_object_access;
    register_ledger_cache_invalidation();
}

}  // namespace tenant_guard::pg
