#include "test_support.hpp"

namespace {

using namespace tg_test;

std::string k_of(size_t n, unsigned seed = 1) { return base64url_encode(secret_bytes(n, seed)); }

// Expects from_jwks to throw KeySetError, and that the message does not contain `secret_text`.
::testing::AssertionResult JwksRefused(const std::string& doc, const std::string& secret_text = {}) {
    try {
        KeySet::from_jwks(doc);
        return ::testing::AssertionFailure() << "accepted: " << doc.substr(0, 200);
    } catch (const KeySetError& e) {
        if (!secret_text.empty() && std::string(e.what()).find(secret_text) != std::string::npos)
            return ::testing::AssertionFailure() << "message leaks key material: " << e.what();
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw something other than KeySetError: " << e.what();
    }
}

TEST(KeySet, SingleKeyWithoutKid) {
    std::string secret = secret_bytes(32);
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("", "HS256", secret)}));
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_FALSE(keys.empty());
    const VerificationKey* key = keys.find(nullptr);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(key->kid(), "");
    EXPECT_EQ(key->algorithm(), Algorithm::HS256);
    // It is the key from the document: it verifies a MAC made with that secret.
    HmacKey reference("", Algorithm::HS256, secret);
    EXPECT_TRUE(key->verify("data", reference.sign("data")));
    std::string some_kid = "x";
    EXPECT_EQ(keys.find(&some_kid), nullptr);
}

TEST(KeySet, SingleKeyWithKidIsFoundWithAndWithoutKid) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("only", "HS384", secret_bytes(48))}));
    ASSERT_EQ(keys.size(), 1u);
    std::string kid = "only", other = "other", empty = "";
    ASSERT_NE(keys.find(&kid), nullptr);
    EXPECT_EQ(keys.find(&kid)->algorithm(), Algorithm::HS384);
    EXPECT_EQ(keys.find(nullptr), keys.find(&kid));
    EXPECT_EQ(keys.find(&other), nullptr);
    EXPECT_EQ(keys.find(&empty), nullptr);
}

TEST(KeySet, SeveralKeysNeedKidToBeFound) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("a", "HS256", secret_bytes(32, 1)),
                                             oct_jwk("b", "HS384", secret_bytes(48, 2)),
                                             oct_jwk("c", "HS512", secret_bytes(64, 3))}));
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys.find(nullptr), nullptr);
    std::string a = "a", b = "b", c = "c", d = "d", upper_a = "A";
    ASSERT_NE(keys.find(&a), nullptr);
    ASSERT_NE(keys.find(&b), nullptr);
    ASSERT_NE(keys.find(&c), nullptr);
    EXPECT_EQ(keys.find(&a)->kid(), "a");
    EXPECT_EQ(keys.find(&a)->algorithm(), Algorithm::HS256);
    EXPECT_EQ(keys.find(&b)->algorithm(), Algorithm::HS384);
    EXPECT_EQ(keys.find(&c)->algorithm(), Algorithm::HS512);
    EXPECT_EQ(keys.find(&d), nullptr);
    EXPECT_EQ(keys.find(&upper_a), nullptr);  // kids are case-sensitive
    // Each kid maps to its own secret.
    HmacKey b_ref("b", Algorithm::HS384, secret_bytes(48, 2));
    EXPECT_TRUE(keys.find(&b)->verify("m", b_ref.sign("m")));
    EXPECT_EQ(keys.keys().size(), 3u);
}

TEST(KeySet, EmptyKeysArrayGivesAnEmptySet) {
    KeySet keys = KeySet::from_jwks(R"({"keys":[]})");
    EXPECT_TRUE(keys.empty());
    EXPECT_EQ(keys.size(), 0u);
    EXPECT_EQ(keys.find(nullptr), nullptr);
    KeySet default_constructed;
    EXPECT_TRUE(default_constructed.empty());
}

TEST(KeySet, UseSigAndExtraMembersAreAccepted) {
    std::string doc = std::string(R"({"keys":[{"kty":"oct","use":"sig","alg":"HS256","kid":"k","key_ops":["verify"],"k":")") +
                      k_of(32) + R"("}],"extra":true})";
    KeySet keys = KeySet::from_jwks(doc);
    EXPECT_EQ(keys.size(), 1u);
}

TEST(KeySet, KidRequiredWhenSeveralKeys) {
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("a", "HS256", secret_bytes(32)), oct_jwk("", "HS256", secret_bytes(32, 2))})));
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("", "HS256", secret_bytes(32)), oct_jwk("b", "HS256", secret_bytes(32, 2))})));
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("", "HS256", secret_bytes(32)), oct_jwk("", "HS256", secret_bytes(32, 2))})));
}

TEST(KeySet, DuplicateKidRefused) {
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("same", "HS256", secret_bytes(32)), oct_jwk("same", "HS512", secret_bytes(64))})));
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("a", "HS256", secret_bytes(32)), oct_jwk("b", "HS256", secret_bytes(32)),
                                     oct_jwk("a", "HS256", secret_bytes(32))})));
}

TEST(KeySet, AddRefusesDuplicateKid) {
    KeySet keys;
    keys.add(std::make_shared<HmacKey>("a", Algorithm::HS256, secret_bytes(32)));
    keys.add(std::make_shared<HmacKey>("b", Algorithm::HS256, secret_bytes(32)));
    EXPECT_THROW(keys.add(std::make_shared<HmacKey>("a", Algorithm::HS512, secret_bytes(64))), KeySetError);
    EXPECT_EQ(keys.size(), 2u);
}

TEST(KeySet, MissingOrBadAlgRefused) {
    std::string k = k_of(32);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS999","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"none","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"hs256","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":256,"k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":null,"k":")" + k + R"("}]})", k));
}

TEST(KeySet, OctKeyWithNonHmacAlgRefused) {
    std::string k = k_of(64);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"RS256","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"ES256","k":")" + k + R"("}]})", k));
}

TEST(KeySet, AsymmetricKeyTypesLoadAndAreChecked) {
    // A well-formed RSA public JWK (RFC 7517 Appendix A.1, 2048 bits). Public keys cannot sign.
    std::string rsa = R"({"keys":[{"kty":"RSA","alg":"RS256","kid":"r","use":"sig","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}]})";
    KeySet keys = KeySet::from_jwks(rsa);
    ASSERT_EQ(keys.size(), 1u);
    const VerificationKey* key = keys.find(nullptr);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(key->algorithm(), Algorithm::RS256);
    EXPECT_FALSE(key->can_sign());
    EXPECT_THROW(key->sign("x"), InvalidArgument);
    // Malformed public members are refused (coordinates of one byte; an RSA key holding a secret).
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"EC","alg":"ES256","crv":"P-256","x":"AA","y":"AA"}]})"));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"OKP","alg":"EdDSA","crv":"Ed25519","x":"AA"}]})"));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"RSA","alg":"HS256","k":")" + k_of(32) + R"("}]})"));
}

TEST(KeySet, MissingOrUnknownKtyRefused) {
    std::string k = k_of(32);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"alg":"HS256","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"OCT","alg":"HS256","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":1,"alg":"HS256","k":")" + k + R"("}]})", k));
}

TEST(KeySet, EncryptionKeysSkippedOtherUsesRefused) {
    std::string k = k_of(32);
    // "use": "enc" keys are left out (JWKS documents mix them with signing keys).
    EXPECT_TRUE(KeySet::from_jwks(R"({"keys":[{"kty":"oct","use":"enc","alg":"HS256","k":")" + k + R"("}]})").empty());
    // Any other use is not guessed at.
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","use":"SIG","alg":"HS256","k":")" + k + R"("}]})", k));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","use":1,"alg":"HS256","k":")" + k + R"("}]})", k));
}

TEST(KeySet, BadKMaterialRefused) {
    std::string k = k_of(32);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256"}]})"));                     // no k
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":12345}]})"));           // not a string
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":")" + k + R"(="}]})", k));   // padding
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":"+)" + k + R"("}]})", k));   // '+'
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":" )" + k + R"("}]})", k));   // space
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":"AA)" + k + R"("}]})", k));  // len%4==1
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":""}]})"));             // empty: too short
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":")" + k_of(31) + R"("}]})"));  // 31 bytes
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS512","k":")" + k_of(63) + R"("}]})"));
    EXPECT_NO_THROW(KeySet::from_jwks(R"({"keys":[{"kty":"oct","alg":"HS512","k":")" + k_of(64) + R"("}]})"));
}

TEST(KeySet, KidMustBeAString) {
    std::string k = k_of(32);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","kid":7,"k":")" + k + R"("}]})", k));
}

TEST(KeySet, DocumentShapeRefused) {
    for (const char* doc : {"", "null", "[]", "\"keys\"", "42", "{}", R"({"keys":{}})", R"({"keys":"x"})",
                            R"({"keys":null})", R"({"Keys":[]})", R"({"keys":[1]})", R"({"keys":[[]]})",
                            R"({"keys":["oct"]})", "not json", R"({"keys":[]} trailing)", R"({"keys":[],"keys":[]})"})
        EXPECT_TRUE(JwksRefused(doc)) << doc;
}

TEST(KeySet, TrailingNulAndGarbageRefused) {
    std::string valid = jwks_of({oct_jwk("k", "HS256", secret_bytes(32))});
    EXPECT_EQ(KeySet::from_jwks(valid).size(), 1u);
    EXPECT_TRUE(JwksRefused(valid + std::string(1, '\0')));
    EXPECT_TRUE(JwksRefused(valid + std::string(1, '\0') + valid));
    EXPECT_TRUE(JwksRefused(valid + "x"));
}

TEST(KeySet, DuplicateMembersInsideAKeyRefused) {
    // Strict JSON: which "k" would win must not be left to the parser.
    std::string doc = R"({"keys":[{"kty":"oct","alg":"HS256","k":")" + k_of(32, 1) + R"(","k":")" + k_of(32, 2) +
                      R"("}]})";
    EXPECT_TRUE(JwksRefused(doc));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","alg":"HS512","k":")" + k_of(64) + R"("}]})"));
}

TEST(KeySet, OversizedDocumentRefused) {
    std::string valid = jwks_of({oct_jwk("k", "HS256", secret_bytes(32))});
    // Valid JSON padded with whitespace to exactly the limit is accepted...
    std::string at_limit = valid + std::string(KeySet::kMaxDocumentBytes - valid.size(), ' ');
    ASSERT_EQ(at_limit.size(), KeySet::kMaxDocumentBytes);
    EXPECT_EQ(KeySet::from_jwks(at_limit).size(), 1u);
    // ...one byte more is refused before parsing.
    EXPECT_TRUE(JwksRefused(at_limit + " "));
    EXPECT_TRUE(JwksRefused(std::string(2 * KeySet::kMaxDocumentBytes, '[')));
}

TEST(KeySet, TooManyKeysRefused) {
    auto build = [](size_t n) {
        std::string doc = "{\"keys\":[";
        for (size_t i = 0; i < n; ++i) {
            if (i) doc += ",";
            doc += oct_jwk("kid" + std::to_string(i), "HS256", secret_bytes(32, static_cast<unsigned>(i)));
        }
        return doc + "]}";
    };
    EXPECT_EQ(KeySet::from_jwks(build(KeySet::kMaxKeys)).size(), KeySet::kMaxKeys);
    EXPECT_TRUE(JwksRefused(build(KeySet::kMaxKeys + 1)));
}

TEST(KeySet, ErrorsNeverContainKeyMaterial) {
    // Each refusal happens after "k" was read from the document; none may echo it.
    std::string k31 = k_of(31), k32 = k_of(32);
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","kid":"a","k":")" + k31 + R"("}]})", k31));
    EXPECT_TRUE(JwksRefused(jwks_of({oct_jwk("a", "HS256", secret_bytes(32)), oct_jwk("a", "HS256", secret_bytes(32))}), k32));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"HS256","k":")" + k32 + R"(=="}]})", k32));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"RSA","alg":"HS256","k":")" + k32 + R"("}]})", k32));
    EXPECT_TRUE(JwksRefused(R"({"keys":[{"kty":"oct","alg":"RS256","k":")" + k32 + R"("}]})", k32));
}

}  // namespace
