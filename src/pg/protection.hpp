// Automatic row-level security for tenant tables: what "protected" means, and how a table becomes
// (or stops being) protected. Shared by the event trigger, the SQL functions and the utility guard.
//
// A protected table has row-level security enabled and forced, and two policies that compare the
// tenant column with tenant_guard.policy_tenant():
//   tenant_guard_isolation    RESTRICTIVE, so no policy anyone adds can widen what a tenant sees;
//   tenant_guard_tenant_rows  PERMISSIVE, the grant that makes the tenant's own rows visible.
// The tenant column defaults to policy_tenant(), and an index leads with it.
//
// This is PostgreSQL-style code: it calls SPI and catalog functions that may ereport(), so it keeps
// no C++ object with a destructor alive (plain structs and palloc'd memory only).
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

extern const char* const kIsolationPolicyName;
extern const char* const kTenantRowsPolicyName;

bool is_reserved_policy_name(const char* name);

struct TableProtection {
    bool has_isolation_policy;
    bool has_tenant_rows_policy;
    int other_policy_count;
    bool rls_enabled;
    bool rls_forced;
    AttrNumber tenant_attnum;  // the column tenant_guard's policies compare; InvalidAttrNumber if none
    bool guarded() const { return has_isolation_policy || has_tenant_rows_policy; }
};

// Catalog reads only: takes no lock and needs no SPI connection.
TableProtection read_table_protection(Oid relid);

// The column named by tenant_guard.tenant_column, or InvalidAttrNumber. ERROR when it is not a uuid.
AttrNumber find_tenant_column(Oid relid);

// These need an SPI connection. protect_table_tree() protects the table and every partition or
// inheritance child; with explicit_request it also complains about a table without tenant column.
void protect_table_tree(Oid relid, bool explicit_request);
void unprotect_table_tree(Oid relid);
bool reads_protected_table(Oid view_relid);  // through other views, transitively
bool in_registered_schema(Oid relid);
bool schema_is_registered(const char* schema_name);  // false where tenant_guard 0.2 is not installed
// The ordinary and partitioned tables created OF the composite type; palloc'd array, count returned.
uint64 typed_tables_of(Oid type_oid, Oid** tables);
bool view_is_security_invoker(Oid view_relid);  // always false before PostgreSQL 15
// Views run with their owner's rights: a view over a protected table must be security_invoker.
void make_view_security_invoker(Oid view_relid);
void run_protection_sql(const char* sql);  // our own DDL: the event trigger and guards stand aside

// After a statement touched a guarded table: what, if anything, is no longer as protect_table()
// left it (row-level security enabled and forced; both policies FOR ALL TO PUBLIC comparing the
// tenant column with policy_tenant(); the column default). nullptr when intact. Catalog reads only.
const char* protection_defect(Oid relid);

// A protected table below a parent that is not protected: querying the parent would apply only
// the parent's (missing) policies to the child's rows. Looks at the whole inheritance tree that
// relid belongs to. Needs SPI. Returns false, or true with the pair filled in.
bool find_unprotected_parent(Oid relid, Oid* child, Oid* parent);

// The table carries tenant_guard's isolation policy, read from its relcache entry (no catalog scan,
// so also usable while an error is in flight).
bool has_isolation_policy(Oid relid);
// The uuid column that policy compares with policy_tenant(), the same way; InvalidAttrNumber if none.
AttrNumber isolated_tenant_column(Oid relid);
// True while tenant_guard runs its own DDL.
bool protection_in_progress();

// "schema"."table", quoted as needed; palloc'd.
char* qualified_relation_name(Oid relid);

}  // namespace tenant_guard::pg
