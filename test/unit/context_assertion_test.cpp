// The assertion a Citus coordinator sends its workers: only the cluster key signs it, it names the
// coordinator's tenant, subject and claims, and it lasts minutes.
#include "test_support.hpp"

#include "context_assertion.hpp"

namespace {

using namespace tg_test;

class ContextAssertions : public ::testing::Test {
protected:
    std::string cluster_secret = secret_bytes(32, 7);
    std::string app_secret = secret_bytes(32, 1);
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("app", "HS256", app_secret), oct_jwk("cluster", "HS256", cluster_secret)}));
    std::string cluster = "cluster";
    ContextAssertion context{*parse_tenant_id(kTenant), std::string("alice"), R"({"role":"teacher","tenant_id":"x"})"};

    std::string sign(std::int64_t at = kNow) const { return sign_context_assertion(context, keys, cluster, at); }
    ContextAssertion verify(std::string_view assertion, std::int64_t at = kNow) const {
        return verify_context_assertion(assertion, keys, cluster, at, 30);
    }
};

TEST_F(ContextAssertions, CarriesTenantSubjectAndClaims) {
    const ContextAssertion verified = verify(sign());
    EXPECT_EQ(verified.tenant.to_string(), kTenant);
    ASSERT_TRUE(verified.subject.has_value());
    EXPECT_EQ(*verified.subject, "alice");
    EXPECT_EQ(Json::parse(verified.claims_json), Json::parse(context.claims_json));
}

TEST_F(ContextAssertions, WithoutSubject) {
    context.subject.reset();
    EXPECT_FALSE(verify(sign()).subject.has_value());
}

TEST_F(ContextAssertions, TellsWhenItExpires) {
    // Verified after its expiry too (Citus replays superseded SETs); the caller checks expires_at.
    const std::string assertion = sign();
    EXPECT_EQ(verify(assertion).expires_at, kNow + kAssertionLifetimeSeconds);
    EXPECT_EQ(verify(assertion, kNow + 10 * kAssertionLifetimeSeconds).expires_at, kNow + kAssertionLifetimeSeconds);
}

TEST_F(ContextAssertions, IssuedInTheFutureIsRefused) {
    const std::string assertion = sign(kNow + 3600);
    EXPECT_TRUE(RefusedWith(Refusal::IssuedInFuture, [&] { verify(assertion); }));
}

TEST_F(ContextAssertions, WithoutExpiryIsRefused) {
    const Json payload = {{"tg", "context"}, {"tenant", kTenant}, {"claims", Json::object()}, {"iat", kNow}};
    const std::string token = sign_token(payload.dump(), keys, &cluster);
    EXPECT_TRUE(RefusedWith(Refusal::MissingExpiry, [&] { verify(token); }));
}

TEST_F(ContextAssertions, SignedWithAnotherKeyOfTheSetIsRefused) {
    // An application token with the same shape, signed with an application key.
    const std::string forged = sign_context_assertion(context, keys, "app", kNow);
    EXPECT_TRUE(RefusedWith(Refusal::UnknownKey, [&] { verify(forged); }));
}

TEST_F(ContextAssertions, AnApplicationTokenIsNotAnAssertion) {
    Json claims = good_claims();
    claims["tenant"] = kTenant;
    const std::string token = sign_token(claims.dump(), keys, &cluster);
    EXPECT_TRUE(RefusedWith(Refusal::InvalidClaims, [&] { verify(token); }));
}

TEST_F(ContextAssertions, ALongLivedAssertionIsRefused) {
    const Json payload = {{"tg", "context"}, {"tenant", kTenant}, {"claims", Json::object()}, {"iat", kNow}, {"exp", kNow + 86400}};
    const std::string token = sign_token(payload.dump(), keys, &cluster);
    EXPECT_TRUE(RefusedWith(Refusal::InvalidClaims, [&] { verify(token); }));
}

TEST_F(ContextAssertions, TamperedTenantIsRefused) {
    std::string assertion = sign();
    const size_t dot = assertion.find('.');
    const size_t second = assertion.find('.', dot + 1);
    Json payload = Json::parse(*base64url_decode(assertion.substr(dot + 1, second - dot - 1)));
    payload["tenant"] = "00000000-0000-4000-8000-000000000001";
    assertion = assertion.substr(0, dot + 1) + base64url_encode(payload.dump()) + assertion.substr(second);
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify(assertion); }));
}

TEST_F(ContextAssertions, ClaimsMustBeAnObject) {
    context.claims_json = "[1]";
    EXPECT_THROW(sign(), InvalidArgument);
}

}  // namespace
