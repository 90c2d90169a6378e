// The per-backend cache of verified tokens (core/token_cache.hpp), its size setting
// tenant_guard.token_cache_size and the SQL function tenant_guard.token_cache_stats().
#pragma once

#include "../core/token_cache.hpp"

namespace tenant_guard::pg {

core::TokenCache& verification_cache() noexcept;
void define_verification_cache_setting();

}  // namespace tenant_guard::pg
