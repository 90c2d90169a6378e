// verify_token: structure, algorithms, keys and signatures. Claim checks are in claims_test.cpp.
#include "test_support.hpp"

#include <algorithm>
#include <random>

namespace {

using namespace tg_test;

// Stands in for a future asymmetric public key: pinned to RS256, cannot sign, and "verifies"
// exactly the signature bytes "valid". Its public bytes are what an attacker would use as an
// HMAC secret in an algorithm-confusion attack.
class FakeRsaPublicKey final : public VerificationKey {
public:
    explicit FakeRsaPublicKey(std::string kid) : VerificationKey(std::move(kid), Algorithm::RS256) {}
    bool verify(std::string_view, std::string_view signature) const override { return signature == "valid"; }
    static std::string public_bytes() { return secret_bytes(64, 99); }
};

class VerifyToken : public ::testing::Test {
protected:
    std::string secret = secret_bytes(32, 1);
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("k1", "HS256", secret)}));
    HmacKey signer{"k1", Algorithm::HS256, secret};
    ClaimPolicy policy;
    std::string header = R"({"alg":"HS256","typ":"JWT","kid":"k1"})";

    std::string payload() const { return good_claims().dump(); }
    std::string raw(std::string_view header_json, std::string_view payload_json) const {
        return raw_token(header_json, payload_json, signer);
    }
    std::string good_token() const { return raw(header, payload()); }
    VerifiedToken verify(std::string_view token) const { return verify_token(token, keys, policy, kNow); }
    ::testing::AssertionResult Refused(Refusal reason, std::string_view token) const {
        return RefusedWith(reason, [&] { verify(token); });
    }
    ::testing::AssertionResult Accepted(std::string_view token) const {
        try {
            verify(token);
            return ::testing::AssertionSuccess();
        } catch (const TokenRefused& e) {
            return ::testing::AssertionFailure() << "refused: " << refusal_name(e.reason());
        }
    }
};

std::string signature_part(const std::string& token) { return token.substr(token.rfind('.') + 1); }
std::string signing_input(const std::string& token) { return token.substr(0, token.rfind('.')); }

// ---- Round trips -----------------------------------------------------------------------------

TEST_F(VerifyToken, SignTokenRoundTrip) {
    std::string token = sign_token(payload(), keys, nullptr);
    VerifiedToken result = verify(token);
    EXPECT_EQ(result.tenant.to_string(), kTenant);
    ASSERT_TRUE(result.subject.has_value());
    EXPECT_EQ(*result.subject, "alice");
    EXPECT_EQ(result.kid, "k1");
    EXPECT_EQ(result.alg, Algorithm::HS256);
    EXPECT_EQ(Json::parse(result.claims_json), good_claims());
}

TEST_F(VerifyToken, RawTokenRoundTrip) {
    EXPECT_TRUE(Accepted(good_token()));
    // No kid with a one-key set; extra header members; whitespace in the header JSON.
    EXPECT_TRUE(Accepted(raw(R"({"alg":"HS256"})", payload())));
    EXPECT_TRUE(Accepted(raw(R"({"typ":"JWT","cty":"x","alg":"HS256","b64":true})", payload())));
    EXPECT_TRUE(Accepted(raw("{ \"alg\" : \"HS256\" ,\r\n \"kid\":\"k1\" }", payload())));
}

TEST_F(VerifyToken, NoSubjectIsFine) {
    Json claims = good_claims();
    claims.erase("sub");
    VerifiedToken result = verify(raw(header, claims.dump()));
    EXPECT_FALSE(result.subject.has_value());
}

TEST_F(VerifyToken, UpperCaseTenantIsNormalised) {
    Json claims = good_claims();
    claims["tenant_id"] = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
    EXPECT_EQ(verify(raw(header, claims.dump())).tenant.to_string(), kTenant);
}

TEST(VerifyTokenAlgorithms, Hs384AndHs512RoundTrip) {
    for (Algorithm alg : {Algorithm::HS256, Algorithm::HS384, Algorithm::HS512}) {
        KeySet keys = one_key_set("key", alg, 5);
        std::string token = sign_token(good_claims().dump(), keys, nullptr);
        auto sig = base64url_decode(signature_part(token));
        ASSERT_TRUE(sig.has_value());
        EXPECT_EQ(sig->size(), HmacKey::digest_size(alg));
        VerifiedToken result = verify_token(token, keys, ClaimPolicy{}, kNow);
        EXPECT_EQ(result.alg, alg);
        EXPECT_EQ(result.kid, "key");
        EXPECT_EQ(result.tenant.to_string(), kTenant);
        // Same kid, same alg, different secret: refused.
        KeySet other = one_key_set("key", alg, 6);
        EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_token(token, other, ClaimPolicy{}, kNow); }));
    }
}

TEST(VerifyTokenAlgorithms, MultiKeySetSelectsByKid) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("a", "HS256", secret_bytes(32, 1)),
                                             oct_jwk("b", "HS512", secret_bytes(64, 2))}));
    std::string a = "a", b = "b";
    VerifiedToken ra = verify_token(sign_token(good_claims().dump(), keys, &a), keys, ClaimPolicy{}, kNow);
    VerifiedToken rb = verify_token(sign_token(good_claims().dump(), keys, &b), keys, ClaimPolicy{}, kNow);
    EXPECT_EQ(ra.kid, "a");
    EXPECT_EQ(ra.alg, Algorithm::HS256);
    EXPECT_EQ(rb.kid, "b");
    EXPECT_EQ(rb.alg, Algorithm::HS512);
}

// ---- TokenMalformed --------------------------------------------------------------------------

TEST_F(VerifyToken, WrongNumberOfDotsIsMalformed) {
    std::string token = good_token();
    std::string no_dots = token;
    no_dots.erase(std::remove(no_dots.begin(), no_dots.end(), '.'), no_dots.end());
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, ""));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, no_dots));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, "abc"));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, signing_input(token)));   // one dot
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, token + "."));            // three dots
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, token + ".AAAA"));        // JWE-like, five parts
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, token + ".AAAA.AAAA"));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, "." + token));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, "."));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, ".."));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, "..."));
}

TEST_F(VerifyToken, BadBase64InHeaderIsMalformed) {
    std::string h = base64url_encode(header), p = base64url_encode(payload());
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts("*" + h.substr(1), p, signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h + "=", p, signer)));
    ASSERT_EQ(h.size() % 4, 3u);
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h + "AA", p, signer)));  // length % 4 == 1
    std::string plus = h;
    plus[3] = '+';
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(plus, p, signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(" " + h, p, signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts("", p, signer)));  // empty header
}

TEST_F(VerifyToken, NulByteAfterHeaderJsonIsMalformed) {
    // {"alg":...}\0 followed by anything: the JSON parser must not stop at the NUL and accept.
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(header + std::string(1, '\0'), payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(header + std::string(1, '\0') + R"({"crit":["x"]})", payload())));
    // The same header re-encoded with one more base64 character that decodes to a trailing NUL.
    std::string h = base64url_encode(header), p = base64url_encode(payload());
    ASSERT_EQ(base64url_decode(h + "A"), header + std::string(1, '\0'));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h + "A", p, signer)));
}

TEST_F(VerifyToken, NulByteAfterClaimsJsonIsInvalidClaims) {
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, raw(header, payload() + std::string(1, '\0'))));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, raw(header, payload() + std::string(1, '\0') + R"({"tenant_id":1})")));
}

TEST_F(VerifyToken, BadBase64InPayloadIsMalformedEvenUnderAValidMac) {
    // The MAC covers the payload text, so the payload is decoded only after the signature verified:
    // these tokens carry correct MACs and must still be refused as malformed.
    std::string h = base64url_encode(header), p = base64url_encode(payload());
    EXPECT_TRUE(Accepted(raw_token_parts(h, p, signer)));
    std::string plus = p;
    plus[5] = '+';
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h, plus, signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h, p + "=", signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h, p + "\n", signer)));
    std::string p_len1 = p + (p.size() % 4 == 0 ? "A" : p.size() % 4 == 2 ? "AAA" : "AA");
    ASSERT_EQ(p_len1.size() % 4, 1u);
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h, p_len1, signer)));
}

TEST_F(VerifyToken, NonCanonicalPayloadEncodingIsRefused) {
    // The same payload bytes spelled with non-zero trailing bits must not verify as a second token.
    std::string h = base64url_encode(header);
    std::string claims = payload() + " ";  // make the byte length not a multiple of 3
    while (claims.size() % 3 == 0) claims += " ";
    std::string p = base64url_encode(claims);
    std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string tweaked = p;
    tweaked.back() = alphabet[alphabet.find(p.back()) + 1];
    ASSERT_EQ(base64url_decode(tweaked), std::nullopt);
    EXPECT_TRUE(Accepted(raw_token_parts(h, p, signer)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw_token_parts(h, tweaked, signer)));
}

TEST_F(VerifyToken, BadBase64InSignatureIsMalformed) {
    std::string token = good_token();
    std::string input = signing_input(token), sig = signature_part(token);
    ASSERT_EQ(sig.size(), 43u);
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, input + "." + sig + "="));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, input + "." + sig.substr(0, 10) + "+" + sig.substr(11)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, input + "." + sig.substr(0, 10) + "/" + sig.substr(11)));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, input + "." + sig + "AA"));  // 45 chars: length % 4 == 1
    // Non-canonical: set one of the 2 unused low bits of the last character. Same MAC bytes, second
    // spelling: must be refused so that tokens are not malleable.
    std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string malleated = sig;
    malleated.back() = alphabet[alphabet.find(sig.back()) | 1];
    ASSERT_NE(malleated, sig);
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, input + "." + malleated));
}

TEST_F(VerifyToken, HeaderNotAnObjectIsMalformed) {
    for (const char* h : {"[]", R"(["HS256"])", R"("HS256")", "null", "1", "true", "", "{", "{alg:HS256}",
                          R"({"alg":"HS256"} x)", R"({"alg":"HS256"}{})"})
        EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(h, payload()))) << h;
}

TEST_F(VerifyToken, HeaderMembersOfWrongShapeAreMalformed) {
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"typ":"JWT"})", payload())));             // no alg
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":256})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":null})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":["HS256"]})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"ALG":"HS256"})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","kid":1})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","kid":null})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","kid":["k1"]})", payload())));
}

TEST_F(VerifyToken, DuplicateHeaderMembersAreMalformed) {
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","alg":"HS256"})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","alg":"none"})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"none","alg":"HS256"})", payload())));
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(R"({"alg":"HS256","kid":"k1","kid":"k2"})", payload())));
}

TEST_F(VerifyToken, HeaderTooDeepIsMalformed) {
    std::string deep = R"({"alg":"HS256","x":)" + std::string(32, '[') + std::string(32, ']') + "}";
    std::string ok = R"({"alg":"HS256","x":)" + std::string(31, '[') + std::string(31, ']') + "}";
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw(deep, payload())));
    EXPECT_TRUE(Accepted(raw(ok, payload())));
}

TEST_F(VerifyToken, InvalidUtf8InHeaderIsMalformed) {
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, raw("{\"alg\":\"HS256\",\"kid\":\"k\xff\"}", payload())));
}

// ---- TokenTooLarge ---------------------------------------------------------------------------

TEST_F(VerifyToken, OverSizeCapIsTooLarge) {
    ASSERT_EQ(kMaxTokenBytes, 16u * 1024u);
    EXPECT_TRUE(Refused(Refusal::TokenTooLarge, std::string(kMaxTokenBytes + 1, 'A')));
    EXPECT_TRUE(Refused(Refusal::TokenTooLarge, std::string(1 << 20, '.')));
    // At the cap the size check passes; this one then fails for its shape.
    EXPECT_TRUE(Refused(Refusal::TokenMalformed, std::string(kMaxTokenBytes, 'A')));
}

TEST_F(VerifyToken, ValidTokensAtAndOverTheCap) {
    // Find a validly signed token of exactly kMaxTokenBytes by padding a claim (and, if the base64
    // length skips the target, the header).
    std::string at_cap;
    for (int header_spaces = 0; header_spaces < 4 && at_cap.empty(); ++header_spaces) {
        std::string h = "{\"alg\":\"HS256\"" + std::string(static_cast<size_t>(header_spaces), ' ') + "}";
        for (size_t pad = 11000; pad < 13000; ++pad) {
            Json claims = good_claims();
            claims["pad"] = std::string(pad, 'x');
            std::string token = raw(h, claims.dump());
            if (token.size() == kMaxTokenBytes) {
                at_cap = token;
                break;
            }
            if (token.size() > kMaxTokenBytes) break;
        }
    }
    ASSERT_EQ(at_cap.size(), kMaxTokenBytes);
    EXPECT_TRUE(Accepted(at_cap));

    Json claims = good_claims();
    claims["pad"] = std::string(13000, 'x');
    std::string over = raw(header, claims.dump());
    ASSERT_GT(over.size(), kMaxTokenBytes);
    EXPECT_TRUE(Refused(Refusal::TokenTooLarge, over));
}

// ---- AlgorithmNone / AlgorithmUnsupported ------------------------------------------------------

TEST_F(VerifyToken, AlgNoneInAnyCaseIsRefused) {
    for (const char* alg : {"none", "None", "NONE", "nOnE", ""}) {
        std::string h = std::string(R"({"alg":")") + alg + R"(","kid":"k1"})";
        std::string unsigned_token = base64url_encode(h) + "." + base64url_encode(payload()) + ".";
        EXPECT_TRUE(Refused(Refusal::AlgorithmNone, unsigned_token)) << alg;
        // Also with a signature present, and without a kid.
        EXPECT_TRUE(Refused(Refusal::AlgorithmNone, raw(h, payload()))) << alg;
        EXPECT_TRUE(Refused(Refusal::AlgorithmNone, raw(std::string(R"({"alg":")") + alg + "\"}", payload()))) << alg;
        // Even when no keys are configured, the answer is the same.
        KeySet none;
        EXPECT_TRUE(RefusedWith(Refusal::AlgorithmNone, [&] { verify_token(unsigned_token, none, policy, kNow); }));
    }
}

TEST_F(VerifyToken, UnknownAlgorithmIsUnsupported) {
    for (const char* alg : {"XYZ", "hs256", "HS256 ", " HS256", "HS1024", "RSA-OAEP", "dir", "nonE!", "none "}) {
        std::string h = std::string(R"({"alg":")") + alg + R"(","kid":"k1"})";
        EXPECT_TRUE(Refused(Refusal::AlgorithmUnsupported, raw(h, payload()))) << alg;
    }
    EXPECT_TRUE(Refused(Refusal::AlgorithmUnsupported, raw("{\"alg\":\"HS256\\u0000\"}", payload())));
}

// ---- AlgorithmMismatch -----------------------------------------------------------------------

TEST_F(VerifyToken, HeaderAlgOtherThanTheKeysIsMismatch) {
    // A valid HS384 MAC under an HS384 header naming the key: the key is pinned to HS256.
    HmacKey hs384("k1", Algorithm::HS384, secret_bytes(48, 1));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw_token(R"({"alg":"HS384","kid":"k1"})", payload(), hs384)));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"HS512","kid":"k1"})", payload())));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"HS384"})", payload())));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"ES256","kid":"k1"})", payload())));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"EdDSA","kid":"k1"})", payload())));
}

TEST_F(VerifyToken, Rs256HeaderNamingAnHmacKeyIsMismatch) {
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"RS256","kid":"k1"})", payload())));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"RS256"})", payload())));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, raw(R"({"alg":"PS256","kid":"k1"})", payload())));
}

TEST(VerifyTokenAlgorithms, HmacHeaderNamingAPublicKeyIsMismatch) {
    // Classic algorithm confusion: the attacker MACs with the public key's bytes and says HS256.
    KeySet keys;
    keys.add(std::make_shared<FakeRsaPublicKey>("rsa"));
    HmacKey attacker("rsa", Algorithm::HS256, FakeRsaPublicKey::public_bytes());
    std::string forged = raw_token(R"({"alg":"HS256","kid":"rsa"})", good_claims().dump(), attacker);
    EXPECT_TRUE(RefusedWith(Refusal::AlgorithmMismatch, [&] { verify_token(forged, keys, ClaimPolicy{}, kNow); }));
    // The same key with its own algorithm reaches signature verification (and passes, for the fake).
    std::string honest = base64url_encode(R"({"alg":"RS256","kid":"rsa"})") + "." +
                         base64url_encode(good_claims().dump()) + "." + base64url_encode("valid");
    VerifiedToken result = verify_token(honest, keys, ClaimPolicy{}, kNow);
    EXPECT_EQ(result.alg, Algorithm::RS256);
    EXPECT_EQ(result.kid, "rsa");
    std::string dishonest = base64url_encode(R"({"alg":"RS256","kid":"rsa"})") + "." +
                            base64url_encode(good_claims().dump()) + "." + base64url_encode("wrong");
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_token(dishonest, keys, ClaimPolicy{}, kNow); }));
}

// ---- UnknownKey / NoKeys -----------------------------------------------------------------------

TEST_F(VerifyToken, UnknownKidIsUnknownKey) {
    EXPECT_TRUE(Refused(Refusal::UnknownKey, raw(R"({"alg":"HS256","kid":"k2"})", payload())));
    EXPECT_TRUE(Refused(Refusal::UnknownKey, raw(R"({"alg":"HS256","kid":"K1"})", payload())));
    EXPECT_TRUE(Refused(Refusal::UnknownKey, raw(R"({"alg":"HS256","kid":""})", payload())));
}

TEST(VerifyTokenKeys, MissingKidWithSeveralKeysIsUnknownKey) {
    KeySet keys = KeySet::from_jwks(jwks_of({oct_jwk("a", "HS256", secret_bytes(32, 1)),
                                             oct_jwk("b", "HS256", secret_bytes(32, 2))}));
    HmacKey a("a", Algorithm::HS256, secret_bytes(32, 1));
    std::string no_kid = raw_token(R"({"alg":"HS256"})", good_claims().dump(), a);
    EXPECT_TRUE(RefusedWith(Refusal::UnknownKey, [&] { verify_token(no_kid, keys, ClaimPolicy{}, kNow); }));
    std::string with_kid = raw_token(R"({"alg":"HS256","kid":"a"})", good_claims().dump(), a);
    EXPECT_NO_THROW(verify_token(with_kid, keys, ClaimPolicy{}, kNow));
    // Naming the other key: its MAC does not verify.
    std::string wrong_kid = raw_token(R"({"alg":"HS256","kid":"b"})", good_claims().dump(), a);
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_token(wrong_kid, keys, ClaimPolicy{}, kNow); }));
}

TEST_F(VerifyToken, EmptyKeySetIsNoKeys) {
    KeySet empty;
    EXPECT_TRUE(RefusedWith(Refusal::NoKeys, [&] { verify_token(good_token(), empty, policy, kNow); }));
    KeySet from_empty_jwks = KeySet::from_jwks(R"({"keys":[]})");
    EXPECT_TRUE(RefusedWith(Refusal::NoKeys, [&] { verify_token(good_token(), from_empty_jwks, policy, kNow); }));
    EXPECT_TRUE(RefusedWith(Refusal::NoKeys, [&] { verify_token(raw(R"({"alg":"HS256"})", payload()), empty, policy, kNow); }));
}

// ---- BadSignature ------------------------------------------------------------------------------

TEST_F(VerifyToken, FlippedSignatureCharacterIsBadSignature) {
    std::string token = good_token();
    size_t sig_start = token.rfind('.') + 1;
    // Change each of the first 42 characters (the 43rd carries unused bits; see the malleability test).
    for (size_t i = sig_start; i + 1 < token.size(); ++i) {
        std::string flipped = token;
        flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
        EXPECT_TRUE(Refused(Refusal::BadSignature, flipped)) << "position " << i;
    }
}

TEST_F(VerifyToken, FlippedPayloadOrHeaderCharacterIsBadSignature) {
    std::string token = good_token();
    size_t first_dot = token.find('.'), second_dot = token.rfind('.');
    // Any alphabet character in the payload part: the payload is not decoded before the MAC check.
    for (size_t i = first_dot + 1; i < second_dot; ++i) {
        std::string flipped = token;
        flipped[i] = flipped[i] == '_' ? '-' : '_';
        EXPECT_TRUE(Refused(Refusal::BadSignature, flipped)) << "position " << i;
    }
    // A different but valid header, keeping the payload and the signature.
    std::string other_header = base64url_encode(R"({"alg":"HS256","kid":"k1","typ":"jwt"})");
    EXPECT_TRUE(Refused(Refusal::BadSignature, other_header + token.substr(first_dot)));
}

TEST_F(VerifyToken, SignatureFromAnotherKeyIsBadSignature) {
    HmacKey other("k1", Algorithm::HS256, secret_bytes(32, 2));
    EXPECT_TRUE(Refused(Refusal::BadSignature, raw_token(header, payload(), other)));
    // A key one bit different.
    std::string near = secret;
    near[31] = static_cast<char>(near[31] ^ 1);
    HmacKey near_key("k1", Algorithm::HS256, near);
    EXPECT_TRUE(Refused(Refusal::BadSignature, raw_token(header, payload(), near_key)));
    // A longer key that starts with ours.
    HmacKey longer("k1", Algorithm::HS256, secret + "x");
    EXPECT_TRUE(Refused(Refusal::BadSignature, raw_token(header, payload(), longer)));
}

TEST_F(VerifyToken, TruncatedTokenIsBadSignature) {
    std::string token = good_token();
    std::string input = signing_input(token);
    auto sig = base64url_decode(signature_part(token));
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(Refused(Refusal::BadSignature, input + "." + base64url_encode(sig->substr(0, 31))));
    EXPECT_TRUE(Refused(Refusal::BadSignature, input + "." + base64url_encode(sig->substr(0, 16))));
    EXPECT_TRUE(Refused(Refusal::BadSignature, input + "." + base64url_encode(sig->substr(0, 1))));
    EXPECT_TRUE(Refused(Refusal::BadSignature, input + "."));  // signature stripped
    EXPECT_TRUE(Refused(Refusal::BadSignature, input + "." + base64url_encode(*sig + std::string(1, '\0'))));
    // Cutting characters off the text: either the base64 becomes invalid or the MAC is wrong.
    for (size_t cut = 1; cut <= 43; ++cut) {
        Refusal r = refusal_of([&] { verify(token.substr(0, token.size() - cut)); });
        EXPECT_TRUE(r == Refusal::BadSignature || r == Refusal::TokenMalformed) << cut << " " << refusal_name(r);
    }
}

TEST_F(VerifyToken, SignatureOfAnotherPayloadIsBadSignature) {
    Json other_claims = good_claims();
    other_claims["tenant_id"] = "00000000-0000-0000-0000-000000000001";
    std::string mine = good_token(), theirs = raw(header, other_claims.dump());
    EXPECT_TRUE(Accepted(theirs));
    EXPECT_TRUE(Refused(Refusal::BadSignature, signing_input(theirs) + "." + signature_part(mine)));
    EXPECT_TRUE(Refused(Refusal::BadSignature, signing_input(mine) + "." + signature_part(theirs)));
}

TEST_F(VerifyToken, SignatureIsCheckedBeforeThePayloadIsRead) {
    HmacKey other("k1", Algorithm::HS256, secret_bytes(32, 2));
    Json expired = good_claims();
    expired["exp"] = kNow - 3600;
    // With a bad MAC, nothing about the payload is revealed: always BadSignature.
    for (const std::string& p : {expired.dump(), std::string("not json"), std::string("[]"), std::string("{}"),
                                 std::string("{\"a\":1,\"a\":2}")})
        EXPECT_TRUE(Refused(Refusal::BadSignature, raw_token(header, p, other))) << p;
    // The same payloads under a good MAC give their own reasons.
    EXPECT_TRUE(Refused(Refusal::Expired, raw(header, expired.dump())));
    EXPECT_TRUE(Refused(Refusal::InvalidClaims, raw(header, "not json")));
}

// ---- CriticalHeader ----------------------------------------------------------------------------

TEST_F(VerifyToken, CritHeaderIsRefused) {
    for (const char* h : {R"({"alg":"HS256","kid":"k1","crit":["exp"]})", R"({"alg":"HS256","crit":["b64"],"b64":false})",
                          R"({"alg":"HS256","crit":[]})", R"({"alg":"HS256","crit":null})", R"({"alg":"HS256","crit":"x"})"})
        EXPECT_TRUE(Refused(Refusal::CriticalHeader, raw(h, payload()))) << h;
    // b64 without crit is simply ignored (the payload is still base64url).
    EXPECT_TRUE(Accepted(raw(R"({"alg":"HS256","b64":false})", payload())));
}

// ---- Hostile input -----------------------------------------------------------------------------

// Verifies and reports whether it was accepted; anything other than TokenRefused fails the test.
bool accepted_or_refused(std::string_view token, const KeySet& keys) {
    try {
        verify_token(token, keys, ClaimPolicy{}, kNow);
        return true;
    } catch (const TokenRefused&) {
        return false;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "non-TokenRefused exception: " << e.what() << " for " << ::testing::PrintToString(std::string(token));
        return false;
    } catch (...) {
        ADD_FAILURE() << "non-std exception for " << ::testing::PrintToString(std::string(token));
        return false;
    }
}

TEST(VerifyTokenHostile, RandomBytesAreRefused) {
    KeySet keys = one_key_set();
    std::mt19937 rng(12345);
    for (int i = 0; i < 4000; ++i) {
        std::string bytes(rng() % 300, '\0');
        for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
        if (i % 4 == 0 && bytes.size() > 10) {  // give some of them the two dots of a token
            bytes[rng() % bytes.size()] = '.';
            bytes[rng() % bytes.size()] = '.';
        }
        EXPECT_FALSE(accepted_or_refused(bytes, keys)) << i;
    }
}

TEST(VerifyTokenHostile, RandomTokenShapedStringsAreRefused) {
    KeySet keys = one_key_set();
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::mt19937 rng(777);
    auto part = [&](size_t n) {
        std::string s(n, 'A');
        for (char& c : s) c = alphabet[rng() % alphabet.size()];
        return s;
    };
    for (int i = 0; i < 3000; ++i) {
        // Random header JSON fragments, base64url-encoded, so parsing gets past the first step.
        static const char* fragments[] = {"{", "}", "\"alg\"", ":", "\"HS256\"", ",", "\"kid\"", "\"k1\"", "[",
                                          "]", "\"crit\"", "null", "1", "\"none\"", "\"\\u0000\"", "\xff", " "};
        std::string header_json;
        size_t n = rng() % 12;
        for (size_t j = 0; j < n; ++j) header_json += fragments[rng() % (sizeof fragments / sizeof *fragments)];
        std::string token = (i % 2 ? base64url_encode(header_json) : part(rng() % 60)) + "." + part(rng() % 100) +
                            "." + part(rng() % 90);
        EXPECT_FALSE(accepted_or_refused(token, keys)) << token;
    }
}

TEST(VerifyTokenHostile, MutatedValidTokensAreRefused) {
    // Non-malleability: a token that differs from a valid one in any byte is never accepted.
    KeySet keys = one_key_set();
    const std::string token = sign_token(good_claims().dump(), keys, nullptr);
    ASSERT_TRUE(accepted_or_refused(token, keys));
    std::mt19937 rng(4242);
    for (int i = 0; i < 4000; ++i) {
        std::string mutated = token;
        int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            size_t pos = rng() % mutated.size();
            switch (rng() % 4) {
                case 0: mutated[pos] = static_cast<char>(rng() & 0xff); break;
                case 1: mutated[pos] = static_cast<char>(mutated[pos] ^ (1 << (rng() % 8))); break;
                case 2: mutated.erase(pos, 1); break;
                default: mutated.insert(pos, 1, static_cast<char>(rng() & 0xff)); break;
            }
        }
        if (mutated == token) continue;
        EXPECT_FALSE(accepted_or_refused(mutated, keys)) << mutated;
    }
}

}  // namespace
