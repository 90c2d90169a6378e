// What a backend remembers about tokens: the cache of verified tokens (core/token_cache.hpp), its
// size setting tenant_guard.token_cache_size and tenant_guard.token_cache_stats(); and the token ids
// already accepted, for tenant_guard.require_jti (core/replay_guard.hpp).
#pragma once

#include "../core/replay_guard.hpp"
#include "../core/token_cache.hpp"

namespace tenant_guard::pg {

core::TokenCache& verification_cache() noexcept;
core::ReplayGuard& replay_guard() noexcept;
void define_verification_cache_setting();

// The claim rules the tenant_guard.* settings ask for. Call inside call_core() (it may throw
// std::bad_alloc); `platform` for begin_platform_access()'s tokens.
core::ClaimPolicy claim_policy_from_settings(bool platform);
// Tokens signed with tenant_guard.cluster_key are the nodes' own context assertions, never an
// application's token: throws TokenRefused(UnknownKey) for them. Call inside call_core().
void refuse_cluster_key(const core::VerifiedToken& verified);

}  // namespace tenant_guard::pg
