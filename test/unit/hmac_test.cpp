#include "test_support.hpp"

namespace {

using namespace tg_test;

// RFC 7515 Appendix A.1: the HS256 JWS example (also RFC 7519 section 3.1).
constexpr const char* kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr const char* kA1Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::int64_t kA1Exp = 1300819380;

struct A1 {
    std::string secret, signing_input, signature;
};

A1 rfc7515_a1() {
    std::string token = kA1Token;
    size_t last_dot = token.rfind('.');
    auto secret = base64url_decode(kA1Key);
    auto signature = base64url_decode(token.substr(last_dot + 1));
    EXPECT_TRUE(secret && signature);
    return {secret.value_or(""), token.substr(0, last_dot), signature.value_or("")};
}

std::string hex_decode(std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

TEST(Hmac, Rfc7515A1KeyAndSignatureDecode) {
    A1 a1 = rfc7515_a1();
    EXPECT_EQ(a1.secret.size(), 64u);
    EXPECT_EQ(a1.signature.size(), 32u);
    // The header and payload are the RFC's exact bytes, CRLFs included.
    EXPECT_EQ(base64url_decode("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"), std::string("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"));
}

TEST(Hmac, Rfc7515A1SignatureVerifies) {
    A1 a1 = rfc7515_a1();
    HmacKey key("", Algorithm::HS256, a1.secret);
    EXPECT_TRUE(key.verify(a1.signing_input, a1.signature));
    EXPECT_EQ(key.sign(a1.signing_input), a1.signature);
}

TEST(Hmac, Rfc7515A1FlippedSignatureBitFails) {
    A1 a1 = rfc7515_a1();
    HmacKey key("", Algorithm::HS256, a1.secret);
    for (size_t byte = 0; byte < a1.signature.size(); ++byte) {
        for (int bit : {0, 7}) {
            std::string flipped = a1.signature;
            flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
            EXPECT_FALSE(key.verify(a1.signing_input, flipped)) << "byte " << byte << " bit " << bit;
        }
    }
}

TEST(Hmac, Rfc7515A1FlippedInputBitFails) {
    A1 a1 = rfc7515_a1();
    HmacKey key("", Algorithm::HS256, a1.secret);
    std::string input = a1.signing_input;
    input[10] = static_cast<char>(input[10] ^ 1);
    EXPECT_FALSE(key.verify(input, a1.signature));
    EXPECT_FALSE(key.verify(a1.signing_input + ".", a1.signature));
    EXPECT_FALSE(key.verify(a1.signing_input.substr(1), a1.signature));
}

TEST(Hmac, Rfc7515A1WrongKeyFails) {
    A1 a1 = rfc7515_a1();
    std::string other = a1.secret;
    other[0] = static_cast<char>(other[0] ^ 0x80);
    HmacKey key("", Algorithm::HS256, other);
    EXPECT_FALSE(key.verify(a1.signing_input, a1.signature));
}

TEST(Hmac, SignatureOfWrongLengthFails) {
    A1 a1 = rfc7515_a1();
    HmacKey key("", Algorithm::HS256, a1.secret);
    EXPECT_FALSE(key.verify(a1.signing_input, ""));
    EXPECT_FALSE(key.verify(a1.signing_input, a1.signature.substr(0, 31)));
    EXPECT_FALSE(key.verify(a1.signing_input, a1.signature.substr(0, 16)));
    EXPECT_FALSE(key.verify(a1.signing_input, a1.signature + std::string(1, '\0')));
    EXPECT_FALSE(key.verify(a1.signing_input, a1.signature + a1.signature));
    // Prefixes of the correct MAC, as views into a buffer that still holds the rest of it: only the
    // length check can refuse these (comparing digest_size bytes from the pointer would "match").
    for (size_t n : {0u, 1u, 16u, 31u}) {
        std::string_view prefix(a1.signature.data(), n);
        EXPECT_FALSE(key.verify(a1.signing_input, prefix)) << n;
    }
}

TEST(Hmac, Rfc7515A1VerifyTokenReachesClaims) {
    // The example has no tenant claim: with a valid signature and an unexpired token, the only
    // possible refusal is MissingTenant, which proves the signature verified and claims were read.
    KeySet keys = KeySet::from_jwks(std::string(R"({"keys":[{"kty":"oct","alg":"HS256","k":")") + kA1Key + "\"}]}");
    ClaimPolicy policy;
    policy.tenant_claim = "tenant_id";
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_token(kA1Token, keys, policy, kA1Exp - 3600); }));
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_token(kA1Token, keys, policy, kA1Exp - 1); }));
    // After exp (plus leeway) the same token is refused as expired.
    EXPECT_TRUE(RefusedWith(Refusal::Expired, [&] { verify_token(kA1Token, keys, policy, kA1Exp + 3600); }));
    // With a tenant claim named like one of its members that is not a UUID.
    policy.tenant_claim = "iss";
    EXPECT_TRUE(RefusedWith(Refusal::InvalidTenant, [&] { verify_token(kA1Token, keys, policy, kA1Exp - 1); }));
    policy.tenant_claim = "tenant_id";
    policy.issuer = "joe";
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_token(kA1Token, keys, policy, kA1Exp - 1); }));
    policy.issuer = "jane";
    EXPECT_TRUE(RefusedWith(Refusal::BadIssuer, [&] { verify_token(kA1Token, keys, policy, kA1Exp - 1); }));
}

TEST(Hmac, Rfc7515A1WithAlteredSignatureTailIsBadSignature) {
    // A circulating mis-copy of the example whose last 8 signature bytes differ.
    KeySet keys = KeySet::from_jwks(std::string(R"({"keys":[{"kty":"oct","alg":"HS256","k":")") + kA1Key + "\"}]}");
    std::string token = kA1Token;
    std::string miscopied = token.substr(0, token.rfind('.') + 1) + "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gSlGVrt1c";
    ASSERT_NE(miscopied, token);
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_token(miscopied, keys, ClaimPolicy{}, kA1Exp - 1); }));
}

TEST(Hmac, Rfc7515A1TamperedTokenIsBadSignature) {
    KeySet keys = KeySet::from_jwks(std::string(R"({"keys":[{"kty":"oct","alg":"HS256","k":")") + kA1Key + "\"}]}");
    std::string token = kA1Token;
    size_t last_dot = token.rfind('.');
    std::string flipped = token;
    flipped[last_dot + 1] = flipped[last_dot + 1] == 'd' ? 'e' : 'd';
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_token(flipped, keys, ClaimPolicy{}, kA1Exp - 1); }));
}

// RFC 4231 test case 6 (key longer than the block size), for all three HMAC hashes.
TEST(Hmac, Rfc4231TestCase6) {
    std::string secret(131, '\xaa');
    std::string data = "Test Using Larger Than Block-Size Key - Hash Key First";
    struct {
        Algorithm alg;
        const char* hex;
    } cases[] = {
        {Algorithm::HS256, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {Algorithm::HS384,
         "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
        {Algorithm::HS512,
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    };
    for (const auto& c : cases) {
        HmacKey key("k", c.alg, secret);
        EXPECT_EQ(key.sign(data), hex_decode(c.hex)) << algorithm_name(c.alg);
        EXPECT_TRUE(key.verify(data, hex_decode(c.hex)));
    }
}

TEST(Hmac, DigestSizes) {
    EXPECT_EQ(HmacKey::digest_size(Algorithm::HS256), 32u);
    EXPECT_EQ(HmacKey::digest_size(Algorithm::HS384), 48u);
    EXPECT_EQ(HmacKey::digest_size(Algorithm::HS512), 64u);
    EXPECT_EQ(HmacKey::digest_size(Algorithm::RS256), 0u);
}

class HmacRoundTrip : public ::testing::TestWithParam<Algorithm> {};

TEST_P(HmacRoundTrip, SignsAndVerifies) {
    Algorithm alg = GetParam();
    size_t n = HmacKey::digest_size(alg);
    HmacKey key("k", alg, secret_bytes(n, 3));
    EXPECT_TRUE(key.can_sign());
    EXPECT_EQ(key.algorithm(), alg);
    EXPECT_EQ(key.kid(), "k");
    std::string mac = key.sign("header.payload");
    EXPECT_EQ(mac.size(), n);
    EXPECT_TRUE(key.verify("header.payload", mac));
    EXPECT_EQ(key.sign("header.payload"), mac);  // deterministic
    EXPECT_NE(key.sign("header.payloaD"), mac);
    EXPECT_FALSE(key.verify("header.payloaD", mac));
    std::string flipped = mac;
    flipped.back() = static_cast<char>(flipped.back() ^ 0x01);
    EXPECT_FALSE(key.verify("header.payload", flipped));
    // A different secret of the same length.
    HmacKey other("k", alg, secret_bytes(n, 4));
    EXPECT_FALSE(other.verify("header.payload", mac));
    // Empty input can be signed too.
    EXPECT_TRUE(key.verify("", key.sign("")));
}

TEST_P(HmacRoundTrip, KeyShorterThanHashIsRefused) {
    Algorithm alg = GetParam();
    size_t n = HmacKey::digest_size(alg);
    EXPECT_THROW(HmacKey("k", alg, secret_bytes(n - 1)), KeySetError);
    EXPECT_THROW(HmacKey("k", alg, ""), KeySetError);
    EXPECT_THROW(HmacKey("k", alg, "short"), KeySetError);
    EXPECT_NO_THROW(HmacKey("k", alg, secret_bytes(n)));
    EXPECT_NO_THROW(HmacKey("k", alg, secret_bytes(n + 100)));
}

INSTANTIATE_TEST_SUITE_P(AllHmac, HmacRoundTrip, ::testing::Values(Algorithm::HS256, Algorithm::HS384, Algorithm::HS512),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

TEST(Hmac, SameSecretDifferentHashesDoNotCrossVerify) {
    std::string secret = secret_bytes(64);
    HmacKey hs256("k", Algorithm::HS256, secret), hs384("k", Algorithm::HS384, secret),
        hs512("k", Algorithm::HS512, secret);
    EXPECT_FALSE(hs256.verify("x", hs384.sign("x")));
    EXPECT_FALSE(hs256.verify("x", hs512.sign("x")));
    EXPECT_FALSE(hs384.verify("x", hs512.sign("x")));
    EXPECT_FALSE(hs512.verify("x", hs256.sign("x")));
    // Not even a prefix of a longer MAC.
    EXPECT_FALSE(hs256.verify("x", hs512.sign("x").substr(0, 32)));
}

TEST(Hmac, NonHmacAlgorithmIsRefused) {
    for (Algorithm alg : {Algorithm::RS256, Algorithm::ES256, Algorithm::PS512, Algorithm::EdDSA})
        EXPECT_THROW(HmacKey("k", alg, secret_bytes(64)), KeySetError) << algorithm_name(alg);
}

TEST(Hmac, ShortKeyErrorDoesNotLeakTheSecret) {
    std::string secret = "SUPERSECRETVALUE";
    try {
        HmacKey key("k", Algorithm::HS256, secret);
        FAIL() << "short key accepted";
    } catch (const KeySetError& e) {
        EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos);
    }
}

TEST(Algorithm, NamesRoundTripAndAreCaseSensitive) {
    for (Algorithm alg : {Algorithm::HS256, Algorithm::HS384, Algorithm::HS512, Algorithm::RS256, Algorithm::RS384,
                          Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512, Algorithm::ES256,
                          Algorithm::ES384, Algorithm::ES512, Algorithm::EdDSA})
        EXPECT_EQ(algorithm_from_name(algorithm_name(alg)), alg) << algorithm_name(alg);
    EXPECT_FALSE(algorithm_from_name("hs256"));
    EXPECT_FALSE(algorithm_from_name("none"));
    EXPECT_FALSE(algorithm_from_name(""));
    EXPECT_FALSE(algorithm_from_name("HS256 "));
    EXPECT_FALSE(algorithm_from_name(std::string("HS256\0", 6)));
    EXPECT_TRUE(is_hmac(Algorithm::HS256));
    EXPECT_TRUE(is_hmac(Algorithm::HS512));
    EXPECT_FALSE(is_hmac(Algorithm::RS256));
    EXPECT_FALSE(is_hmac(Algorithm::EdDSA));
}

}  // namespace
