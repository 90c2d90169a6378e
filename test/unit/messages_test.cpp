// Refusal messages are fixed texts: never the token, a claim value or key material.
#include "test_support.hpp"

#include <set>
#include <vector>

namespace {

using namespace tg_test;

constexpr Refusal kAllReasons[] = {
    Refusal::TokenMalformed, Refusal::TokenTooLarge,  Refusal::AlgorithmNone, Refusal::AlgorithmUnsupported,
    Refusal::AlgorithmMismatch, Refusal::UnknownKey,  Refusal::NoKeys,        Refusal::BadSignature,
    Refusal::CriticalHeader, Refusal::Expired,        Refusal::NotYetValid,   Refusal::IssuedInFuture,
    Refusal::MissingExpiry,  Refusal::BadIssuer,      Refusal::BadAudience,   Refusal::MissingTenant,
    Refusal::InvalidTenant,  Refusal::TenantInPlatformToken, Refusal::InvalidClaims,
};

TEST(RefusalMessages, EveryReasonHasItsOwnNonEmptyMessage) {
    std::set<std::string> seen;
    for (Refusal reason : kAllReasons) {
        std::string message = refusal_message(reason);
        EXPECT_FALSE(message.empty()) << refusal_name(reason);
        EXPECT_TRUE(seen.insert(message).second) << "duplicate message for " << refusal_name(reason);
        TokenRefused e(reason);
        EXPECT_EQ(e.reason(), reason);
        EXPECT_EQ(std::string(e.what()), message);
    }
    EXPECT_EQ(seen.size(), sizeof kAllReasons / sizeof *kAllReasons);
}

// The pieces of the token an error must not echo: the whole token, each part, and chunks of each.
std::vector<std::string> secrets_of(const std::string& token) {
    std::vector<std::string> out{token};
    size_t start = 0;
    while (start <= token.size()) {
        size_t dot = token.find('.', start);
        std::string part = token.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (part.size() >= 6) {
            out.push_back(part);
            for (size_t i = 0; i + 6 <= part.size(); i += 6) out.push_back(part.substr(i, 6));
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return out;
}

struct Leak {
    const char* name;
    std::string token;
    Refusal expected;
    std::vector<std::string> also_secret;  // claim values, kids, ...
};

TEST(RefusalMessages, NeverContainTokenClaimsOrKeys) {
    std::string secret = secret_bytes(32, 11);
    std::string k = base64url_encode(secret);
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("kid-visible-1", "HS256", secret)}));
    const VerificationKey& signer = *keys.find(nullptr);
    HmacKey other("kid-visible-1", Algorithm::HS256, secret_bytes(32, 12));

    Json claims = good_claims();
    claims["iss"] = "issuer-SECRET-VALUE";
    claims["aud"] = "audience-SECRET-VALUE";
    std::string good = raw_token(R"({"alg":"HS256","kid":"kid-visible-1"})", claims.dump(), signer);

    Json bad_tenant = claims;
    bad_tenant["tenant_id"] = "tenant-SECRET-VALUE";
    Json expired = claims;
    expired["exp"] = kNow - 3600;

    std::vector<Leak> cases = {
        {"malformed", "header-SECRET.payload-SECRET", Refusal::TokenMalformed, {"header-SECRET", "payload-SECRET"}},
        {"too-large", std::string(kMaxTokenBytes + 1, 'Q'), Refusal::TokenTooLarge, {"QQQQQQ"}},
        {"none", base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(claims.dump()) + ".",
         Refusal::AlgorithmNone, {"none"}},
        {"unsupported", raw_token(R"({"alg":"ALG-SECRET-VALUE"})", claims.dump(), signer), Refusal::AlgorithmUnsupported,
         {"ALG-SECRET-VALUE"}},
        {"unknown-kid", raw_token(R"({"alg":"HS256","kid":"kid-SECRET-VALUE"})", claims.dump(), signer),
         Refusal::UnknownKey, {"kid-SECRET-VALUE"}},
        {"bad-signature", raw_token(R"({"alg":"HS256","kid":"kid-visible-1"})", claims.dump(), other),
         Refusal::BadSignature, {"kid-visible-1", "issuer-SECRET-VALUE"}},
        {"expired", raw_token(R"({"alg":"HS256"})", expired.dump(), signer), Refusal::Expired, {"issuer-SECRET-VALUE"}},
        {"bad-tenant", raw_token(R"({"alg":"HS256"})", bad_tenant.dump(), signer), Refusal::InvalidTenant,
         {"tenant-SECRET-VALUE"}},
    };
    ClaimPolicy strict;
    strict.issuer = "issuer-EXPECTED";
    cases.push_back({"bad-issuer", good, Refusal::BadIssuer, {"issuer-SECRET-VALUE", "issuer-EXPECTED"}});

    for (const auto& c : cases) {
        const ClaimPolicy& policy = c.expected == Refusal::BadIssuer ? strict : ClaimPolicy{};
        try {
            verify_token(c.token, keys, policy, kNow);
            ADD_FAILURE() << c.name << ": accepted";
        } catch (const TokenRefused& e) {
            EXPECT_EQ(e.reason(), c.expected) << c.name << ": " << refusal_name(e.reason());
            std::string what = e.what();
            EXPECT_EQ(what, refusal_message(c.expected)) << c.name;
            std::vector<std::string> forbidden = secrets_of(c.token);
            forbidden.insert(forbidden.end(), c.also_secret.begin(), c.also_secret.end());
            forbidden.push_back(k);
            forbidden.push_back(k.substr(0, 8));
            forbidden.push_back(secret);
            for (const auto& s : forbidden) {
                if (s == "none") continue;  // the fixed "alg none" message legitimately names the algorithm
                EXPECT_EQ(what.find(s), std::string::npos) << c.name << ": message contains \"" << s << "\"";
            }
        }
    }
}

}  // namespace
