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
        case Refusal::InvalidClaims: return "token claims are invalid";
        case Refusal::TenantNotAllowed: return "the requested tenant is not among the token's tenants";
        case Refusal::TenantNotChosen: return "token lists several tenants: name the one to act for";
        case Refusal::MissingTokenId: return "token has no id (jti)";
        case Refusal::Replayed: return "token was already used (jti)";
    }
    return "token is invalid";
}

}  // namespace tenant_guard::core
