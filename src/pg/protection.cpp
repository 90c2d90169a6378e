// See protection.hpp. Every statement run here is built from quoted identifiers and
// schema-qualified names (operators too), so the caller's search_path cannot change its meaning.
#include "protection.hpp"

#include "citus.hpp"

#include "security_events.hpp"
#include "settings.hpp"

#include <cstring>

namespace tenant_guard::pg {

const char* const kIsolationPolicyName = "tenant_guard_isolation";
const char* const kTenantRowsPolicyName = "tenant_guard_tenant_rows";

namespace {

constexpr const char kReservedPolicyPrefix[] = "tenant_guard_";

int protection_depth = 0;

// The policy expression. OPERATOR(pg_catalog.=) so that an = operator in some schema on the
// search_path cannot stand in for uuid equality; the stored policy refers to the operator's OID.
char* policy_expression(const char* column) {
    return psprintf("%s OPERATOR(pg_catalog.=) tenant_guard.policy_tenant()", column);
}

Oid policy_tenant_function() {
    List* name = list_make2(makeString(pstrdup("tenant_guard")), makeString(pstrdup("policy_tenant")));
    return LookupFuncName(name, 0, nullptr, false);
}

bool has_policy_tenant_default(Oid relid, AttrNumber attnum) {
    bool found = false;
    Relation attrdef = table_open(AttrDefaultRelationId, AccessShareLock);
    ScanKeyData keys[2];
    ScanKeyInit(&keys[0], Anum_pg_attrdef_adrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    ScanKeyInit(&keys[1], Anum_pg_attrdef_adnum, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(attnum));
    SysScanDesc scan = systable_beginscan(attrdef, AttrDefaultIndexId, true, nullptr, 2, keys);
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        bool is_null = false;
        Datum adbin = heap_getattr(tuple, Anum_pg_attrdef_adbin, RelationGetDescr(attrdef), &is_null);
        if (!is_null) {
            Node* expression = static_cast<Node*>(stringToNode(TextDatumGetCString(adbin)));
            found = IsA(expression, FuncExpr) &&
                    castNode(FuncExpr, expression)->funcid == policy_tenant_function();
        }
    }
    systable_endscan(scan);
    table_close(attrdef, AccessShareLock);
    return found;
}

// A valid, non-partial index whose first key column is the tenant column.
bool has_tenant_led_index(Oid relid, AttrNumber attnum) {
    bool found = false;
    Relation index_catalog = table_open(IndexRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(index_catalog, IndexIndrelidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (!found && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto* index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        found = index->indisvalid && index->indnkeyatts > 0 && index->indkey.values[0] == attnum &&
                heap_attisnull(tuple, Anum_pg_index_indpred, nullptr);
    }
    systable_endscan(scan);
    table_close(index_catalog, AccessShareLock);
    return found;
}

// The table column a policy's expressions refer to (recorded in pg_depend when it was created).
AttrNumber policy_column(Oid policy_oid, Oid relid) {
    AttrNumber attnum = InvalidAttrNumber;
    Relation depend = table_open(DependRelationId, AccessShareLock);
    ScanKeyData keys[2];
    ScanKeyInit(&keys[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(PolicyRelationId));
    ScanKeyInit(&keys[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(policy_oid));
    SysScanDesc scan = systable_beginscan(depend, DependDependerIndexId, true, nullptr, 2, keys);
    HeapTuple tuple;
    while (attnum == InvalidAttrNumber && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto* dependency = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
        if (dependency->refclassid == RelationRelationId && dependency->refobjid == relid &&
            dependency->refobjsubid > 0)
            attnum = static_cast<AttrNumber>(dependency->refobjsubid);
    }
    systable_endscan(scan);
    table_close(depend, AccessShareLock);
    return attnum;
}

// Views and materialized views that read the table, directly or through other views.
void secure_existing_readers(Oid relid) {
    static const char* const query =
        "WITH RECURSIVE readers(relid) AS ("
        "  SELECT r.ev_class FROM pg_catalog.pg_depend d"
        "  JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid"
        "  WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = $1"
        "    AND r.ev_class OPERATOR(pg_catalog.<>) $1"
        " UNION"
        "  SELECT r.ev_class FROM readers"
        "  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
        "   AND d.refobjid = readers.relid"
        "  JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid"
        "  WHERE r.ev_class OPERATOR(pg_catalog.<>) readers.relid)"
        "SELECT c.oid, c.relkind FROM readers JOIN pg_catalog.pg_class c ON c.oid = readers.relid"
        " WHERE c.relkind IN ('v', 'm') ORDER BY c.oid";
    Oid argument_types[1] = {OIDOID};
    Datum arguments[1] = {ObjectIdGetDatum(relid)};
    if (SPI_execute_with_args(query, 1, argument_types, arguments, nullptr, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: could not read the views of table %u", relid);
    const uint64 count = SPI_processed;
    Oid* readers = static_cast<Oid*>(palloc(sizeof(Oid) * (count + 1)));
    char* kinds = static_cast<char*>(palloc(count + 1));
    for (uint64 i = 0; i < count; i++) {
        bool is_null = false;
        readers[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &is_null));
        kinds[i] = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &is_null));
    }
    for (uint64 i = 0; i < count; i++) {
        if (kinds[i] == RELKIND_MATVIEW)
            TG_REFUSE_GUARD("materialized_view", qualified_relation_name(readers[i]),
                            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            psprintf("cannot protect table %s: materialized view %s reads it",
                                     qualified_relation_name(relid), qualified_relation_name(readers[i])),
                            errdetail("A materialized view has no row-level security: every reader would see "
                                      "the rows its creator saw."),
                            errhint("Drop the materialized view first."));
        make_view_security_invoker(readers[i]);
    }
}

void protect_one_table(Oid relid, bool explicit_request) {
    const AttrNumber attnum = find_tenant_column(relid);
    if (attnum == InvalidAttrNumber) {
        if (explicit_request)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("table %s has no tenant column \"%s\"", qualified_relation_name(relid),
                                   settings.tenant_column),
                            errhint("tenant_guard.tenant_column names the tenant column (type uuid).")));
        return;
    }
    const TableProtection protection = read_table_protection(relid);
    const char* table = qualified_relation_name(relid);
    const char* column = quote_identifier(get_attname(relid, attnum, false));
    const char* expression = policy_expression(column);

    if (!protection.rls_enabled) run_protection_sql(psprintf("ALTER TABLE ONLY %s ENABLE ROW LEVEL SECURITY", table));
    if (!protection.rls_forced) run_protection_sql(psprintf("ALTER TABLE ONLY %s FORCE ROW LEVEL SECURITY", table));
    if (!protection.has_isolation_policy)
        run_protection_sql(psprintf("CREATE POLICY %s ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)",
                                    kIsolationPolicyName, table, expression, expression));
    if (!protection.has_tenant_rows_policy)
        run_protection_sql(psprintf("CREATE POLICY %s ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)",
                                    kTenantRowsPolicyName, table, expression, expression));
    if (!has_policy_tenant_default(relid, attnum))
        run_protection_sql(psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s SET DEFAULT tenant_guard.policy_tenant()",
                                    table, column));
    // Platform access reads protected tables as this role (platform_access.cpp): SELECT only.
    if (get_role_oid("tenant_guard_platform_reader", true) != InvalidOid)
        run_protection_sql(psprintf("GRANT SELECT ON %s TO tenant_guard_platform_reader", table));
    // On a partitioned table the index cascades to every partition, present and future. Citus
    // copies the coordinator table's indexes onto its shards itself.
    if (settings.auto_index && !citus_internal_command() && !has_tenant_led_index(relid, attnum))
        run_protection_sql(psprintf("CREATE INDEX ON %s (%s)", table, column));
    secure_existing_readers(relid);
}

void unprotect_one_table(Oid relid) {
    const TableProtection protection = read_table_protection(relid);
    const char* table = qualified_relation_name(relid);
    if (protection.has_isolation_policy)
        run_protection_sql(psprintf("DROP POLICY %s ON %s", kIsolationPolicyName, table));
    if (protection.has_tenant_rows_policy)
        run_protection_sql(psprintf("DROP POLICY %s ON %s", kTenantRowsPolicyName, table));
    if (get_role_oid("tenant_guard_platform_reader", true) != InvalidOid)
        run_protection_sql(psprintf("REVOKE SELECT ON %s FROM tenant_guard_platform_reader", table));
    // Policies of the table's own stay in force.
    if (protection.other_policy_count == 0) {
        if (protection.rls_forced) run_protection_sql(psprintf("ALTER TABLE ONLY %s NO FORCE ROW LEVEL SECURITY", table));
        if (protection.rls_enabled) run_protection_sql(psprintf("ALTER TABLE ONLY %s DISABLE ROW LEVEL SECURITY", table));
    }
    if (protection.tenant_attnum != InvalidAttrNumber && has_policy_tenant_default(relid, protection.tenant_attnum))
        run_protection_sql(psprintf("ALTER TABLE ONLY %s ALTER COLUMN %s DROP DEFAULT", table,
                                    quote_identifier(get_attname(relid, protection.tenant_attnum, false))));
}

// The table and its partitions (or inheritance children), root first, all locked against
// concurrent use while their protection changes. Ownership is checked before anything is locked.
List* lock_table_tree(Oid relid, bool explicit_request) {
    const char relkind = get_rel_relkind(relid);
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) {
        if (!explicit_request) return NIL;
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("%s is not a table", qualified_relation_name(relid)),
                        errhint("tenant_guard protects ordinary and partitioned tables.")));
    }
    if (!TG_TABLE_OWNERCHECK(relid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), get_rel_name(relid));
    LockRelationOid(relid, AccessExclusiveLock);
    return find_all_inheritors(relid, AccessExclusiveLock, nullptr);
}

}  // namespace

bool is_reserved_policy_name(const char* name) {
    return name != nullptr && strncmp(name, kReservedPolicyPrefix, sizeof(kReservedPolicyPrefix) - 1) == 0;
}

bool protection_in_progress() { return protection_depth > 0; }

// The column the isolation policy compares with policy_tenant(), read from the relcache entry;
// InvalidAttrNumber without the policy. kNoColumn: the policy is there but compares no plain column.
constexpr AttrNumber kNoColumn = -1000;

AttrNumber isolation_policy_column(Relation relation) {
    if (relation->rd_rsdesc == nullptr) return InvalidAttrNumber;
    ListCell* cell;
    foreach (cell, relation->rd_rsdesc->policies) {
        const auto* policy = static_cast<const RowSecurityPolicy*>(lfirst(cell));
        if (policy->policy_name == nullptr || strcmp(policy->policy_name, kIsolationPolicyName) != 0) continue;
        if (policy->qual == nullptr || !IsA(policy->qual, OpExpr)) return kNoColumn;
        const auto* comparison = castNode(OpExpr, policy->qual);
        const Node* left = list_length(comparison->args) == 2 ? static_cast<const Node*>(linitial(comparison->args)) : nullptr;
        if (left == nullptr || !IsA(left, Var) || castNode(Var, left)->vartype != UUIDOID) return kNoColumn;
        return castNode(Var, left)->varattno;
    }
    return InvalidAttrNumber;
}

bool has_isolation_policy(Oid relid) {
    Relation relation = RelationIdGetRelation(relid);
    if (relation == nullptr) return false;
    const bool isolated = isolation_policy_column(relation) != InvalidAttrNumber;
    RelationClose(relation);
    return isolated;
}

AttrNumber isolated_tenant_column(Oid relid) {
    Relation relation = RelationIdGetRelation(relid);
    if (relation == nullptr) return InvalidAttrNumber;
    const AttrNumber column = isolation_policy_column(relation);
    RelationClose(relation);
    return column == kNoColumn ? InvalidAttrNumber : column;
}

char* qualified_relation_name(Oid relid) {
    const char* relation = get_rel_name(relid);
    const char* schema = get_namespace_name(get_rel_namespace(relid));
    if (relation == nullptr || schema == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
    return quote_qualified_identifier(schema, relation);
}

TableProtection read_table_protection(Oid relid) {
    TableProtection protection{};
    protection.tenant_attnum = InvalidAttrNumber;

    HeapTuple class_tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(class_tuple)) return protection;
    auto* relation = reinterpret_cast<Form_pg_class>(GETSTRUCT(class_tuple));
    protection.rls_enabled = relation->relrowsecurity;
    protection.rls_forced = relation->relforcerowsecurity;
    ReleaseSysCache(class_tuple);

    Oid isolation_policy = InvalidOid;
    Relation policy_catalog = table_open(PolicyRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(policy_catalog, PolicyPolrelidPolnameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto* policy = reinterpret_cast<Form_pg_policy>(GETSTRUCT(tuple));
        const char* name = NameStr(policy->polname);
        if (strcmp(name, kIsolationPolicyName) == 0) {
            protection.has_isolation_policy = true;
            isolation_policy = policy->oid;
        } else if (strcmp(name, kTenantRowsPolicyName) == 0) {
            protection.has_tenant_rows_policy = true;
            if (isolation_policy == InvalidOid) isolation_policy = policy->oid;
        } else {
            protection.other_policy_count++;
        }
    }
    systable_endscan(scan);
    table_close(policy_catalog, AccessShareLock);

    if (isolation_policy != InvalidOid) protection.tenant_attnum = policy_column(isolation_policy, relid);
    return protection;
}

AttrNumber find_tenant_column(Oid relid) {
    const AttrNumber attnum = get_attnum(relid, settings.tenant_column);
    if (attnum == InvalidAttrNumber) return InvalidAttrNumber;
    Oid type = InvalidOid;
    int32 typmod = -1;
    Oid collation = InvalidOid;
    get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
    if (getBaseType(type) != UUIDOID)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("tenant column \"%s\" of table %s has type %s, but tenant_guard needs uuid",
                               settings.tenant_column, qualified_relation_name(relid), format_type_be(type)),
                        errhint("Declare the column as uuid, or give it another name if it is not the tenant "
                                "(tenant_guard.tenant_column names the tenant column).")));
    return attnum;
}

void run_protection_sql(const char* sql) {
    protection_depth++;
    PG_TRY();
    {
        const int result = SPI_execute(sql, false, 0);
        if (result < 0) elog(ERROR, "tenant_guard: SPI_execute failed (%d): %s", result, sql);
    }
    PG_FINALLY();
    {
        protection_depth--;
    }
    PG_END_TRY();
}

void protect_table_tree(Oid relid, bool explicit_request) {
    List* tree = lock_table_tree(relid, explicit_request);
    ListCell* cell;
    foreach (cell, tree) {
        const Oid member = lfirst_oid(cell);
        protect_one_table(member, explicit_request && member == relid);
    }
}

void unprotect_table_tree(Oid relid) {
    if (!superuser())
        TG_REFUSE_GUARD("weaken_protection", qualified_relation_name(relid), ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "only a superuser can remove tenant_guard's protection");
    List* tree = lock_table_tree(relid, true);
    ListCell* cell;
    foreach (cell, tree) unprotect_one_table(lfirst_oid(cell));
}

bool reads_protected_table(Oid view_relid) {
    // Relations a view's rewrite rule depends on, followed through nested views; is any of them a
    // table with tenant_guard policies? Partitions and parents both carry policies, so no
    // pg_inherits walk is needed.
    static const char* const query =
        "WITH RECURSIVE reads(relid) AS ("
        "  SELECT d.refobjid FROM pg_catalog.pg_rewrite r"
        "  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
        "   AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
        "  WHERE r.ev_class = $1 AND d.refobjid OPERATOR(pg_catalog.<>) $1"
        " UNION"
        "  SELECT d.refobjid FROM reads"
        "  JOIN pg_catalog.pg_rewrite r ON r.ev_class = reads.relid"
        "  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
        "   AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
        "  WHERE d.refobjid OPERATOR(pg_catalog.<>) reads.relid)"
        "SELECT EXISTS (SELECT FROM reads JOIN pg_catalog.pg_policy p ON p.polrelid = reads.relid"
        "  WHERE p.polname OPERATOR(pg_catalog.=) ANY (ARRAY['tenant_guard_isolation',"
        "   'tenant_guard_tenant_rows']::pg_catalog.name[]))";
    Oid argument_types[1] = {OIDOID};
    Datum arguments[1] = {ObjectIdGetDatum(view_relid)};
    // Not read-only: a read-only SPI query uses the statement's snapshot, which cannot see the
    // view the statement just created.
    if (SPI_execute_with_args(query, 1, argument_types, arguments, nullptr, false, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "tenant_guard: could not read the dependencies of view %u", view_relid);
    bool is_null = false;
    const Datum result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    return !is_null && DatumGetBool(result);
}

void make_view_security_invoker(Oid view_relid) {
    const char* name = qualified_relation_name(view_relid);
#if TG_HAVE_SECURITY_INVOKER_VIEWS
    if (view_is_security_invoker(view_relid)) return;
    if (!TG_TABLE_OWNERCHECK(view_relid, GetUserId()))
        TG_REFUSE_GUARD("owner_rights_view", name, ERRCODE_INSUFFICIENT_PRIVILEGE,
                        psprintf("view %s reads tables protected by tenant_guard and runs with its owner's rights",
                                 name),
                        errhint("Its owner or a superuser must make it security_invoker first: "
                                "ALTER VIEW %s SET (security_invoker = true).", name));
    run_protection_sql(psprintf("ALTER VIEW %s SET (security_invoker = true)", name));
    ereport(NOTICE, (errmsg("view %s reads tables protected by tenant_guard: it was made security_invoker", name),
                     errdetail("A view that runs with its owner's rights could bypass their row-level security.")));
#else
    TG_REFUSE_GUARD("owner_rights_view", name, ERRCODE_FEATURE_NOT_SUPPORTED,
                    psprintf("view %s would bypass the row-level security of tables protected by tenant_guard", name),
                    errhint("Views run with their owner's rights; security_invoker views need PostgreSQL 15."));
#endif
}

namespace {

// tenant_column = tenant_guard.policy_tenant(), as protect_table() writes it.
bool is_tenant_comparison(Node* expression, AttrNumber attnum, Oid policy_tenant) {
    if (expression == nullptr || !IsA(expression, OpExpr)) return false;
    auto* comparison = castNode(OpExpr, expression);
    if (get_opcode(comparison->opno) != F_UUID_EQ || list_length(comparison->args) != 2) return false;
    Node* left = static_cast<Node*>(linitial(comparison->args));
    Node* right = static_cast<Node*>(lsecond(comparison->args));
    while (left != nullptr && IsA(left, RelabelType)) left = reinterpret_cast<Node*>(castNode(RelabelType, left)->arg);
    return left != nullptr && IsA(left, Var) && castNode(Var, left)->varattno == attnum && right != nullptr &&
           IsA(right, FuncExpr) && castNode(FuncExpr, right)->funcid == policy_tenant;
}

const char* policy_defect(HeapTuple tuple, TupleDesc descriptor, AttrNumber attnum, Oid policy_tenant) {
    auto* policy = reinterpret_cast<Form_pg_policy>(GETSTRUCT(tuple));
    const bool isolation = strcmp(NameStr(policy->polname), kIsolationPolicyName) == 0;
    if (policy->polcmd != '*') return "a tenant_guard policy no longer applies to every command";
    if (policy->polpermissive == isolation) return "a tenant_guard policy changed between permissive and restrictive";
    bool is_null = false;
    Datum roles = heap_getattr(tuple, Anum_pg_policy_polroles, descriptor, &is_null);
    if (is_null) return "a tenant_guard policy no longer applies to PUBLIC";
    ArrayType* role_array = DatumGetArrayTypeP(roles);
    if (ARR_NDIM(role_array) != 1 || ARR_DIMS(role_array)[0] != 1 ||
        reinterpret_cast<Oid*>(ARR_DATA_PTR(role_array))[0] != ACL_ID_PUBLIC)
        return "a tenant_guard policy no longer applies to PUBLIC";
    const AttrNumber expressions[] = {Anum_pg_policy_polqual, Anum_pg_policy_polwithcheck};
    for (const AttrNumber column : expressions) {
        Datum stored = heap_getattr(tuple, column, descriptor, &is_null);
        if (is_null || !is_tenant_comparison(static_cast<Node*>(stringToNode(TextDatumGetCString(stored))), attnum,
                                             policy_tenant))
            return "a tenant_guard policy no longer compares the tenant column with policy_tenant()";
    }
    return nullptr;
}

}  // namespace

const char* protection_defect(Oid relid) {
    const TableProtection protection = read_table_protection(relid);
    if (!protection.guarded()) return nullptr;
    if (!protection.rls_enabled) return "row level security is disabled";
    if (!protection.rls_forced) return "row level security is no longer forced";
    if (!protection.has_isolation_policy || !protection.has_tenant_rows_policy)
        return "a tenant_guard policy is missing";
    if (protection.tenant_attnum == InvalidAttrNumber) return "the tenant_guard policies lost their tenant column";
    if (!has_policy_tenant_default(relid, protection.tenant_attnum))
        return "the tenant column no longer defaults to policy_tenant()";
    const Oid policy_tenant = policy_tenant_function();
    const char* defect = nullptr;
    Relation policy_catalog = table_open(PolicyRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(policy_catalog, PolicyPolrelidPolnameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (defect == nullptr && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        const char* name = NameStr(reinterpret_cast<Form_pg_policy>(GETSTRUCT(tuple))->polname);
        if (strcmp(name, kIsolationPolicyName) == 0 || strcmp(name, kTenantRowsPolicyName) == 0)
            defect = policy_defect(tuple, RelationGetDescr(policy_catalog), protection.tenant_attnum, policy_tenant);
    }
    systable_endscan(scan);
    table_close(policy_catalog, AccessShareLock);
    return defect;
}

bool find_unprotected_parent(Oid relid, Oid* child, Oid* parent) {
    static const char* const query =
        "WITH RECURSIVE up(relid) AS ("
        "  SELECT $1 UNION SELECT i.inhparent FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.relid),"
        " down(relid) AS ("
        "  SELECT relid FROM up UNION SELECT i.inhrelid FROM down JOIN pg_catalog.pg_inherits i ON i.inhparent = down.relid)"
        "SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i"
        " WHERE i.inhrelid IN (SELECT relid FROM down)"
        "   AND EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = i.inhrelid"
        "                 AND p.polname OPERATOR(pg_catalog.=) 'tenant_guard_isolation')"
        "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = i.inhparent"
        "                 AND p.polname OPERATOR(pg_catalog.=) 'tenant_guard_isolation')"
        " LIMIT 1";
    Oid argument_types[1] = {OIDOID};
    Datum arguments[1] = {ObjectIdGetDatum(relid)};
    if (SPI_execute_with_args(query, 1, argument_types, arguments, nullptr, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: could not read the inheritance tree of table %u", relid);
    if (SPI_processed == 0) return false;
    bool is_null = false;
    *child = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    *parent = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &is_null));
    return true;
}

bool in_registered_schema(Oid relid) {
    const Oid schema = get_rel_namespace(relid);
    return !isAnyTempNamespace(schema) && schema_is_registered(get_namespace_name(schema));
}

bool schema_is_registered(const char* schema_name) {
    const Oid extension_schema = get_namespace_oid("tenant_guard", true);
    if (extension_schema == InvalidOid || get_relname_relid("tenant_schemas", extension_schema) == InvalidOid)
        return false;
    static const char* const query =
        "SELECT FROM tenant_guard.tenant_schemas WHERE schema_name OPERATOR(pg_catalog.=) $1";
    Oid argument_types[1] = {NAMEOID};
    NameData name;
    namestrcpy(&name, schema_name);
    Datum arguments[1] = {NameGetDatum(&name)};
    if (SPI_execute_with_args(query, 1, argument_types, arguments, nullptr, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: could not read tenant_guard.tenant_schemas");
    return SPI_processed > 0;
}

uint64 typed_tables_of(Oid type_oid, Oid** tables) {
    static const char* const query =
        "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.reloftype = $1 AND c.relkind IN ('r', 'p') ORDER BY c.oid";
    Oid argument_types[1] = {OIDOID};
    Datum arguments[1] = {ObjectIdGetDatum(type_oid)};
    if (SPI_execute_with_args(query, 1, argument_types, arguments, nullptr, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "tenant_guard: could not read the typed tables of type %u", type_oid);
    const uint64 count = SPI_processed;
    *tables = static_cast<Oid*>(palloc(sizeof(Oid) * (count + 1)));
    for (uint64 i = 0; i < count; i++) {
        bool is_null = false;
        (*tables)[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &is_null));
    }
    return count;
}

bool view_is_security_invoker(Oid view_relid) {
#if TG_HAVE_SECURITY_INVOKER_VIEWS
    Relation view = relation_open(view_relid, AccessShareLock);
    const bool invoker = RelationHasSecurityInvoker(view);
    relation_close(view, AccessShareLock);
    return invoker;
#else
    (void)view_relid;
    return false;
#endif
}

}  // namespace tenant_guard::pg
