#pragma once
#include "no_postgres.hpp"

#include <stdexcept>
#include <string>

namespace tenant_guard::core {

// Why a token (or a key set) was refused. The adapter maps each reason to a documented SQLSTATE;
// messages are fixed texts that never contain the token, a claim value or key material.
enum class Refusal {
    TokenMalformed,      // not three base64url parts, bad JSON, bad header
    TokenTooLarge,       // over the size cap
    AlgorithmNone,       // "alg": "none" or empty
    AlgorithmUnsupported,// an alg this build does not know
    AlgorithmMismatch,   // header alg differs from the key's pinned alg
    UnknownKey,          // kid not in the key set / kid required but absent
    NoKeys,              // no key set configured or loaded
    BadSignature,        // MAC/signature does not verify
    CriticalHeader,      // "crit" present: we understand no extensions
    Expired,
    NotYetValid,
    IssuedInFuture,
    MissingExpiry,
    BadIssuer,
    BadAudience,
    MissingTenant,
    InvalidTenant,       // tenant claim is not a UUID (or the tenants claim not a list of them)
    TenantNotAllowed,    // the tenant asked for is not among the token's tenants
    TenantNotChosen,     // the token lists several tenants and none was named
    MissingTokenId,      // tenant_guard.require_jti and no jti claim
    Replayed,            // tenant_guard.require_jti and this jti was accepted before
    TenantInPlatformToken,  // a platform access token names a tenant (tenant claims are for tenant tokens)
    InvalidClaims,       // claims not a JSON object, a time claim not a number, ...
};

const char* refusal_message(Refusal reason) noexcept;

// A stable snake_case name for the reason: security events' reason column and statistics' counter names.
const char* refusal_code(Refusal reason) noexcept;

// True for reasons found after the signature, issuer and audience checks passed: the token's claims
// are then trustworthy.
bool refused_after_signature(Refusal reason) noexcept;

inline constexpr int kRefusalCount = static_cast<int>(Refusal::InvalidClaims) + 1;

class TokenRefused : public std::runtime_error {
public:
    explicit TokenRefused(Refusal reason) : std::runtime_error(refusal_message(reason)), reason_(reason) {}
    Refusal reason() const noexcept { return reason_; }

private:
    Refusal reason_;
};

// A key set (JWKS) that cannot be used. The message names the problem, never key material.
class KeySetError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Caller supplied an unusable argument (e.g. claims that are not an object when signing).
class InvalidArgument : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace tenant_guard::core
