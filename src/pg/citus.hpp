// Running under Citus (scale-out): the tenant context on every worker, tenant queries routed to
// the tenant's shard, and Citus's copies of tenant_guard's policies and index onto shards. Everything
// here goes through what Citus does with ordinary PostgreSQL statements and plans; tenant_guard
// neither links to Citus nor reads its memory.
#pragma once

namespace tenant_guard::pg {

// citus is in shared_preload_libraries (before tenant_guard).
bool citus_loaded();

// This node is a Citus coordinator (its group id is 0): where applications connect. Reads Citus's
// catalog once per backend; needs a transaction. False without Citus.
bool citus_coordinator();

// The statement comes from one of Citus's own connections (application_name citus_internal ...):
// Citus creating a shard, or a worker's copy of a distributed table, and copying the coordinator
// table's RLS, FORCE, policies and indexes onto it. Any client can claim that application_name, so
// it only ever spares work that Citus does too (the automatic index, a copy of a policy that is
// already there), never protection or a guard.
bool citus_internal_command();

// Every saved plan routed to a tenant's shard is re-planned at its next use (its parsed query kept).
void invalidate_routed_plans() noexcept;

// Planner and executor hooks; a no-op without Citus.
void install_citus_hooks();

}  // namespace tenant_guard::pg
