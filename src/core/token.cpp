#include "token.hpp"

#include "base64url.hpp"
#include "refusal.hpp"
#include "strict_json.hpp"

#include <cctype>

namespace tenant_guard::core {

namespace {

[[noreturn]] void refuse(Refusal reason) { throw TokenRefused(reason); }

struct CompactParts {
    std::string_view header, payload, signature;
};

CompactParts split_compact(std::string_view token) {
    size_t first = token.find('.');
    if (first == std::string_view::npos) refuse(Refusal::TokenMalformed);
    size_t second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        refuse(Refusal::TokenMalformed);
    return {token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::optional<double> numeric_date(const Json& claims, const char* name) {
    auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number()) refuse(Refusal::InvalidClaims);
    return it->get<double>();
}

bool audience_matches(const Json& aud, const std::string& wanted) {
    if (aud.is_string()) return aud.get_ref<const std::string&>() == wanted;
    if (aud.is_array()) {
        for (const auto& entry : aud)
            if (entry.is_string() && entry.get_ref<const std::string&>() == wanted) return true;
    }
    return false;
}

}  // namespace

void check_token_times(const TokenTimes& times, const ClaimPolicy& policy, std::int64_t now) {
    const double skew = static_cast<double>(policy.clock_skew_seconds);
    const double current = static_cast<double>(now);
    if (!times.exp && policy.require_exp) refuse(Refusal::MissingExpiry);
    // exp: "on or after which the JWT MUST NOT be accepted" (RFC 7519 4.1.4), plus leeway.
    if (times.exp && current >= *times.exp + skew) refuse(Refusal::Expired);
    if (times.nbf && current + skew < *times.nbf) refuse(Refusal::NotYetValid);
    if (times.iat && *times.iat > current + skew) refuse(Refusal::IssuedInFuture);
}

VerifiedToken validate_claims(std::string_view claims_json, const ClaimPolicy& policy, std::int64_t now) {
    auto claims = parse_strict_json(claims_json);
    if (!claims || !claims->is_object()) refuse(Refusal::InvalidClaims);

    // Issuer and audience first: a refusal for any later reason then concerns a token meant for us,
    // whose tenant a security event may attribute as verified (refused_after_signature()).
    if (!policy.issuer.empty()) {
        auto iss = claims->find("iss");
        if (iss == claims->end() || !iss->is_string() || iss->get_ref<const std::string&>() != policy.issuer)
            refuse(Refusal::BadIssuer);
    }
    if (!policy.audience.empty()) {
        auto aud = claims->find("aud");
        if (aud == claims->end() || !audience_matches(*aud, policy.audience)) refuse(Refusal::BadAudience);
    }

    TokenTimes times{numeric_date(*claims, "exp"), numeric_date(*claims, "nbf"), numeric_date(*claims, "iat")};
    check_token_times(times, policy, now);

    VerifiedToken result;
    result.times = times;
    const auto allow = [&result](const TenantId& id) {
        for (const auto& known : result.allowed_tenants)
            if (known == id) return;
        result.allowed_tenants.push_back(id);
    };
    auto tenant = claims->find(policy.tenant_claim);
    const bool has_tenant = tenant != claims->end() && !tenant->is_null();
    if (has_tenant) {
        if (!tenant->is_string()) refuse(Refusal::InvalidTenant);
        auto tenant_id = parse_tenant_id(tenant->get_ref<const std::string&>());
        if (!tenant_id) refuse(Refusal::InvalidTenant);
        result.tenant = *tenant_id;
        allow(*tenant_id);
    }
    auto tenants = policy.tenants_claim.empty() ? claims->end() : claims->find(policy.tenants_claim);
    if (tenants != claims->end() && !tenants->is_null()) {
        if (!tenants->is_array() || tenants->empty() || tenants->size() > kMaxTenantsPerToken)
            refuse(Refusal::InvalidTenant);
        for (const auto& entry : *tenants) {
            if (!entry.is_string()) refuse(Refusal::InvalidTenant);
            auto id = parse_tenant_id(entry.get_ref<const std::string&>());
            if (!id) refuse(Refusal::InvalidTenant);
            allow(*id);
        }
    }
    if (policy.platform) {
        if (!result.allowed_tenants.empty()) refuse(Refusal::TenantInPlatformToken);
        result.has_default_tenant = false;
    } else if (result.allowed_tenants.empty()) {
        refuse(Refusal::MissingTenant);
    } else if (!has_tenant) {
        // Only a list: it names the tenant when it has exactly one.
        result.has_default_tenant = result.allowed_tenants.size() == 1;
        result.tenant = result.allowed_tenants.front();
    }

    if (auto jti = claims->find("jti"); jti != claims->end()) {
        if (!jti->is_string()) refuse(Refusal::InvalidClaims);
        result.token_id = jti->get<std::string>();
    }
    auto sub = claims->find("sub");
    if (sub != claims->end()) {
        if (!sub->is_string()) refuse(Refusal::InvalidClaims);
        result.subject = sub->get<std::string>();
    }
    result.claims_json = claims->dump();
    return result;
}

TenantId choose_tenant(const VerifiedToken& token, const std::optional<TenantId>& requested) {
    if (!requested) {
        if (!token.has_default_tenant) refuse(Refusal::TenantNotChosen);
        return token.tenant;
    }
    for (const auto& allowed : token.allowed_tenants)
        if (allowed == *requested) return allowed;
    refuse(Refusal::TenantNotAllowed);
}

VerifiedToken verify_token(std::string_view token, const KeySet& keys, const ClaimPolicy& policy, std::int64_t now) {
    if (token.size() > kMaxTokenBytes) refuse(Refusal::TokenTooLarge);
    CompactParts parts = split_compact(token);

    auto header_bytes = base64url_decode(parts.header);
    if (!header_bytes) refuse(Refusal::TokenMalformed);
    auto header = parse_strict_json(*header_bytes);
    if (!header || !header->is_object()) refuse(Refusal::TokenMalformed);

    auto alg_member = header->find("alg");
    if (alg_member == header->end() || !alg_member->is_string()) refuse(Refusal::TokenMalformed);
    const auto& alg_name = alg_member->get_ref<const std::string&>();
    if (alg_name.empty() || equals_ignoring_case(alg_name, "none")) refuse(Refusal::AlgorithmNone);
    auto alg = algorithm_from_name(alg_name);
    if (!alg) refuse(Refusal::AlgorithmUnsupported);
    // RFC 7515 4.1.11: extensions we do not implement (e.g. "b64": false) must make us refuse.
    if (header->contains("crit")) refuse(Refusal::CriticalHeader);

    std::optional<std::string> kid;
    if (auto member = header->find("kid"); member != header->end()) {
        if (!member->is_string()) refuse(Refusal::TokenMalformed);
        kid = member->get<std::string>();
    }
    if (keys.empty()) refuse(Refusal::NoKeys);
    const VerificationKey* key = keys.find(kid ? &*kid : nullptr);
    if (key == nullptr) refuse(Refusal::UnknownKey);
    // The key decides the algorithm; the header only has to agree (no algorithm confusion).
    if (key->algorithm() != *alg) refuse(Refusal::AlgorithmMismatch);

    auto signature = base64url_decode(parts.signature);
    if (!signature) refuse(Refusal::TokenMalformed);
    std::string_view signing_input = token.substr(0, parts.header.size() + 1 + parts.payload.size());
    if (!key->verify(signing_input, *signature)) refuse(Refusal::BadSignature);

    auto payload = base64url_decode(parts.payload);
    if (!payload) refuse(Refusal::TokenMalformed);
    VerifiedToken result = validate_claims(*payload, policy, now);
    result.kid = key->kid();
    result.alg = key->algorithm();
    return result;
}

std::string sign_token(std::string_view claims_json, const KeySet& keys, const std::string* kid) {
    auto claims = parse_strict_json(claims_json);
    if (!claims || !claims->is_object()) throw InvalidArgument("claims must be a JSON object");
    if (keys.empty()) throw InvalidArgument("no keys are configured");
    const VerificationKey* key = keys.find(kid);
    if (key == nullptr)
        throw InvalidArgument(kid ? "no key with that kid" : "the key set has several keys: name one by kid");
    if (!key->can_sign()) throw InvalidArgument("that key cannot sign");

    Json header = {{"alg", std::string(algorithm_name(key->algorithm()))}, {"typ", "JWT"}};
    if (!key->kid().empty()) header["kid"] = key->kid();
    std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(claims->dump());
    std::string signature = key->sign(signing_input);
    return signing_input + "." + base64url_encode(signature);
}

}  // namespace tenant_guard::core
