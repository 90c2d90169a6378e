// The verification cache: hits skip verification but never the time checks; a change of key set
// or claim policy empties it; refused tokens are never remembered.
#include "test_support.hpp"
#include "token_cache.hpp"

namespace {

using namespace tg_test;

struct TokenCacheTest : ::testing::Test {
    std::shared_ptr<const KeySet> keys = std::make_shared<const KeySet>(one_key_set());
    ClaimPolicy policy;
    TokenCache cache{4};

    std::string token_with(const Json& claims) const {
        return raw_token(R"({"alg":"HS256","kid":"k1"})", claims.dump(), *keys->find(nullptr));
    }
    std::string token_expiring_at(std::int64_t exp) const {
        return token_with({{"tenant_id", kTenant}, {"exp", exp}});
    }
};

TEST_F(TokenCacheTest, SecondPresentationIsAHit) {
    const std::string token = token_expiring_at(kNow + 3600);
    EXPECT_EQ(cache.verify(token, keys, policy, kNow).tenant.to_string(), kTenant);
    EXPECT_EQ(cache.verify(token, keys, policy, kNow).tenant.to_string(), kTenant);
    const auto stats = cache.stats();
    EXPECT_EQ(stats.hits, 1u);
    EXPECT_EQ(stats.misses, 1u);
    EXPECT_EQ(stats.entries, 1u);
}

TEST_F(TokenCacheTest, AHitStillChecksExpiry) {
    const std::string token = token_expiring_at(kNow + 60);
    cache.verify(token, keys, policy, kNow);
    EXPECT_TRUE(RefusedWith(Refusal::Expired, [&] { cache.verify(token, keys, policy, kNow + 60 + 30); }));
    EXPECT_EQ(cache.stats().entries, 0u) << "an expired token is dropped from the cache";
}

TEST_F(TokenCacheTest, AHitStillChecksNotBefore) {
    const std::string token = token_with({{"tenant_id", kTenant}, {"exp", kNow + 3600}, {"nbf", kNow}});
    cache.verify(token, keys, policy, kNow);
    EXPECT_TRUE(RefusedWith(Refusal::NotYetValid, [&] { cache.verify(token, keys, policy, kNow - 100); }));
}

TEST_F(TokenCacheTest, RefusedTokensAreNotCached) {
    std::string token = token_expiring_at(kNow + 3600);
    token.back() = token.back() == 'A' ? 'B' : 'A';
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { cache.verify(token, keys, policy, kNow); }));
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { cache.verify(token, keys, policy, kNow); }));
    EXPECT_EQ(cache.stats().entries, 0u);
    EXPECT_EQ(cache.stats().hits, 0u);
}

TEST_F(TokenCacheTest, ANewKeySetEmptiesTheCache) {
    const std::string token = token_expiring_at(kNow + 3600);
    cache.verify(token, keys, policy, kNow);
    // A rotated key set without the signing key: the cached token must not be accepted.
    auto rotated = std::make_shared<const KeySet>(one_key_set("k1", Algorithm::HS256, 2));
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { cache.verify(token, rotated, policy, kNow); }));
    EXPECT_EQ(cache.stats().hits, 0u);
}

TEST_F(TokenCacheTest, AChangedPolicyEmptiesTheCache) {
    const std::string token = token_expiring_at(kNow + 3600);
    cache.verify(token, keys, policy, kNow);
    ClaimPolicy stricter = policy;
    stricter.issuer = "https://idp.example";
    EXPECT_TRUE(RefusedWith(Refusal::BadIssuer, [&] { cache.verify(token, keys, stricter, kNow); }));
}

TEST_F(TokenCacheTest, LeastRecentlyUsedIsEvicted) {
    std::vector<std::string> tokens;
    for (int i = 0; i < 5; ++i) tokens.push_back(token_expiring_at(kNow + 3600 + i));
    for (int i = 0; i < 4; ++i) cache.verify(tokens[i], keys, policy, kNow);
    cache.verify(tokens[0], keys, policy, kNow);  // 0 is now the most recent; 1 the least
    cache.verify(tokens[4], keys, policy, kNow);  // evicts 1
    EXPECT_EQ(cache.stats().entries, 4u);
    const auto before = cache.stats();
    cache.verify(tokens[0], keys, policy, kNow);
    EXPECT_EQ(cache.stats().hits, before.hits + 1);
    cache.verify(tokens[1], keys, policy, kNow);
    EXPECT_EQ(cache.stats().misses, before.misses + 1);
}

TEST_F(TokenCacheTest, CapacityZeroCachesNothing) {
    cache.set_capacity(0);
    const std::string token = token_expiring_at(kNow + 3600);
    cache.verify(token, keys, policy, kNow);
    cache.verify(token, keys, policy, kNow);
    EXPECT_EQ(cache.stats().hits, 0u);
    EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(TokenCacheTest, NoKeySetIsRefused) {
    EXPECT_TRUE(RefusedWith(Refusal::NoKeys, [&] { cache.verify(token_expiring_at(kNow + 60), nullptr, policy, kNow); }));
}

}  // namespace
