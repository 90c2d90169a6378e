#include "test_support.hpp"

#include <algorithm>

namespace {

using namespace tg_test;

class PublicOnlyKey final : public VerificationKey {
public:
    explicit PublicOnlyKey(std::string kid) : VerificationKey(std::move(kid), Algorithm::ES256) {}
    bool verify(std::string_view, std::string_view) const override { return false; }
};

struct Parts {
    Json header, payload;
    std::string signature;
};

Parts decode(const std::string& token) {
    size_t first = token.find('.'), last = token.rfind('.');
    EXPECT_NE(first, last);
    auto h = base64url_decode(token.substr(0, first));
    auto p = base64url_decode(token.substr(first + 1, last - first - 1));
    auto s = base64url_decode(token.substr(last + 1));
    EXPECT_TRUE(h && p && s) << token;
    return {Json::parse(h.value_or("null")), Json::parse(p.value_or("null")), s.value_or("")};
}

TEST(SignToken, HeaderHasAlgTypAndKid) {
    KeySet keys = one_key_set("key-7", Algorithm::HS384);
    Parts parts = decode(sign_token(good_claims().dump(), keys, nullptr));
    EXPECT_EQ(parts.header, (Json{{"alg", "HS384"}, {"typ", "JWT"}, {"kid", "key-7"}}));
    EXPECT_EQ(parts.payload, good_claims());
    EXPECT_EQ(parts.signature.size(), 48u);
}

TEST(SignToken, NoKidInHeaderWhenTheKeyHasNone) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("", "HS256", secret_bytes(32))}));
    Parts parts = decode(sign_token(good_claims().dump(), keys, nullptr));
    EXPECT_EQ(parts.header, (Json{{"alg", "HS256"}, {"typ", "JWT"}}));
    EXPECT_FALSE(parts.header.contains("kid"));
}

TEST(SignToken, SignatureIsTheKeysMacOverTheSigningInput) {
    KeySet keys = one_key_set();
    std::string token = sign_token(good_claims().dump(), keys, nullptr);
    std::string input = token.substr(0, token.rfind('.'));
    HmacKey reference("k1", Algorithm::HS256, secret_bytes(32, 1));
    EXPECT_EQ(decode(token).signature, reference.sign(input));
}

TEST(SignToken, PayloadIsCompactAndDeterministic) {
    KeySet keys = one_key_set();
    std::string spaced = "{ \"tenant_id\" : \"" + std::string(kTenant) + "\" ,\n \"exp\" : 1700003600 }";
    std::string token = sign_token(spaced, keys, nullptr);
    size_t first = token.find('.'), last = token.rfind('.');
    EXPECT_EQ(base64url_decode(token.substr(first + 1, last - first - 1)),
              std::string("{\"exp\":1700003600,\"tenant_id\":\"") + kTenant + "\"}");
    EXPECT_EQ(sign_token(spaced, keys, nullptr), token);
    EXPECT_EQ(token.find('='), std::string::npos);
    EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
}

TEST(SignToken, ClaimsNotAnObjectIsInvalidArgument) {
    KeySet keys = one_key_set();
    for (const char* claims : {"[]", "[{}]", "\"x\"", "1", "null", "", "not json", "{\"a\":1,\"a\":2}", "{} {}", "{\"a\":\"\xff\"}"})
        EXPECT_THROW(sign_token(claims, keys, nullptr), InvalidArgument) << claims;
    EXPECT_NO_THROW(sign_token("{}", keys, nullptr));
}

TEST(SignToken, SeveralKeysWithoutKidIsInvalidArgument) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("a", "HS256", secret_bytes(32, 1)),
                                             oct_jwk("b", "HS512", secret_bytes(64, 2))}));
    EXPECT_THROW(sign_token(good_claims().dump(), keys, nullptr), InvalidArgument);
    std::string b = "b", c = "c";
    Parts parts = decode(sign_token(good_claims().dump(), keys, &b));
    EXPECT_EQ(parts.header["kid"], "b");
    EXPECT_EQ(parts.header["alg"], "HS512");
    EXPECT_EQ(parts.signature.size(), 64u);
    EXPECT_THROW(sign_token(good_claims().dump(), keys, &c), InvalidArgument);
}

TEST(SignToken, EmptyKeySetIsInvalidArgument) {
    KeySet keys;
    EXPECT_THROW(sign_token(good_claims().dump(), keys, nullptr), InvalidArgument);
    std::string kid = "k1";
    EXPECT_THROW(sign_token(good_claims().dump(), keys, &kid), InvalidArgument);
}

TEST(SignToken, KeyThatCannotSignIsInvalidArgument) {
    KeySet keys;
    keys.add(std::make_shared<PublicOnlyKey>("pub"));
    EXPECT_FALSE(keys.find(nullptr)->can_sign());
    EXPECT_THROW(keys.find(nullptr)->sign("x"), InvalidArgument);
    EXPECT_THROW(sign_token(good_claims().dump(), keys, nullptr), InvalidArgument);
}

TEST(SignToken, SignedTokensVerifyEvenWithoutTenant) {
    // sign_token does not check claims beyond their shape; verify_token does.
    KeySet keys = one_key_set();
    std::string token = sign_token(R"({"exp":1700003600})", keys, nullptr);
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_token(token, keys, ClaimPolicy{}, kNow); }));
}

}  // namespace
