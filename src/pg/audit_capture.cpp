// Capturing changes into the audit ledger: the row trigger tenant_guard.audit_trigger(), and
// audit_table() / unaudit_table() that attach and remove it.
//
// Row values are stored as jsonb built from a canonical text form of each column, so that an entry
// (and its hash) never depends on the session's TimeZone, DateStyle, IntervalStyle,
// extra_float_digits, bytea_output or lc_monetary: date and time types are written in ISO 8601 UTC,
// floats in their shortest exact form, bytea in hex. Types whose text form could depend on a
// setting but that are not handled natively (interval, money, arrays, composites, ranges) are
// printed with those settings pinned to fixed values for the duration of the row.
//
// PostgreSQL-style code (ereport, SPI): no C++ object with a destructor.
#include "audit_capture.hpp"

#include "../core/ledger.hpp"
#include "boundary.hpp"
#include "context.hpp"
#include "ledger.hpp"
#include "database_worker.hpp"
#include "postgres.hpp"
#include "security_events.hpp"
#include "protection.hpp"
#include "settings.hpp"

#include <cmath>
#include <cstring>

namespace tenant_guard::pg {

const char* const kAuditTriggerName = "tenant_guard_audit";
const char* const kAuditTruncateTriggerName = "tenant_guard_audit_truncate";

namespace {

enum class ValueKind { kBool, kNumber, kFloat4, kFloat8, kJson, kJsonb, kTimestampTz, kTimestamp, kDate, kTime, kBytea, kText, kPinned, kArray };

// How one value of a type is written. An array of a natively handled type becomes a JSON array
// (one dimension; others are printed as text with the settings pinned).
struct ValuePlan {
    ValueKind kind;
    FmgrInfo output;
    ValuePlan* element;  // kArray only
    Oid element_type;
    int16 element_length;
    bool element_by_value;
    char element_align;
};

struct ColumnPlan {
    bool skip;       // dropped column
    bool excluded;   // never stored
    bool in_key;     // part of the primary key
    ValuePlan value;
    const char* name;
};

// Per trigger call site (fn_extra), built on the first row of each statement.
struct AuditPlan {
    Oid relid;
    AttrNumber tenant_attnum;
    int natts;
    int key_count;
    bool key_excluded;
    char* entity_type;
    ColumnPlan* columns;
};

ValueKind kind_of(Oid type) {
    const Oid base = getBaseType(type);
    switch (base) {
        case BOOLOID: return ValueKind::kBool;
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case OIDOID:
        case NUMERICOID: return ValueKind::kNumber;
        case FLOAT4OID: return ValueKind::kFloat4;
        case FLOAT8OID: return ValueKind::kFloat8;
        case JSONOID: return ValueKind::kJson;
        case JSONBOID: return ValueKind::kJsonb;
        case TIMESTAMPTZOID: return ValueKind::kTimestampTz;
        case TIMESTAMPOID: return ValueKind::kTimestamp;
        case DATEOID: return ValueKind::kDate;
        case TIMEOID: return ValueKind::kTime;
        case BYTEAOID: return ValueKind::kBytea;
        case INTERVALOID:
        case TIMETZOID:
        case MONEYOID: return ValueKind::kPinned;
        default: break;
    }
    const char type_type = get_typtype(base);
    if (type_type == TYPTYPE_COMPOSITE || type_type == TYPTYPE_RANGE || type_type == TYPTYPE_MULTIRANGE ||
        type_type == TYPTYPE_PSEUDO)
        return ValueKind::kPinned;
    const Oid element = get_element_type(base);
    if (OidIsValid(element)) {
        const ValueKind element_kind = kind_of(element);
        return element_kind == ValueKind::kPinned || element_kind == ValueKind::kArray ? ValueKind::kPinned
                                                                                        : ValueKind::kArray;
    }
    return ValueKind::kText;
}

// Called with fn_mcxt current.
void plan_value(ValuePlan* plan, Oid type) {
    plan->kind = kind_of(type);
    Oid output_function;
    bool is_varlena;
    getTypeOutputInfo(type, &output_function, &is_varlena);
    fmgr_info_cxt(output_function, &plan->output, CurrentMemoryContext);
    if (plan->kind != ValueKind::kArray) return;
    plan->element_type = get_element_type(getBaseType(type));
    get_typlenbyvalalign(plan->element_type, &plan->element_length, &plan->element_by_value, &plan->element_align);
    plan->element = static_cast<ValuePlan*>(palloc0(sizeof(ValuePlan)));
    plan_value(plan->element, plan->element_type);
}

bool name_in_args(const char* name, const Trigger* trigger) {
    for (int i = 0; i < trigger->tgnargs; i++)
        if (strcmp(trigger->tgargs[i], name) == 0) return true;
    return false;
}

// The tenant column of a protected table, from the relcache's copy of its policies (no catalog
// scan: this runs for every audited statement): the Var that tenant_guard_isolation compares.
// InvalidAttrNumber when the table is not protected.
AttrNumber protected_tenant_column(Relation relation) {
    const RowSecurityDesc* policies = relation->rd_rsdesc;
    if (policies == nullptr || !relation->rd_rel->relrowsecurity) return InvalidAttrNumber;
    ListCell* cell;
    foreach (cell, policies->policies) {
        const auto* policy = static_cast<const RowSecurityPolicy*>(lfirst(cell));
        if (strcmp(policy->policy_name, kIsolationPolicyName) != 0 || policy->qual == nullptr) continue;
        if (!IsA(policy->qual, OpExpr)) return InvalidAttrNumber;
        const auto* comparison = reinterpret_cast<const OpExpr*>(policy->qual);
        if (list_length(comparison->args) != 2 || !IsA(linitial(comparison->args), Var)) return InvalidAttrNumber;
        const AttrNumber attnum = static_cast<const Var*>(linitial(comparison->args))->varattno;
        // A policy someone rewrote (a superuser can) may compare another column: only a uuid will do.
        const TupleDesc descriptor = RelationGetDescr(relation);
        if (attnum < 1 || attnum > descriptor->natts || TupleDescAttr(descriptor, attnum - 1)->atttypid != UUIDOID)
            return InvalidAttrNumber;
        return attnum;
    }
    return InvalidAttrNumber;
}

AuditPlan* build_plan(FunctionCallInfo fcinfo, const TriggerData* data) {
    const Relation relation = data->tg_relation;
    const TupleDesc descriptor = RelationGetDescr(relation);
    MemoryContext old_context = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
    auto* plan = static_cast<AuditPlan*>(palloc0(sizeof(AuditPlan)));
    plan->relid = RelationGetRelid(relation);
    plan->tenant_attnum = protected_tenant_column(relation);
    plan->natts = descriptor->natts;
    plan->entity_type = ledger_entity_name(plan->relid);
    plan->columns = static_cast<ColumnPlan*>(palloc0(sizeof(ColumnPlan) * (descriptor->natts > 0 ? descriptor->natts : 1)));
    Bitmapset* key = RelationGetIndexAttrBitmap(relation, INDEX_ATTR_BITMAP_PRIMARY_KEY);
    for (int i = 0; i < descriptor->natts; i++) {
        const Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        ColumnPlan& column = plan->columns[i];
        column.skip = attribute->attisdropped;
        if (column.skip) continue;
        column.name = pstrdup(NameStr(attribute->attname));
        column.excluded = name_in_args(column.name, data->tg_trigger);
        column.in_key = bms_is_member(attribute->attnum - FirstLowInvalidHeapAttributeNumber, key);
        if (column.in_key) {
            plan->key_count++;
            if (column.excluded) plan->key_excluded = true;
        }
        plan_value(&column.value, attribute->atttypid);
    }
    MemoryContextSwitchTo(old_context);
    return plan;
}

// The settings that change how the pinned kinds print, and the fixed values used for them.
const char* const kPinnedSettings[][2] = {
    {"DateStyle", "ISO, YMD"}, {"IntervalStyle", "iso_8601"}, {"TimeZone", "UTC"},
    {"extra_float_digits", "1"}, {"bytea_output", "hex"},     {"lc_monetary", "C"},
};

// The GUC nest level of the pinned settings while a row is being encoded, or -1. Pinned lazily,
// at the first value that needs it, and undone when the row is encoded (an error undoes it with the
// (sub)transaction).
int pinned_level = -1;

void pin_settings() {
    if (pinned_level >= 0) return;
    pinned_level = NewGUCNestLevel();
    for (const auto& setting : kPinnedSettings)
        (void)set_config_option(setting[0], setting[1], PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

void unpin_settings() {
    if (pinned_level < 0) return;
    AtEOXact_GUC(true, pinned_level);
    pinned_level = -1;
}

void append_quoted(StringInfo out, const char* value) { escape_json(out, value); }

void append_timestamp(StringInfo out, Timestamp ts, bool utc_marker) {
    if (TIMESTAMP_NOT_FINITE(ts)) {
        append_quoted(out, TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity");
        return;
    }
    struct pg_tm tm;
    fsec_t fsec;
    if (timestamp2tm(ts, nullptr, &tm, &fsec, nullptr, nullptr) != 0)
        ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
    char buffer[MAXDATELEN + 2];
    EncodeDateTime(&tm, fsec, false, 0, nullptr, USE_XSD_DATES, buffer);
    if (utc_marker) strcat(buffer, "Z");
    append_quoted(out, buffer);
}

// One column value as JSON text. raw receives the plain text form (for entity_id) when asked.
void append_value(StringInfo out, const ValuePlan& column, Datum value, bool is_null, char** raw) {
    if (is_null) {
        appendStringInfoString(out, "null");
        if (raw) *raw = nullptr;
        return;
    }
    char buffer[64];
    const char* text = nullptr;
    switch (column.kind) {
        case ValueKind::kBool:
            text = DatumGetBool(value) ? "true" : "false";
            appendStringInfoString(out, text);
            break;
        case ValueKind::kNumber: {
            char* printed = OutputFunctionCall(const_cast<FmgrInfo*>(&column.output), value);
            // NaN and the infinities of numeric are not JSON numbers.
            if (printed[0] == 'N' || printed[0] == 'I' || printed[1] == 'I')
                append_quoted(out, printed);
            else
                appendStringInfoString(out, printed);
            text = printed;
            break;
        }
        case ValueKind::kFloat4:
        case ValueKind::kFloat8: {
            const double number = column.kind == ValueKind::kFloat4 ? (double)DatumGetFloat4(value) : DatumGetFloat8(value);
            if (std::isnan(number)) {
                text = "NaN";
                append_quoted(out, text);
            } else if (std::isinf(number)) {
                text = number > 0 ? "Infinity" : "-Infinity";
                append_quoted(out, text);
            } else {
                if (column.kind == ValueKind::kFloat4)
                    float_to_shortest_decimal_buf(DatumGetFloat4(value), buffer);
                else
                    double_to_shortest_decimal_buf(number, buffer);
                text = buffer;
                appendStringInfoString(out, text);
            }
            break;
        }
        case ValueKind::kJson:
        case ValueKind::kJsonb: {
            char* printed = OutputFunctionCall(const_cast<FmgrInfo*>(&column.output), value);
            appendStringInfoString(out, printed);
            text = printed;
            break;
        }
        case ValueKind::kTimestampTz:
        case ValueKind::kTimestamp: {
            const int start = out->len;
            append_timestamp(out, DatumGetTimestamp(value), column.kind == ValueKind::kTimestampTz);
            if (raw) *raw = pnstrdup(out->data + start + 1, out->len - start - 2);
            return;
        }
        case ValueKind::kDate: {
            const DateADT date = DatumGetDateADT(value);
            if (DATE_NOT_FINITE(date)) {
                text = DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity";
            } else {
                struct pg_tm tm = {};
                j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
                EncodeDateOnly(&tm, USE_XSD_DATES, buffer);
                text = buffer;
            }
            append_quoted(out, text);
            break;
        }
        case ValueKind::kTime: {
            struct pg_tm tm = {};
            fsec_t fsec;
            time2tm(DatumGetTimeADT(value), &tm, &fsec);
            EncodeTimeOnly(&tm, fsec, false, 0, USE_XSD_DATES, buffer);
            text = buffer;
            append_quoted(out, text);
            break;
        }
        case ValueKind::kBytea: {
            bytea* bytes = DatumGetByteaPP(value);
            const size_t length = VARSIZE_ANY_EXHDR(bytes);
            char* hex = static_cast<char*>(palloc(2 * length + 3));
            hex[0] = '\\';
            hex[1] = 'x';
            const uint64 written = hex_encode(VARDATA_ANY(bytes), length, hex + 2);
            hex[2 + written] = '\0';
            text = hex;
            append_quoted(out, text);
            break;
        }
        case ValueKind::kArray: {
            ArrayType* array = DatumGetArrayTypeP(value);
            if (ARR_NDIM(array) > 1) {
                pin_settings();
                text = OutputFunctionCall(const_cast<FmgrInfo*>(&column.output), value);
                append_quoted(out, text);
                break;
            }
            Datum* elements;
            bool* nulls;
            int count;
            deconstruct_array(array, column.element_type, column.element_length, column.element_by_value,
                              column.element_align, &elements, &nulls, &count);
            const int start = out->len;
            appendStringInfoChar(out, '[');
            for (int i = 0; i < count; i++) {
                if (i > 0) appendStringInfoString(out, ", ");
                append_value(out, *column.element, elements[i], nulls[i], nullptr);
            }
            appendStringInfoChar(out, ']');
            if (raw) *raw = pnstrdup(out->data + start, out->len - start);
            return;
        }
        case ValueKind::kText:
        case ValueKind::kPinned: {
            if (column.kind == ValueKind::kPinned) pin_settings();
            char* printed = OutputFunctionCall(const_cast<FmgrInfo*>(&column.output), value);
            text = printed;
            append_quoted(out, text);
            break;
        }
    }
    if (raw) *raw = pstrdup(text);
}

struct RowText {
    Jsonb* values;
    char** column_json;  // per column (nullptr for skipped/excluded); to find changed columns
    char* entity_id;
    bool tenant_null;
    pg_uuid_t tenant;
};

void encode_row(const AuditPlan* plan, TupleDesc descriptor, HeapTuple tuple, RowText* row) {
    StringInfoData json;
    initStringInfo(&json);
    StringInfoData key;
    initStringInfo(&key);
    row->column_json = static_cast<char**>(palloc0(sizeof(char*) * (plan->natts > 0 ? plan->natts : 1)));
    appendStringInfoChar(&json, '{');
    bool first = true;
    int keys_seen = 0;
    char* single_key = nullptr;
    for (int i = 0; i < plan->natts; i++) {
        const ColumnPlan& column = plan->columns[i];
        if (column.skip || column.excluded) continue;
        bool is_null;
        const Datum value = heap_getattr(tuple, i + 1, descriptor, &is_null);
        if (!first) appendStringInfoString(&json, ", ");
        first = false;
        escape_json(&json, column.name);
        appendStringInfoString(&json, ": ");
        const int start = json.len;
        char* raw = nullptr;
        append_value(&json, column.value, value, is_null, column.in_key ? &raw : nullptr);
        row->column_json[i] = pnstrdup(json.data + start, json.len - start);
        if (column.in_key) {
            appendStringInfoString(&key, keys_seen == 0 ? "[" : ", ");
            appendStringInfoString(&key, row->column_json[i]);
            keys_seen++;
            single_key = raw;
        }
        if (i + 1 == plan->tenant_attnum) {
            row->tenant_null = is_null;
            if (!is_null) row->tenant = *DatumGetUUIDP(value);
        }
    }
    appendStringInfoChar(&json, '}');
    row->values = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
    if (plan->key_count == 0 || plan->key_excluded)
        row->entity_id = nullptr;
    else if (plan->key_count == 1)
        row->entity_id = single_key;
    else {
        appendStringInfoChar(&key, ']');
        row->entity_id = key.data;
    }
}

struct RowChange {
    const AuditPlan* plan;
    const char* action;
    RowText* old_row;
    RowText* new_row;
    const char* const* changed;
    int changed_count;
    const char* role_name;
};

void write_row_change(const RowChange* change) {
    const RowText* identifying = change->new_row ? change->new_row : change->old_row;
    EntryDraft draft = {};
    draft.action = change->action;
    draft.entity_type = change->plan->entity_type;
    draft.entity_id = identifying->entity_id;
    draft.changed_columns = change->changed;
    draft.changed_count = change->changed_count;
    draft.old_values = change->old_row ? change->old_row->values : nullptr;
    draft.new_values = change->new_row ? change->new_row->values : nullptr;
    // The new row's tenant; if an UPDATE emptied it (ON DELETE SET NULL), the old row's.
    const RowText* owner = identifying->tenant_null && change->old_row && !change->old_row->tenant_null ? change->old_row
                                                                                                    : identifying;
    draft.tenant = owner->tenant_null ? kNilTenant : owner->tenant;
    insert_entry(&draft, change->role_name);
    // A superuser moving a row to another tenant: the old tenant's trail records it too.
    if (change->old_row && change->new_row && !change->old_row->tenant_null &&
        (change->new_row->tenant_null || memcmp(&change->old_row->tenant, &change->new_row->tenant, sizeof(pg_uuid_t)) != 0)) {
        draft.tenant = change->old_row->tenant;
        insert_entry(&draft, change->role_name);
    }
}

void record_truncate(Relation relation) {
    StringInfoData details;
    initStringInfo(&details);
    appendStringInfoString(&details, "{\"statement\": \"TRUNCATE\"}");
    record_system_entry("TRUNCATE", ledger_entity_name(RelationGetRelid(relation)),
                        DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(details.data))));
}

int audit_ddl_depth = 0;

void run_audit_ddl(const char* sql) {
    audit_ddl_depth++;
    PG_TRY();
    {
        const int result = SPI_execute(sql, false, 0);
        if (result < 0) elog(ERROR, "tenant_guard: SPI_execute failed (%d): %s", result, sql);
    }
    PG_FINALLY();
    {
        audit_ddl_depth--;
    }
    PG_END_TRY();
}

Jsonb* parse_jsonb(const char* text) { return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))); }

// Attaches (or re-attaches, with new exclusions) the triggers. exclude: palloc'd names. Needs SPI.
void attach_audit_triggers(Oid relid, char** exclude, int exclude_count) {
    const char* table = qualified_relation_name(relid);
    StringInfoData arguments;
    initStringInfo(&arguments);
    StringInfoData listed;
    initStringInfo(&listed);
    appendStringInfoChar(&listed, '[');
    for (int i = 0; i < exclude_count; i++) {
        appendStringInfoString(&arguments, i == 0 ? "" : ", ");
        appendStringInfoString(&arguments, quote_literal_cstr(exclude[i]));
        appendStringInfoString(&listed, i == 0 ? "" : ", ");
        escape_json(&listed, exclude[i]);
    }
    appendStringInfoChar(&listed, ']');
    if (get_trigger_oid(relid, kAuditTriggerName, true) != InvalidOid)
        run_audit_ddl(psprintf("DROP TRIGGER %s ON %s", kAuditTriggerName, table));
    if (get_trigger_oid(relid, kAuditTruncateTriggerName, true) != InvalidOid)
        run_audit_ddl(psprintf("DROP TRIGGER %s ON %s", kAuditTruncateTriggerName, table));
    run_audit_ddl(psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW "
                           "EXECUTE FUNCTION tenant_guard.audit_trigger(%s)",
                           kAuditTriggerName, table, arguments.data));
    run_audit_ddl(psprintf("CREATE TRIGGER %s AFTER TRUNCATE ON %s FOR EACH STATEMENT "
                           "EXECUTE FUNCTION tenant_guard.audit_trigger()",
                           kAuditTruncateTriggerName, table));
    // ALWAYS: session_replication_role = replica must not silence the ledger.
    run_audit_ddl(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", table, kAuditTriggerName));
    run_audit_ddl(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", table, kAuditTruncateTriggerName));
    record_system_entry("AUDIT_TABLE", ledger_entity_name(relid),
                        parse_jsonb(psprintf("{\"exclude_columns\": %s}", listed.data)));
}

}  // namespace

bool is_audit_trigger_name(const char* name) {
    return name != nullptr && (strcmp(name, kAuditTriggerName) == 0 || strcmp(name, kAuditTruncateTriggerName) == 0);
}

bool is_reserved_trigger_name(const char* name) { return name != nullptr && strncmp(name, "tenant_guard_", 13) == 0; }

bool audit_ddl_in_progress() { return audit_ddl_depth > 0; }

void record_dropped_audit_triggers(const char* command) {
    if (audit_ddl_in_progress() || !ledger_installed()) return;
    static const char* const query =
        "SELECT pg_catalog.format('%I.%I', d.address_names[1], d.address_names[2]),"
        "       EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() t"
        "                WHERE t.object_type OPERATOR(pg_catalog.=) 'table'"
        "                  AND t.address_names[1] OPERATOR(pg_catalog.=) d.address_names[1]"
        "                  AND t.address_names[2] OPERATOR(pg_catalog.=) d.address_names[2])"
        "  FROM pg_catalog.pg_event_trigger_dropped_objects() d"
        " WHERE d.object_type OPERATOR(pg_catalog.=) 'trigger'"
        "   AND d.address_names[3] OPERATOR(pg_catalog.=) 'tenant_guard_audit'"
        "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() e"
        "                    WHERE e.object_type OPERATOR(pg_catalog.=) 'extension'"
        "                      AND e.object_name OPERATOR(pg_catalog.=) 'tenant_guard')";
    if (SPI_execute(query, false, 0) != SPI_OK_SELECT) elog(ERROR, "tenant_guard: could not read the dropped objects");
    SPITupleTable* rows = SPI_tuptable;
    const uint64 count = SPI_processed;
    for (uint64 i = 0; i < count; i++) {
        const char* table = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
        bool is_null;
        const bool table_dropped = DatumGetBool(SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &is_null));
        StringInfoData details;
        initStringInfo(&details);
        appendStringInfoString(&details, "{\"command\": ");
        escape_json(&details, command);
        appendStringInfoChar(&details, '}');
        record_system_entry(table_dropped ? "DROP_AUDITED_TABLE" : "AUDIT_TRIGGER_DROPPED", table, parse_jsonb(details.data));
    }
}

void audit_like_parents(Oid relid) {
    if (!ledger_installed() || get_trigger_oid(relid, kAuditTriggerName, true) != InvalidOid) return;
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    if (SPI_execute_with_args("SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) $1",
                              1, types, values, nullptr, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: reading pg_inherits failed");
    const uint64 count = SPI_processed;
    SPITupleTable* rows = SPI_tuptable;
    for (uint64 i = 0; i < count; i++) {
        bool is_null;
        const Oid parent = DatumGetObjectId(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &is_null));
        if (get_trigger_oid(parent, kAuditTriggerName, true) != InvalidOid) {
            attach_audit_triggers(relid, nullptr, 0);
            return;
        }
    }
}

void refuse_silenced_audit(Oid relid) {
    if (audit_ddl_in_progress()) return;
    const char* names[] = {kAuditTriggerName, kAuditTruncateTriggerName};
    for (const char* name : names) {
        const Oid trigger = get_trigger_oid(relid, name, true);
        if (trigger == InvalidOid) continue;
        // pg_trigger has no syscache by oid: read it through its index.
        Relation triggers = table_open(TriggerRelationId, AccessShareLock);
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(trigger));
        SysScanDesc scan = systable_beginscan(triggers, TriggerOidIndexId, true, nullptr, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        const char enabled = HeapTupleIsValid(tuple) ? reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple))->tgenabled
                                                     : TRIGGER_FIRES_ALWAYS;
        systable_endscan(scan);
        table_close(triggers, AccessShareLock);
        if (enabled != TRIGGER_FIRES_ALWAYS)
            TG_REFUSE_GUARD("silence_audit", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                            psprintf("cannot change trigger \"%s\": table %s is audited by tenant_guard", name,
                                     qualified_relation_name(relid)),
                            errdetail("After this statement the audit trigger would no longer fire always."),
                            errhint("A superuser can stop auditing it with tenant_guard.unaudit_table(), which the "
                                    "ledger records."));
    }
}

void audit_new_table(Oid relid) {
    if (!ledger_installed() || get_trigger_oid(relid, kAuditTriggerName, true) != InvalidOid) return;
    attach_audit_triggers(relid, nullptr, 0);
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

TG_SQL_FUNCTION(tg_audit_trigger)
TG_SQL_FUNCTION(tg_is_tenant_admin)
TG_SQL_FUNCTION(tg_audit_table)
TG_SQL_FUNCTION(tg_unaudit_table)

extern "C" {

Datum tg_audit_trigger(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("tenant_guard.audit_trigger() must be called as a trigger")));
    auto* data = reinterpret_cast<TriggerData*>(fcinfo->context);
    const TriggerEvent event = data->tg_event;
    if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
        if (strcmp(data->tg_trigger->tgname, kAuditTruncateTriggerName) != 0)
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("tenant_guard.audit_trigger() runs only as the trigger attached by audit_table()")));
        record_truncate(data->tg_relation);
        return PointerGetDatum(nullptr);
    }
    if (!TRIGGER_FIRED_FOR_ROW(event) || !TRIGGER_FIRED_AFTER(event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("tenant_guard.audit_trigger() must run AFTER ... FOR EACH ROW")));

    auto* plan = static_cast<AuditPlan*>(fcinfo->flinfo->fn_extra);
    if (plan == nullptr || plan->relid != RelationGetRelid(data->tg_relation)) {
        // Only the triggers audit_table() attaches write entries: a trigger someone else points at
        // this function must not add entries (or, on a table without tenants, ledger-wide ones).
        if (strcmp(data->tg_trigger->tgname, kAuditTriggerName) != 0 ||
            protected_tenant_column(data->tg_relation) == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("tenant_guard.audit_trigger() runs only as the trigger attached by audit_table()")));
        plan = build_plan(fcinfo, data);
        fcinfo->flinfo->fn_extra = plan;
    }
    const TupleDesc descriptor = RelationGetDescr(data->tg_relation);
    const char* role_name = GetUserNameFromId(GetUserId(), false);

    pinned_level = -1;
    RowText old_row = {}, new_row = {};
    RowChange change = {plan, nullptr, nullptr, nullptr, nullptr, 0, role_name};
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        change.action = "INSERT";
        encode_row(plan, descriptor, data->tg_trigtuple, &new_row);
        change.new_row = &new_row;
    } else if (TRIGGER_FIRED_BY_DELETE(event)) {
        change.action = "DELETE";
        encode_row(plan, descriptor, data->tg_trigtuple, &old_row);
        change.old_row = &old_row;
    } else {
        change.action = "UPDATE";
        encode_row(plan, descriptor, data->tg_trigtuple, &old_row);
        encode_row(plan, descriptor, data->tg_newtuple, &new_row);
        change.old_row = &old_row;
        change.new_row = &new_row;
        auto** changed = static_cast<const char**>(palloc(sizeof(char*) * (plan->natts > 0 ? plan->natts : 1)));
        int count = 0;
        for (int i = 0; i < plan->natts; i++) {
            const ColumnPlan& column = plan->columns[i];
            if (column.skip) continue;
            bool differs;
            if (column.excluded) {
                // Never stored, but that it changed is part of the trail.
                bool old_null, new_null;
                const Datum old_value = heap_getattr(data->tg_trigtuple, i + 1, descriptor, &old_null);
                const Datum new_value = heap_getattr(data->tg_newtuple, i + 1, descriptor, &new_null);
                const Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
                differs = old_null != new_null ||
                          (!old_null && !datum_image_eq(old_value, new_value, attribute->attbyval, attribute->attlen));
            } else {
                differs = strcmp(old_row.column_json[i], new_row.column_json[i]) != 0;
            }
            if (differs) changed[count++] = column.name;
        }
        change.changed = changed;
        change.changed_count = count;
    }
    unpin_settings();
    write_row_change(&change);
    ensure_database_worker();
    return PointerGetDatum(nullptr);
}

Datum tg_is_tenant_admin(PG_FUNCTION_ARGS) {
    const char* claims = context_claims();
    if (claims == nullptr) PG_RETURN_BOOL(false);
    bool is_admin = false;
    CoreFailure failure;
    const char* claim = settings.admin_claim;
    if (!call_core([&] { is_admin = tenant_guard::core::claim_contains(claims, claim, "tenant_admin"); }, &failure))
        raise_core_failure(failure);
    PG_RETURN_BOOL(is_admin);
}

Datum tg_audit_table(PG_FUNCTION_ARGS) {
    const Oid relid = PG_GETARG_OID(0);
    ArrayType* exclude_array = PG_GETARG_ARRAYTYPE_P(1);
    if (!TG_TABLE_OWNERCHECK(relid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));
    const TableProtection protection = read_table_protection(relid);
    if (!protection.guarded())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("table %s is not protected by tenant_guard", qualified_relation_name(relid)),
                        errhint("Only protected tables can be audited: the ledger is kept per tenant.")));
    Datum* elements;
    bool* nulls;
    int count;
    deconstruct_array(exclude_array, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    auto** exclude = static_cast<char**>(palloc(sizeof(char*) * (count > 0 ? count : 1)));
    for (int i = 0; i < count; i++) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("exclude_columns must not contain NULL")));
        exclude[i] = TextDatumGetCString(elements[i]);
        const AttrNumber attnum = get_attnum(relid, exclude[i]);
        if (attnum == InvalidAttrNumber || attnum < 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of table %s does not exist", exclude[i], qualified_relation_name(relid))));
        if (attnum == protection.tenant_attnum)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("the tenant column cannot be excluded from the audit ledger")));
    }
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    attach_audit_triggers(relid, exclude, count);
    SPI_finish();
    ensure_database_worker();
    PG_RETURN_VOID();
}

Datum tg_unaudit_table(PG_FUNCTION_ARGS) {
    const Oid relid = PG_GETARG_OID(0);
    if (!superuser())
        TG_REFUSE_GUARD("silence_audit", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "only a superuser can stop auditing a table");
    const char* table = qualified_relation_name(relid);
    if (get_trigger_oid(relid, kAuditTriggerName, true) == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("table %s is not audited", table)));
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "tenant_guard: SPI_connect failed");
    run_audit_ddl(psprintf("DROP TRIGGER %s ON %s", kAuditTriggerName, table));
    if (get_trigger_oid(relid, kAuditTruncateTriggerName, true) != InvalidOid)
        run_audit_ddl(psprintf("DROP TRIGGER %s ON %s", kAuditTruncateTriggerName, table));
    SPI_finish();
    record_system_entry("UNAUDIT_TABLE", ledger_entity_name(relid), nullptr);
    PG_RETURN_VOID();
}

}  // extern "C"
