// The tenant registry in shared memory (registry.cpp): which tenants of which database are active,
// suspended or offboarded, so that set_tenant() and every statement can check without a catalog
// lookup. The table tenant_guard.tenants is the truth; its trigger publishes each committed change,
// and a database's entries are loaded from the table on first use after a restart.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

enum class TenantStatus { kActive, kSuspended, kOffboarded, kUnknown };

void define_registry_settings();
void request_registry_shared_memory();  // from _PG_init while preloading

// The status of a tenant in this database (loads the database's registry if needed). Only
// meaningful while tenant_guard.registry is on.
TenantStatus registry_status(const pg_uuid_t* tenant);

// tenant_guard.registry is on and the tenant is not active: raises the documented error
// (28T01 unknown, 28T02 suspended, 28T03 offboarded), recorded as a security event. revoke: also make every context unusable
// (a refused set_tenant / switch_tenant fails closed).
void refuse_unless_active(const pg_uuid_t* tenant, bool revoke, const char* subject);

// The same check for the context in force, at most once per statement: a suspension bites at the
// next statement of sessions that already hold the tenant's context.
void check_context_tenant(const pg_uuid_t* tenant);

// Transaction callbacks (xact.cpp).
void registry_transaction_ended(bool committed);
void registry_before_prepare();
void registry_subtransaction_aborted(SubTransactionId subxid);

}  // namespace tenant_guard::pg
