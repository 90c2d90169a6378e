#include "verification_cache.hpp"

#include "postgres.hpp"
#include "settings.hpp"

#include "../core/refusal.hpp"


namespace tenant_guard::pg {

namespace {

constexpr int kDefaultCacheEntries = 256;
int cache_size_setting = kDefaultCacheEntries;

// Constructed on first use, so that no C++ allocation happens while the library loads.
core::TokenCache* cache_instance = nullptr;

void assign_cache_size(int newval, void* /*extra*/) {
    if (cache_instance != nullptr) cache_instance->set_capacity(static_cast<size_t>(newval));
}

}  // namespace

core::ClaimPolicy claim_policy_from_settings(bool platform) {
    core::ClaimPolicy policy;
    policy.tenant_claim = settings.tenant_claim ? settings.tenant_claim : "tenant_id";
    policy.tenants_claim = settings.tenants_claim ? settings.tenants_claim : "";
    policy.require_exp = settings.require_exp;
    policy.clock_skew_seconds = settings.clock_skew_seconds;
    policy.issuer = settings.issuer ? settings.issuer : "";
    policy.audience = settings.audience ? settings.audience : "";
    policy.platform = platform;
    return policy;
}

void refuse_cluster_key(const core::VerifiedToken& verified) {
    if (settings.cluster_key != nullptr && settings.cluster_key[0] != '\0' && verified.kid == settings.cluster_key)
        throw core::TokenRefused(core::Refusal::UnknownKey);
}

core::TokenCache& verification_cache() noexcept {
    // Called inside call_core(): a failed allocation throws std::bad_alloc there.
    if (cache_instance == nullptr) cache_instance = new core::TokenCache(static_cast<size_t>(cache_size_setting));
    return *cache_instance;
}

core::ReplayGuard& replay_guard() noexcept {
    static core::ReplayGuard* guard = nullptr;  // first use only, inside call_core()
    if (guard == nullptr) guard = new core::ReplayGuard();
    return *guard;
}

void define_verification_cache_setting() {
    DefineCustomIntVariable("tenant_guard.token_cache_size",
                            "Verified tokens each backend remembers, so that presenting one again skips verification.",
                            "0 turns the cache off. exp, nbf and iat are still checked on every use; a key reload "
                            "or a change of the claim settings empties the cache.",
                            &cache_size_setting, kDefaultCacheEntries, 0, 100000, PGC_SUSET, 0, nullptr,
                            assign_cache_size, nullptr);
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

extern "C" {

TG_SQL_FUNCTION(tg_token_cache_stats)

Datum tg_token_cache_stats(PG_FUNCTION_ARGS) {
    TupleDesc descriptor;
    if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("function returning record called in context "
                                                                       "that cannot accept type record")));
    tenant_guard::core::TokenCache::Stats stats{};
    if (cache_instance != nullptr) stats = cache_instance->stats();
    else stats.capacity = static_cast<size_t>(cache_size_setting);
    Datum values[4] = {Int64GetDatum(static_cast<int64>(stats.hits)), Int64GetDatum(static_cast<int64>(stats.misses)),
                       Int32GetDatum(static_cast<int32>(stats.entries)), Int32GetDatum(static_cast<int32>(stats.capacity))};
    bool nulls[4] = {false, false, false, false};
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(descriptor), values, nulls)));
}

}  // extern "C"
