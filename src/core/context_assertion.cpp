#include "context_assertion.hpp"

#include "refusal.hpp"
#include "strict_json.hpp"
#include "token.hpp"

namespace tenant_guard::core {

namespace {
constexpr const char* kMarker = "context";
}

std::string sign_context_assertion(const ContextAssertion& assertion, const KeySet& keys, const std::string& kid,
                                   std::int64_t now) {
    auto claims = parse_strict_json(assertion.claims_json);
    if (!claims || !claims->is_object()) throw InvalidArgument("the context's claims are not a JSON object");
    Json payload = {{"tg", kMarker},
                    {"tenant", assertion.tenant.to_string()},
                    {"claims", std::move(*claims)},
                    {"iat", now},
                    {"exp", now + kAssertionLifetimeSeconds}};
    if (assertion.subject) payload["sub"] = *assertion.subject;
    return sign_token(payload.dump(), keys, &kid);
}

ContextAssertion verify_context_assertion(std::string_view assertion, const KeySet& keys, const std::string& kid,
                                          std::int64_t now, std::int64_t clock_skew) {
    ClaimPolicy policy;
    policy.tenant_claim = "tenant";
    policy.tenants_claim = "";
    policy.require_exp = true;
    policy.clock_skew_seconds = clock_skew;
    const VerifiedToken verified = verify_token(assertion, keys, policy, now);
    if (verified.kid != kid) throw TokenRefused(Refusal::UnknownKey);
    const auto payload = parse_strict_json(verified.claims_json);
    if (!payload || !payload->is_object()) throw TokenRefused(Refusal::InvalidClaims);
    const auto marker = payload->find("tg");
    const auto claims = payload->find("claims");
    if (marker == payload->end() || *marker != kMarker || claims == payload->end() || !claims->is_object())
        throw TokenRefused(Refusal::InvalidClaims);
    // The assertion must not outlive its purpose: a distant exp is not ours.
    if (verified.times.exp && *verified.times.exp > static_cast<double>(now + kAssertionLifetimeSeconds + clock_skew))
        throw TokenRefused(Refusal::InvalidClaims);
    return ContextAssertion{verified.tenant, verified.subject, claims->dump()};
}

}  // namespace tenant_guard::core
