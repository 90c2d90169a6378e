#pragma once
#include "no_postgres.hpp"

#include "algorithm.hpp"
#include "keys.hpp"
#include "tenant_uuid.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenant_guard::core {

inline constexpr size_t kMaxTokenBytes = 16 * 1024;

// What a token must satisfy besides its signature (RFC 7519 section 4.1).
struct ClaimPolicy {
    std::string tenant_claim = "tenant_id";
    std::string tenants_claim = "tenants";  // optional array of the tenants the token may act for
    bool require_exp = true;
    std::int64_t clock_skew_seconds = 30;
    std::string issuer;    // empty: not enforced
    std::string audience;  // empty: not enforced
    // A platform access token: it must name no tenant (TenantInPlatformToken), and none is required.
    bool platform = false;

    bool operator==(const ClaimPolicy& other) const {
        return tenant_claim == other.tenant_claim && tenants_claim == other.tenants_claim && require_exp == other.require_exp &&
               clock_skew_seconds == other.clock_skew_seconds && issuer == other.issuer && audience == other.audience &&
               platform == other.platform;
    }
    bool operator!=(const ClaimPolicy& other) const { return !(*this == other); }
};

// The time claims (RFC 7519 4.1.4-4.1.6), kept so that a cached token can be re-checked.
struct TokenTimes {
    std::optional<double> exp, nbf, iat;
};

// Throws TokenRefused (Expired, NotYetValid, IssuedInFuture, MissingExpiry) when the times do not
// admit the token at `now`.
void check_token_times(const TokenTimes& times, const ClaimPolicy& policy, std::int64_t now);

inline constexpr size_t kMaxTenantsPerToken = 1000;

struct VerifiedToken {
    TenantId tenant;  // the tenant to act for when none is named (see choose_tenant)
    bool has_default_tenant = true;
    // Every tenant the token may act for: the tenant claim and the tenants claim, without repeats.
    std::vector<TenantId> allowed_tenants;
    std::optional<std::string> subject;
    std::optional<std::string> token_id;  // the jti claim
    std::string claims_json;  // the verified payload, compact
    std::string kid;
    Algorithm alg = Algorithm::HS256;
    TokenTimes times;
};

// Verifies a JWS compact-serialised JWT and its claims. The payload is not parsed until the
// signature has verified. Throws TokenRefused; the reason never carries token or key content.
VerifiedToken verify_token(std::string_view token, const KeySet& keys, const ClaimPolicy& policy,
                           std::int64_t now_unix_seconds);

// Checks claims alone (exposed for tests of the time/issuer/audience edges).
VerifiedToken validate_claims(std::string_view claims_json, const ClaimPolicy& policy, std::int64_t now_unix_seconds);

// The tenant to act for: `requested` if the token allows it, else the token's default tenant.
// Throws TokenRefused (TenantNotAllowed, TenantNotChosen).
TenantId choose_tenant(const VerifiedToken& token, const std::optional<TenantId>& requested);

// Mints a token with a key that can sign (HMAC). kid == nullptr: the set must hold exactly one key.
// Throws InvalidArgument for claims that are not a JSON object or an unusable key choice.
std::string sign_token(std::string_view claims_json, const KeySet& keys, const std::string* kid);

}  // namespace tenant_guard::core
