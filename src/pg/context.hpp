// The tenant context: who the current transaction or session acts for.
#pragma once

#include <cstdint>

namespace tenant_guard::pg {

void define_context_setting();   // tenant_guard.tenant_id, the protected GUC that holds the context
void install_executor_guard();   // keeps revoked contexts out of parallel workers

// Makes every context set so far unusable, even if a later ROLLBACK restores the GUC value.
void revoke_context() noexcept;

// Called by the transaction callbacks.
void context_transaction_ended() noexcept;
void context_subtransaction_aborted(unsigned int subxid) noexcept;

// RESET / RESET ALL / SET ... TO DEFAULT while a statement reads or writes protected tables under a
// context: refused (and recorded), since the statement's rows or audit entries would lose their tenant.
void refuse_context_change_inside_statement(const char* what);
// True while a tenant context is in force.
bool tenant_context_active() noexcept;

// The verified token behind the context in force: its sub claim and its claims as JSON text.
// nullptr without a context (and, for claims, in parallel workers, which only copy the tenant).
const char* context_subject() noexcept;
// The tenant of the context in force (a pg_uuid_t), or nullptr.
const void* context_tenant() noexcept;
const char* context_claims() noexcept;

// import_tenant() loads a district with COPY, which fills the tenant column from its default,
// policy_tenant(): while a tenant (a pg_uuid_t) is set here, policy_tenant() and current_tenant()
// return it, without a token and without asking the registry. nullptr clears it; so does the end of
// the transaction.
void set_loading_tenant(const void* tenant) noexcept;

extern const char* const kContextSettingName;
extern const char* const kDistributedContextSettingName;

// --- For Citus (citus.cpp) ---
// The tenant that routed plans may name: the context's (or the loading district's), none during
// platform access. A pg_uuid_t, or nullptr.
const void* routing_tenant() noexcept;
// A plan now names this tenant. When a different tenant becomes current, every saved plan of this
// backend that names one is re-planned (invalidate_routed_plans), so none serves another tenant.
void note_routed_plan(const void* tenant) noexcept;
void context_may_have_changed() noexcept;
void forget_routed_plans() noexcept;
// The context set here by set_tenant()/switch_tenant() that the workers must receive (pointers into
// the context's own memory), and its generation; 0 when there is none to send.
struct WorkerContext {
    const void* tenant;  // pg_uuid_t
    const char* tenant_text;
    const char* subject;  // nullptr: no sub claim
    const char* claims;
};
uint64_t context_for_workers(WorkerContext* out) noexcept;
// While on, tenant_guard.distributed_context accepts the coordinator's own SET LOCAL unverified.
void mark_sending_distributed_context(bool sending) noexcept;

}  // namespace tenant_guard::pg
