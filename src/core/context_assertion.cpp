#include "context_assertion.hpp"

#include <algorithm>

#include "base64url.hpp"
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
    // The signature and claims are checked as of a moment inside the assertion's own window (its exp
    // read unverified here, all checked below once verified); expiry is the caller's. Anything
    // unreadable is left to verify_token() to refuse for what it is.
    std::int64_t verify_at = now;
    const std::size_t first_dot = assertion.find('.');
    const std::size_t second_dot = first_dot == std::string_view::npos ? first_dot : assertion.find('.', first_dot + 1);
    if (second_dot != std::string_view::npos) {
        const auto unverified_payload = base64url_decode(assertion.substr(first_dot + 1, second_dot - first_dot - 1));
        const auto unverified = unverified_payload ? parse_strict_json(*unverified_payload) : std::nullopt;
        if (unverified && unverified->is_object()) {
            const auto exp = unverified->find("exp");
            if (exp != unverified->end() && exp->is_number_integer())
                verify_at = std::min(now, exp->get<std::int64_t>() - 1);
        }
    }
    const VerifiedToken verified = verify_token(assertion, keys, policy, verify_at);
    if (verified.kid != kid) throw TokenRefused(Refusal::UnknownKey);
    const auto payload = parse_strict_json(verified.claims_json);
    if (!payload || !payload->is_object()) throw TokenRefused(Refusal::InvalidClaims);
    const auto marker = payload->find("tg");
    const auto claims = payload->find("claims");
    if (marker == payload->end() || *marker != kMarker || claims == payload->end() || !claims->is_object())
        throw TokenRefused(Refusal::InvalidClaims);
    if (!verified.times.exp || !verified.times.iat) throw TokenRefused(Refusal::InvalidClaims);
    const double exp = *verified.times.exp;
    const double iat = *verified.times.iat;
    if (iat > static_cast<double>(now + clock_skew)) throw TokenRefused(Refusal::IssuedInFuture);
    // The assertion must not outlive its purpose: a distant exp is not ours.
    if (exp - iat > static_cast<double>(kAssertionLifetimeSeconds)) throw TokenRefused(Refusal::InvalidClaims);
    return ContextAssertion{verified.tenant, verified.subject, claims->dump(), static_cast<std::int64_t>(exp)};
}

}  // namespace tenant_guard::core
