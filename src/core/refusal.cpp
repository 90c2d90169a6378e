#include "refusal.hpp"

namespace tenant_guard::core {

const char* refusal_message(Refusal reason) noexcept {
    switch (reason) {
        case Refusal::TokenMalformed: return "token is malformed";
        case Refusal::TokenTooLarge: return "token is too large";
        case Refusal::AlgorithmNone: return "unsigned tokens (alg \"none\") are not accepted";
        case Refusal::AlgorithmUnsupported: return "token algorithm is not supported";
        case Refusal::AlgorithmMismatch: return "token algorithm does not match the key's algorithm";
        case Refusal::UnknownKey: return "token key id (kid) is unknown";
        case Refusal::NoKeys: return "no verification keys are configured";
        case Refusal::BadSignature: return "token signature is invalid";
        case Refusal::CriticalHeader: return "token has critical header extensions that are not supported";
        case Refusal::Expired: return "token has expired";
        case Refusal::NotYetValid: return "token is not yet valid (nbf)";
        case Refusal::IssuedInFuture: return "token was issued in the future (iat)";
        case Refusal::MissingExpiry: return "token has no expiry (exp)";
        case Refusal::BadIssuer: return "token issuer (iss) is not accepted";
        case Refusal::BadAudience: return "token audience (aud) is not accepted";
        case Refusal::MissingTenant: return "token has no tenant claim";
        case Refusal::InvalidTenant: return "token tenant claim is not a valid UUID";
        case Refusal::TenantInPlatformToken: return "a platform access token must not name a tenant";
        case Refusal::InvalidClaims: return "token claims are invalid";
        case Refusal::TenantNotAllowed: return "the requested tenant is not among the token's tenants";
        case Refusal::TenantNotChosen: return "token lists several tenants: name the one to act for";
        case Refusal::MissingTokenId: return "token has no id (jti)";
        case Refusal::Replayed: return "token was already used (jti)";
    }
    return "token is invalid";
}


bool refused_after_signature(Refusal reason) noexcept {
    switch (reason) {
        case Refusal::TokenMalformed:
        case Refusal::TokenTooLarge:
        case Refusal::AlgorithmNone:
        case Refusal::AlgorithmUnsupported:
        case Refusal::AlgorithmMismatch:
        case Refusal::UnknownKey:
        case Refusal::NoKeys:
        case Refusal::BadSignature:
        case Refusal::CriticalHeader:
        // Signed, but not for us (another issuer or audience sharing the keys), or not a claim set.
        case Refusal::BadIssuer:
        case Refusal::BadAudience:
        case Refusal::InvalidClaims:
            return false;
        default:
            return true;
    }
}

const char* refusal_code(Refusal reason) noexcept {
    switch (reason) {
        case Refusal::TokenMalformed: return "token_malformed";
        case Refusal::TokenTooLarge: return "token_too_large";
        case Refusal::AlgorithmNone: return "algorithm_none";
        case Refusal::AlgorithmUnsupported: return "algorithm_unsupported";
        case Refusal::AlgorithmMismatch: return "algorithm_mismatch";
        case Refusal::UnknownKey: return "unknown_key";
        case Refusal::NoKeys: return "no_keys";
        case Refusal::BadSignature: return "bad_signature";
        case Refusal::CriticalHeader: return "critical_header";
        case Refusal::Expired: return "expired";
        case Refusal::NotYetValid: return "not_yet_valid";
        case Refusal::IssuedInFuture: return "issued_in_future";
        case Refusal::MissingExpiry: return "missing_expiry";
        case Refusal::BadIssuer: return "bad_issuer";
        case Refusal::BadAudience: return "bad_audience";
        case Refusal::MissingTenant: return "missing_tenant";
        case Refusal::InvalidTenant: return "invalid_tenant";
        case Refusal::TenantNotAllowed: return "tenant_not_allowed";
        case Refusal::TenantNotChosen: return "tenant_not_chosen";
        case Refusal::MissingTokenId: return "missing_token_id";
        case Refusal::Replayed: return "replayed";
        case Refusal::TenantInPlatformToken: return "tenant_in_platform_token";
        case Refusal::InvalidClaims: return "invalid_claims";
    }
    return "token_invalid";
}

}  // namespace tenant_guard::core
