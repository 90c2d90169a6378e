// tenant_guard.require_jti: a token id is accepted once while its token is valid.
#include "replay_guard.hpp"
#include "test_support.hpp"

namespace {

using namespace tg_test;

TEST(ReplayGuard, SecondUseIsRefused) {
    ReplayGuard guard;
    guard.admit(std::string("a"), kNow + 60, kNow);
    EXPECT_TRUE(RefusedWith(Refusal::Replayed, [&] { guard.admit(std::string("a"), kNow + 60, kNow + 1); }));
    guard.admit(std::string("b"), kNow + 60, kNow);
}

TEST(ReplayGuard, MissingIdIsRefused) {
    ReplayGuard guard;
    EXPECT_TRUE(RefusedWith(Refusal::MissingTokenId, [&] { guard.admit(std::nullopt, kNow + 60, kNow); }));
    EXPECT_TRUE(RefusedWith(Refusal::MissingTokenId, [&] { guard.admit(std::string(), kNow + 60, kNow); }));
}

TEST(ReplayGuard, ExpiredIdsAreForgotten) {
    ReplayGuard guard;
    guard.admit(std::string("a"), kNow + 60, kNow);
    guard.admit(std::string("b"), kNow + 600, kNow);
    guard.admit(std::string("c"), kNow + 600, kNow + 61);  // forgets "a"
    EXPECT_EQ(guard.size(), 2u);
}

TEST(ReplayGuard, FullGuardForgetsWhatExpiresFirst) {
    ReplayGuard guard(2);
    guard.admit(std::string("soon"), kNow + 10, kNow);
    guard.admit(std::string("late"), kNow + 1000, kNow);
    guard.admit(std::string("new"), kNow + 500, kNow);
    EXPECT_EQ(guard.size(), 2u);
    EXPECT_TRUE(RefusedWith(Refusal::Replayed, [&] { guard.admit(std::string("late"), kNow + 1000, kNow); }));
    guard.admit(std::string("soon"), kNow + 10, kNow);  // forgotten to make room
}

TEST(ReplayGuard, ClaimsCarryTheTokenId) {
    auto token = validate_claims(R"({"tenant_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","exp":1700003600,"jti":"x-1"})",
                                 ClaimPolicy{}, kNow);
    ASSERT_TRUE(token.token_id.has_value());
    EXPECT_EQ(*token.token_id, "x-1");
    EXPECT_TRUE(RefusedWith(Refusal::InvalidClaims, [&] {
        validate_claims(R"({"tenant_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","exp":1700003600,"jti":5})",
                        ClaimPolicy{}, kNow);
    }));
}

}  // namespace
