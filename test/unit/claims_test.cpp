// validate_claims and the claim-level refusals of verify_token.
#include "test_support.hpp"

#include <limits>

namespace {

using namespace tg_test;

class Claims : public ::testing::Test {
protected:
    ClaimPolicy policy;  // defaults: tenant_id, exp required, 30 s skew, no iss/aud

    ::testing::AssertionResult Refused(Refusal reason, const std::string& claims_json, std::int64_t now = kNow) const {
        return RefusedWith(reason, [&] { validate_claims(claims_json, policy, now); });
    }
    ::testing::AssertionResult Refused(Refusal reason, const Json& claims, std::int64_t now = kNow) const {
        return Refused(reason, claims.dump(), now);
    }
    ::testing::AssertionResult Accepted(const Json& claims, std::int64_t now = kNow) const {
        try {
            validate_claims(claims.dump(), policy, now);
            return ::testing::AssertionSuccess();
        } catch (const TokenRefused& e) {
            return ::testing::AssertionFailure() << "refused: " << refusal_name(e.reason());
        }
    }
    static Json with(const char* name, Json value) {
        Json claims = good_claims();
        claims[name] = std::move(value);
        return claims;
    }
    static Json without(const char* name) {
        Json claims = good_claims();
        claims.erase(name);
        return claims;
    }
};

TEST_F(Claims, GoodClaimsGiveTenantSubjectAndCompactJson) {
    VerifiedToken result = validate_claims("{ \"tenant_id\" : \"3F2504E0-4F89-41D3-9A0C-0305E82C3301\",\n"
                                           "  \"exp\": 1700003600, \"sub\": \"alice\", \"n\": [1, 2] }",
                                           policy, kNow);
    EXPECT_EQ(result.tenant.to_string(), kTenant);
    ASSERT_TRUE(result.subject.has_value());
    EXPECT_EQ(*result.subject, "alice");
    EXPECT_EQ(result.claims_json, R"({"exp":1700003600,"n":[1,2],"sub":"alice","tenant_id":"3F2504E0-4F89-41D3-9A0C-0305E82C3301"})");
}

// ---- exp ---------------------------------------------------------------------------------------

TEST_F(Claims, ExpiryLeewayEdges) {
    ASSERT_EQ(policy.clock_skew_seconds, 30);
    const std::int64_t exp = kNow;
    Json claims = with("exp", exp);
    EXPECT_TRUE(Accepted(claims, exp - 1000));
    EXPECT_TRUE(Accepted(claims, exp));
    EXPECT_TRUE(Accepted(claims, exp + 29));
    EXPECT_TRUE(Refused(Refusal::Expired, claims, exp + 30));
    EXPECT_TRUE(Refused(Refusal::Expired, claims, exp + 31));
    EXPECT_TRUE(Refused(Refusal::Expired, claims, exp + 1000000));
}

TEST_F(Claims, ExpiryWithoutLeewayIsOnOrAfter) {
    policy.clock_skew_seconds = 0;
    Json claims = with("exp", kNow);
    EXPECT_TRUE(Accepted(claims, kNow - 1));
    EXPECT_TRUE(Refused(Refusal::Expired, claims, kNow));
}

TEST_F(Claims, LargerLeewayMovesTheEdge) {
    policy.clock_skew_seconds = 300;
    Json claims = with("exp", kNow);
    EXPECT_TRUE(Accepted(claims, kNow + 299));
    EXPECT_TRUE(Refused(Refusal::Expired, claims, kNow + 300));
}

TEST_F(Claims, FractionalAndExtremeExpiry) {
    policy.clock_skew_seconds = 0;
    EXPECT_TRUE(Accepted(with("exp", static_cast<double>(kNow) + 0.5), kNow));
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", static_cast<double>(kNow) - 0.5), kNow));
    EXPECT_TRUE(Accepted(with("exp", 1e300)));
    EXPECT_TRUE(Accepted(with("exp", std::numeric_limits<std::uint64_t>::max())));
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", 0)));
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", -1)));
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", -1e300)));
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", std::numeric_limits<std::int64_t>::min())));
}

TEST_F(Claims, MissingExpiry) {
    EXPECT_TRUE(Refused(Refusal::MissingExpiry, without("exp")));
    policy.require_exp = false;
    EXPECT_TRUE(Accepted(without("exp")));
    // Not required, but when present it is still enforced and type-checked.
    EXPECT_TRUE(Refused(Refusal::Expired, with("exp", kNow - 3600)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", "soon")));
}

TEST_F(Claims, ExpOfWrongTypeIsInvalidClaims) {
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", std::to_string(kNow + 3600))));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", nullptr)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", true)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", Json::array({kNow + 3600}))));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("exp", Json::object({{"t", kNow + 3600}}))));
}

// ---- nbf / iat ---------------------------------------------------------------------------------

TEST_F(Claims, NotBeforeLeewayEdges) {
    EXPECT_TRUE(Accepted(with("nbf", kNow - 3600)));
    EXPECT_TRUE(Accepted(with("nbf", kNow)));
    EXPECT_TRUE(Accepted(with("nbf", kNow + 30)));
    EXPECT_TRUE(Refused(Refusal::NotYetValid, with("nbf", kNow + 31)));
    EXPECT_TRUE(Refused(Refusal::NotYetValid, with("nbf", kNow + 3600)));
    policy.clock_skew_seconds = 0;
    EXPECT_TRUE(Accepted(with("nbf", kNow)));
    EXPECT_TRUE(Refused(Refusal::NotYetValid, with("nbf", kNow + 1)));
}

TEST_F(Claims, IssuedAtLeewayEdges) {
    EXPECT_TRUE(Accepted(with("iat", kNow - 3600)));
    EXPECT_TRUE(Accepted(with("iat", kNow)));
    EXPECT_TRUE(Accepted(with("iat", kNow + 30)));
    EXPECT_TRUE(Refused(Refusal::IssuedInFuture, with("iat", kNow + 31)));
    EXPECT_TRUE(Refused(Refusal::IssuedInFuture, with("iat", kNow + 3600)));
    policy.clock_skew_seconds = 0;
    EXPECT_TRUE(Accepted(with("iat", kNow)));
    EXPECT_TRUE(Refused(Refusal::IssuedInFuture, with("iat", kNow + 1)));
}

TEST_F(Claims, NbfAndIatOfWrongTypeAreInvalidClaims) {
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("nbf", "0")));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("nbf", nullptr)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("iat", "0")));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("iat", false)));
}

// ---- iss / aud ---------------------------------------------------------------------------------

TEST_F(Claims, IssuerEnforcedOnlyWhenConfigured) {
    EXPECT_TRUE(Accepted(with("iss", "anyone")));
    EXPECT_TRUE(Accepted(without("iss")));
    policy.issuer = "https://issuer.example";
    EXPECT_TRUE(Accepted(with("iss", "https://issuer.example")));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, good_claims()));  // missing
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", "https://issuer.example/")));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", "HTTPS://ISSUER.EXAMPLE")));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", "https://evil.example")));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", "")));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", Json::array({"https://issuer.example"}))));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", 1)));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", nullptr)));
    EXPECT_TRUE(Refused(Refusal::BadIssuer, with("iss", std::string("https://issuer.example\0", 23))));
}

TEST_F(Claims, AudienceAsString) {
    EXPECT_TRUE(Accepted(with("aud", "whatever")));
    policy.audience = "api";
    EXPECT_TRUE(Accepted(with("aud", "api")));
    EXPECT_TRUE(Refused(Refusal::BadAudience, good_claims()));  // missing
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", "API")));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", "api ")));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", "web")));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", "")));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", 1)));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", nullptr)));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", Json::object({{"api", true}}))));
}

TEST_F(Claims, AudienceAsArray) {
    policy.audience = "api";
    EXPECT_TRUE(Accepted(with("aud", Json::array({"api"}))));
    EXPECT_TRUE(Accepted(with("aud", Json::array({"web", "api"}))));
    EXPECT_TRUE(Accepted(with("aud", Json::array({1, nullptr, "api"}))));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", Json::array())));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", Json::array({"web", "mobile"}))));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", Json::array({Json::array({"api"})}))));
    EXPECT_TRUE(Refused(Refusal::BadAudience, with("aud", Json::array({"API"}))));
}

// ---- tenant ------------------------------------------------------------------------------------

TEST_F(Claims, MissingTenant) {
    EXPECT_TRUE(Refused(Refusal::MissingTenant, without("tenant_id")));
    EXPECT_TRUE(Refused(Refusal::MissingTenant, with("tenant_id", nullptr)));
    Json other_case = without("tenant_id");
    other_case["Tenant_ID"] = kTenant;  // claim names are case-sensitive
    EXPECT_TRUE(Refused(Refusal::MissingTenant, other_case));
}

TEST_F(Claims, InvalidTenant) {
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", 42)));
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", 3.5)));
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", true)));
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", Json::array({kTenant}))));
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", Json::object({{"id", kTenant}}))));
    for (const char* bad : {"", "acme", "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", "3f2504e04f8941d39a0c0305e82c3301",
                            "3f2504e0-4f89-41d3-9a0c-0305e82c330", "3f2504e0-4f89-41d3-9a0c-0305e82c33011",
                            "3f2504e0-4f89-41d3-9a0c-0305e82c330g", " 3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                            "3f2504e04-f89-41d3-9a0c-0305e82c3301"})
        EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("tenant_id", bad))) << bad;
}

TEST_F(Claims, ConfigurableTenantClaim) {
    policy.tenant_claim = "org_id";
    EXPECT_TRUE(Refused(Refusal::MissingTenant, good_claims()));  // has tenant_id, not org_id
    VerifiedToken result = validate_claims(with("org_id", "00000000-0000-0000-0000-00000000abcd").dump(), policy, kNow);
    EXPECT_EQ(result.tenant.to_string(), "00000000-0000-0000-0000-00000000abcd");
    EXPECT_TRUE(Refused(Refusal::InvalidTenant, with("org_id", "acme")));

    policy.tenant_claim = "https://example.com/claims/tenant";
    result = validate_claims(with("https://example.com/claims/tenant", "00000000-0000-0000-0000-000000000002").dump(),
                             policy, kNow);
    EXPECT_EQ(result.tenant.to_string(), "00000000-0000-0000-0000-000000000002");

    policy.tenant_claim = "Tenant_ID";  // names are case-sensitive
    EXPECT_TRUE(Refused(Refusal::MissingTenant, good_claims()));
}

// ---- shape -------------------------------------------------------------------------------------

TEST_F(Claims, ClaimsThatAreNotAJsonObjectAreInvalid) {
    for (std::string text : {std::string("[]"), std::string(R"([{"tenant_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"}])"),
                             std::string("\"claims\""), std::string("42"), std::string("null"), std::string(""),
                             std::string("not json"), std::string("{\"exp\":1,}"), std::string("{} {}"),
                             std::string("{\"tenant_id\":\"a\xff\"}")})
        EXPECT_TRUE(Refused(Refusal::InvalidClaims, text)) << ::testing::PrintToString(text);
}

TEST_F(Claims, DuplicateClaimsAreInvalid) {
    // Which tenant would win must not be the parser's choice.
    std::string text = std::string(R"({"exp":1700003600,"tenant_id":")") + kTenant +
                       R"(","tenant_id":"00000000-0000-0000-0000-000000000001"})";
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, text));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, std::string(R"({"exp":1700003600,"exp":1,"tenant_id":")") + kTenant + "\"}"));
}

TEST_F(Claims, DeepClaimsAreInvalid) {
    Json deep = good_claims();
    std::string nested = std::string(31, '[') + std::string(31, ']');  // depth 32 with the object
    std::string text = deep.dump();
    text.insert(1, "\"x\":" + nested + ",");
    EXPECT_NO_THROW(validate_claims(text, policy, kNow));
    std::string too_deep = deep.dump();
    too_deep.insert(1, "\"x\":[" + nested + "],");
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, too_deep));
}

TEST_F(Claims, SubjectMustBeAString) {
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("sub", 42)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("sub", nullptr)));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, with("sub", Json::array({"alice"}))));
    VerifiedToken result = validate_claims(with("sub", "").dump(), policy, kNow);
    ASSERT_TRUE(result.subject.has_value());
    EXPECT_EQ(*result.subject, "");
}

// ---- Through verify_token: each claim-level refusal under a valid MAC ----------------------------

struct ClaimCase {
    const char* name;
    std::string payload;
    Refusal expected;
};

void PrintTo(const ClaimCase& c, std::ostream* os) { *os << c.name; }

class ClaimsThroughVerifyToken : public ::testing::TestWithParam<ClaimCase> {};

TEST_P(ClaimsThroughVerifyToken, RefusedWithTheRightReason) {
    KeySet keys = one_key_set();
    ClaimPolicy policy;
    policy.issuer = "iss-1";
    policy.audience = "aud-1";
    std::string token = raw_token(R"({"alg":"HS256","kid":"k1"})", GetParam().payload, *keys.find(nullptr));
    EXPECT_TRUE(RefusedWith(GetParam().expected, [&] { verify_token(token, keys, policy, kNow); }));
}

std::string claims_with(std::initializer_list<std::pair<const char*, Json>> changes, std::initializer_list<const char*> removed = {}) {
    Json claims = good_claims();
    claims["iss"] = "iss-1";
    claims["aud"] = "aud-1";
    for (const auto& [name, value] : changes) claims[name] = value;
    for (const char* name : removed) claims.erase(name);
    return claims.dump();
}

INSTANTIATE_TEST_SUITE_P(
    AllClaimReasons, ClaimsThroughVerifyToken,
    ::testing::Values(
        ClaimCase{"Expired", claims_with({{"exp", kNow - 30}}), Refusal::Expired},
        ClaimCase{"NotYetValid", claims_with({{"nbf", kNow + 31}}), Refusal::NotYetValid},
        ClaimCase{"IssuedInFuture", claims_with({{"iat", kNow + 31}}), Refusal::IssuedInFuture},
        ClaimCase{"MissingExpiry", claims_with({}, {"exp"}), Refusal::MissingExpiry},
        ClaimCase{"BadIssuer", claims_with({{"iss", "iss-2"}}), Refusal::BadIssuer},
        ClaimCase{"BadAudienceString", claims_with({{"aud", "aud-2"}}), Refusal::BadAudience},
        ClaimCase{"BadAudienceArray", claims_with({{"aud", Json::array({"aud-2", "aud-3"})}}), Refusal::BadAudience},
        ClaimCase{"MissingTenant", claims_with({}, {"tenant_id"}), Refusal::MissingTenant},
        ClaimCase{"InvalidTenantNumber", claims_with({{"tenant_id", 12345}}), Refusal::InvalidTenant},
        ClaimCase{"InvalidTenantString", claims_with({{"tenant_id", "tenant-a"}}), Refusal::InvalidTenant},
        ClaimCase{"PayloadArray", "[" + claims_with({}) + "]", Refusal::InvalidClaims},
        ClaimCase{"PayloadNotJson", "tenant_id=1", Refusal::InvalidClaims},
        ClaimCase{"ExpAsString", claims_with({{"exp", "1700003600"}}), Refusal::InvalidClaims},
        ClaimCase{"SubAsNumber", claims_with({{"sub", 7}}), Refusal::InvalidClaims}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ClaimsThroughVerifyTokenOk, AcceptedWithIssuerAndArrayAudience) {
    KeySet keys = one_key_set();
    ClaimPolicy policy;
    policy.issuer = "iss-1";
    policy.audience = "aud-1";
    Json claims = good_claims();
    claims["iss"] = "iss-1";
    claims["aud"] = Json::array({"other", "aud-1"});
    VerifiedToken result = verify_token(sign_token(claims.dump(), keys, nullptr), keys, policy, kNow);
    EXPECT_EQ(result.tenant.to_string(), kTenant);
}

TEST(ClaimsThroughVerifyTokenOk, LeewayEdgesThroughVerifyToken) {
    KeySet keys = one_key_set();
    ClaimPolicy policy;
    policy.clock_skew_seconds = 30;
    const std::int64_t exp = kNow;
    Json claims = good_claims();
    claims["exp"] = exp;
    std::string token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_NO_THROW(verify_token(token, keys, policy, exp + 29));
    EXPECT_TRUE(RefusedWith(Refusal::Expired, [&] { verify_token(token, keys, policy, exp + 30); }));

    claims = good_claims();
    claims["nbf"] = kNow + 30;
    token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_NO_THROW(verify_token(token, keys, policy, kNow));
    claims["nbf"] = kNow + 31;
    token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_TRUE(RefusedWith(Refusal::NotYetValid, [&] { verify_token(token, keys, policy, kNow); }));

    claims = good_claims();
    claims["iat"] = kNow + 30;
    token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_NO_THROW(verify_token(token, keys, policy, kNow));
    claims["iat"] = kNow + 31;
    token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_TRUE(RefusedWith(Refusal::IssuedInFuture, [&] { verify_token(token, keys, policy, kNow); }));
}

TEST(ClaimsThroughVerifyTokenOk, MissingExpiryAcceptedWhenNotRequired) {
    KeySet keys = one_key_set();
    ClaimPolicy policy;
    Json claims = good_claims();
    claims.erase("exp");
    std::string token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_TRUE(RefusedWith(Refusal::MissingExpiry, [&] { verify_token(token, keys, policy, kNow); }));
    policy.require_exp = false;
    EXPECT_EQ(verify_token(token, keys, policy, kNow).tenant.to_string(), kTenant);
}

TEST(ClaimsThroughVerifyTokenOk, ConfigurableTenantClaimName) {
    KeySet keys = one_key_set();
    ClaimPolicy policy;
    policy.tenant_claim = "org";
    Json claims = good_claims();
    claims.erase("tenant_id");
    claims["org"] = "00000000-0000-0000-0000-0000000000ff";
    std::string token = sign_token(claims.dump(), keys, nullptr);
    EXPECT_EQ(verify_token(token, keys, policy, kNow).tenant.to_string(), "00000000-0000-0000-0000-0000000000ff");
    policy.tenant_claim = "tenant_id";
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_token(token, keys, policy, kNow); }));
}

}  // namespace

namespace tenant_guard::core {
namespace {

// A platform access token names no tenant; a tenant token cannot serve as one.
TEST(PlatformTokens, NeedNoTenantAndMayNotNameOne) {
    ClaimPolicy platform;
    platform.platform = true;
    const std::int64_t now = 1700000000;
    const auto accepted = validate_claims(R"({"sub":"ops","roles":["platform_admin"],"exp":1700000600})", platform, now);
    EXPECT_TRUE(accepted.allowed_tenants.empty());
    EXPECT_FALSE(accepted.has_default_tenant);
    try {
        validate_claims(R"({"sub":"t","tenant_id":"7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","exp":1700000600})", platform, now);
        FAIL() << "a tenant token was accepted for platform access";
    } catch (const TokenRefused& refused) {
        EXPECT_EQ(refused.reason(), Refusal::TenantInPlatformToken);
    }
    try {
        validate_claims(R"({"sub":"ops","exp":1700000600})", ClaimPolicy{}, now);
        FAIL() << "a tenant token without tenant was accepted";
    } catch (const TokenRefused& refused) {
        EXPECT_EQ(refused.reason(), Refusal::MissingTenant);
    }
}

}  // namespace
}  // namespace tenant_guard::core
