// Tokens that may act for several tenants: the tenants claim, the default tenant, choose_tenant().
#include "test_support.hpp"

namespace {

using namespace tg_test;

constexpr const char* kOther = "aaaaaaaa-0000-4000-8000-000000000001";
constexpr const char* kThird = "bbbbbbbb-0000-4000-8000-000000000002";

TenantId id(const char* text) { return *parse_tenant_id(text); }

VerifiedToken claims_with(const Json& extra) {
    Json claims = {{"exp", kNow + 3600}};
    for (auto it = extra.begin(); it != extra.end(); ++it) claims[it.key()] = it.value();
    return validate_claims(claims.dump(), ClaimPolicy{}, kNow);
}

TEST(TenantsClaim, ListAloneWithOneTenantIsTheDefault) {
    auto token = claims_with({{"tenants", {kOther}}});
    EXPECT_TRUE(token.has_default_tenant);
    EXPECT_EQ(choose_tenant(token, std::nullopt).to_string(), kOther);
}

TEST(TenantsClaim, ListOfSeveralNeedsAChoice) {
    auto token = claims_with({{"tenants", {kOther, kThird}}});
    EXPECT_FALSE(token.has_default_tenant);
    EXPECT_TRUE(RefusedWith(Refusal::TenantNotChosen, [&] { choose_tenant(token, std::nullopt); }));
    EXPECT_EQ(choose_tenant(token, id(kThird)).to_string(), kThird);
}

TEST(TenantsClaim, TenantClaimIsTheDefaultAndAllowed) {
    auto token = claims_with({{"tenant_id", kTenant}, {"tenants", {kOther, kTenant}}});
    EXPECT_EQ(choose_tenant(token, std::nullopt).to_string(), kTenant);
    EXPECT_EQ(choose_tenant(token, id(kOther)).to_string(), kOther);
    EXPECT_EQ(token.allowed_tenants.size(), 2u) << "no repeats";
}

TEST(TenantsClaim, ATenantOutsideTheTokenIsRefused) {
    auto token = claims_with({{"tenant_id", kTenant}});
    EXPECT_TRUE(RefusedWith(Refusal::TenantNotAllowed, [&] { choose_tenant(token, id(kOther)); }));
    auto listed = claims_with({{"tenants", {kOther, kThird}}});
    EXPECT_TRUE(RefusedWith(Refusal::TenantNotAllowed, [&] { choose_tenant(listed, id(kTenant)); }));
}

TEST(TenantsClaim, MalformedListsAreRefused) {
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { claims_with({{"tenants", kOther}}); }));
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { claims_with({{"tenants", Json::array()}}); }));
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { claims_with({{"tenants", {kOther, 7}}}); }));
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { claims_with({{"tenants", {"not-a-uuid"}}}); }));
    Json many = Json::array();
    for (size_t i = 0; i <= kMaxTenantsPerToken; ++i) many.push_back(kOther);
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { claims_with({{"tenants", many}}); }));
}

TEST(TenantsClaim, NeitherClaimIsMissingTenant) {
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { claims_with({{"sub", "x"}}); }));
}

}  // namespace
