// Public-key verification: RsaKey (RS*/PS*), EcKey (ES*), OkpKey (EdDSA), their JWK rules, and
// verify_token with them. Vectors come from the RFCs and from the openssl command line
// (vectors/asymmetric_vectors.hpp, made by vectors/generate_asymmetric_vectors.py); none is
// produced by the code under test.
#include "test_support.hpp"

#include "vectors/asymmetric_vectors.hpp"

#include <openssl/err.h>

#include <random>
#include <vector>

namespace {

using namespace tg_test;
namespace v = asymmetric_vectors;

std::string decoded(std::string_view text) {
    auto bytes = base64url_decode(text);
    if (!bytes) ADD_FAILURE() << "not base64url: " << text;
    return bytes.value_or("");
}

std::string flip_bit(std::string bytes, size_t bit) {
    bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
    return bytes;
}

// ---- Compact tokens, taken apart and put together again -----------------------------------------

struct Compact {
    std::string header, payload, signature;  // base64url parts
    std::string str() const { return header + "." + payload + "." + signature; }
};

Compact split(const std::string& token) {
    size_t first = token.find('.'), second = token.find('.', first + 1);
    return {token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

std::string signing_input_of(const std::string& token) { return token.substr(0, token.rfind('.')); }

// ---- JWKs ----------------------------------------------------------------------------------------

Json rsa_jwk(std::string_view kid, std::string_view alg, std::string_view n = v::kRsaN, std::string_view e = v::kRsaE) {
    Json jwk = {{"kty", "RSA"}, {"n", std::string(n)}, {"e", std::string(e)}};
    if (!kid.empty()) jwk["kid"] = std::string(kid);
    if (!alg.empty()) jwk["alg"] = std::string(alg);
    return jwk;
}

Json ec_jwk(std::string_view kid, std::string_view alg, std::string_view crv, std::string_view x, std::string_view y) {
    Json jwk = {{"kty", "EC"}, {"crv", std::string(crv)}, {"x", std::string(x)}, {"y", std::string(y)}};
    if (!kid.empty()) jwk["kid"] = std::string(kid);
    if (!alg.empty()) jwk["alg"] = std::string(alg);
    return jwk;
}

Json okp_jwk(std::string_view kid, std::string_view alg, std::string_view x = v::kEd25519X) {
    Json jwk = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", std::string(x)}};
    if (!kid.empty()) jwk["kid"] = std::string(kid);
    if (!alg.empty()) jwk["alg"] = std::string(alg);
    return jwk;
}

std::string jwks(std::initializer_list<Json> keys) {
    Json array = Json::array();
    for (const auto& key : keys) array.push_back(key);
    return Json{{"keys", array}}.dump();
}

// Every openssl-made key under the kid its tokens carry (the RSA key once per alg).
std::string all_generated_keys() {
    Json keys = Json::array();
    for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
        keys.push_back(rsa_jwk(std::string("rsa-") + alg, alg));
    keys.push_back(ec_jwk("ec-P-256", "ES256", "P-256", v::kP256X, v::kP256Y));
    keys.push_back(ec_jwk("ec-P-384", "ES384", "P-384", v::kP384X, v::kP384Y));
    keys.push_back(ec_jwk("ec-P-521", "ES512", "P-521", v::kP521X, v::kP521Y));
    keys.push_back(okp_jwk("ed25519", "EdDSA"));
    return Json{{"keys", keys}}.dump();
}

::testing::AssertionResult JwksRefused(const std::string& doc, const std::string& must_not_contain = {}) {
    try {
        KeySet::from_jwks(doc);
        return ::testing::AssertionFailure() << "accepted: " << doc.substr(0, 300);
    } catch (const KeySetError& e) {
        if (!must_not_contain.empty() && std::string(e.what()).find(must_not_contain) != std::string::npos)
            return ::testing::AssertionFailure() << "message leaks key material: " << e.what();
        if (ERR_peek_error() != 0) return ::testing::AssertionFailure() << "OpenSSL error queue left non-empty";
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw something other than KeySetError: " << e.what();
    }
}

// The KeySetError text for doc ("" if it loaded).
std::string jwks_error(const std::string& doc) {
    try {
        KeySet::from_jwks(doc);
    } catch (const KeySetError& e) {
        return e.what();
    }
    return "";
}

VerifiedToken verify_at(const std::string& token, const KeySet& keys, std::int64_t now = kNow) {
    return verify_token(token, keys, ClaimPolicy{}, now);
}

::testing::AssertionResult Refused(Refusal reason, const std::string& token, const KeySet& keys) {
    auto result = RefusedWith(reason, [&] { verify_at(token, keys); });
    if (result && ERR_peek_error() != 0) return ::testing::AssertionFailure() << "OpenSSL error queue left non-empty";
    return result;
}

// ---- Published vectors, at the key level ---------------------------------------------------------

// RFC 7515 Appendix A.2 (RS256). The JWK's private members are left out.
constexpr const char* kRfc7515RsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr const char* kRfc7515Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::int64_t kRfc7515Exp = 1300819380;
constexpr const char* kRfc7515Rs256Signature =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t"
    "1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzD"
    "wusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 Appendix A.3 (ES256, P-256).
constexpr const char* kRfc7515P256X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr const char* kRfc7515P256Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr const char* kRfc7515Es256Signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 7515 Appendix A.4 (ES512, P-521); its payload is the ASCII text "Payload".
constexpr const char* kRfc7515P521X =
    "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk";
constexpr const char* kRfc7515P521Y =
    "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2";
constexpr const char* kRfc7515Es512SigningInput = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA";
constexpr const char* kRfc7515Es512Signature =
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3"
    "xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

// RFC 8037 Appendix A.4 (Ed25519); its payload is "Example of Ed25519 signing".
constexpr const char* kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr const char* kRfc8037SigningInput = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr const char* kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// Checks `key` accepts exactly (input, signature): one flipped bit anywhere, or a byte more or
// less, and it refuses.
void expect_verifies_only_this(const VerificationKey& key, const std::string& input, const std::string& signature) {
    EXPECT_TRUE(key.verify(input, signature));
    EXPECT_EQ(ERR_peek_error(), 0u);
    for (size_t bit : {size_t{0}, size_t{7}, signature.size() * 4, signature.size() * 8 - 1})
        EXPECT_FALSE(key.verify(input, flip_bit(signature, bit))) << "signature bit " << bit;
    for (size_t bit : {size_t{0}, input.size() * 4 + 1, input.size() * 8 - 1})
        EXPECT_FALSE(key.verify(flip_bit(input, bit), signature)) << "input bit " << bit;
    EXPECT_FALSE(key.verify(input + ".", signature));
    EXPECT_FALSE(key.verify(input, signature.substr(1)));
    EXPECT_FALSE(key.verify(input, signature + std::string(1, '\0')));
    EXPECT_FALSE(key.verify(input, std::string(1, '\0') + signature));
    EXPECT_FALSE(key.verify(input, ""));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(Rfc7515, A2Rs256Verifies) {
    RsaKey key("", Algorithm::RS256, decoded(kRfc7515RsaN), decoded("AQAB"));
    EXPECT_EQ(key.bits(), 2048);
    EXPECT_EQ(key.algorithm(), Algorithm::RS256);
    std::string input = std::string("eyJhbGciOiJSUzI1NiJ9.") + kRfc7515Payload;
    expect_verifies_only_this(key, input, decoded(kRfc7515Rs256Signature));
    // The same modulus pinned to other algorithms does not take the PKCS#1 v1.5 SHA-256 signature.
    for (Algorithm other : {Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512})
        EXPECT_FALSE(RsaKey("", other, decoded(kRfc7515RsaN), decoded("AQAB")).verify(input, decoded(kRfc7515Rs256Signature)))
            << algorithm_name(other);
}

TEST(Rfc7515, A2ThroughVerifyToken) {
    // The whole JWS through verify_token: the signature verifies, then its claims are judged (it has
    // no tenant, and expired in 2011).
    KeySet keys = KeySet::from_jwks(jwks({rsa_jwk("", "RS256", kRfc7515RsaN, "AQAB")}));
    std::string token = std::string("eyJhbGciOiJSUzI1NiJ9.") + kRfc7515Payload + "." + kRfc7515Rs256Signature;
    EXPECT_TRUE(RefusedWith(Refusal::Expired, [&] { verify_at(token, keys); }));
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_at(token, keys, kRfc7515Exp - 60); }));
    std::string tampered = std::string("eyJhbGciOiJSUzI1NiJ9.") + kRfc7515Payload + "." +
                           base64url_encode(flip_bit(decoded(kRfc7515Rs256Signature), 100));
    EXPECT_TRUE(RefusedWith(Refusal::BadSignature, [&] { verify_at(tampered, keys, kRfc7515Exp - 60); }));
}

TEST(Rfc7515, A3Es256Verifies) {
    EcKey key("", Algorithm::ES256, "P-256", decoded(kRfc7515P256X), decoded(kRfc7515P256Y));
    std::string input = std::string("eyJhbGciOiJFUzI1NiJ9.") + kRfc7515Payload;
    std::string signature = decoded(kRfc7515Es256Signature);
    ASSERT_EQ(signature.size(), 64u);
    expect_verifies_only_this(key, input, signature);
    // r and s swapped.
    EXPECT_FALSE(key.verify(input, signature.substr(32) + signature.substr(0, 32)));

    KeySet keys = KeySet::from_jwks(jwks({ec_jwk("", "ES256", "P-256", kRfc7515P256X, kRfc7515P256Y)}));
    std::string token = input + "." + kRfc7515Es256Signature;
    EXPECT_TRUE(RefusedWith(Refusal::MissingTenant, [&] { verify_at(token, keys, kRfc7515Exp - 60); }));
}

TEST(Rfc7515, A4Es512Verifies) {
    EcKey key("", Algorithm::ES512, "P-521", decoded(kRfc7515P521X), decoded(kRfc7515P521Y));
    std::string signature = decoded(kRfc7515Es512Signature);
    ASSERT_EQ(signature.size(), 132u);
    expect_verifies_only_this(key, kRfc7515Es512SigningInput, signature);
}

TEST(Rfc8037, A4Ed25519Verifies) {
    OkpKey key("", Algorithm::EdDSA, "Ed25519", decoded(kRfc8037X));
    std::string signature = decoded(kRfc8037Signature);
    ASSERT_EQ(signature.size(), 64u);
    expect_verifies_only_this(key, kRfc8037SigningInput, signature);
    // The payload is not a JSON object: verify_token gets past the signature to the claims.
    KeySet keys = KeySet::from_jwks(jwks({okp_jwk("", "EdDSA", kRfc8037X)}));
    std::string token = std::string(kRfc8037SigningInput) + "." + kRfc8037Signature;
    EXPECT_TRUE(RefusedWith(Refusal::InvalidClaims, [&] { verify_at(token, keys); }));
}

// ---- Tokens signed by the openssl command line, through verify_token -------------------------------

struct GeneratedToken {
    const char* token;
    const char* kid;
    Algorithm alg;
};

void PrintTo(const GeneratedToken& t, std::ostream* os) { *os << algorithm_name(t.alg); }

class OpensslSigned : public ::testing::TestWithParam<GeneratedToken> {
protected:
    KeySet keys = KeySet::from_jwks(all_generated_keys());
    std::string token = GetParam().token;
};

TEST_P(OpensslSigned, Accepted) {
    ASSERT_EQ(keys.size(), 10u);
    VerifiedToken result = verify_at(token, keys);
    EXPECT_EQ(result.tenant.to_string(), v::kTenant);
    EXPECT_EQ(result.kid, GetParam().kid);
    EXPECT_EQ(result.alg, GetParam().alg);
    EXPECT_EQ(Json::parse(result.claims_json), Json::parse(v::kClaims));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_P(OpensslSigned, TamperedPayloadRefused) {
    Compact parts = split(token);
    parts.payload = base64url_encode(v::kOtherClaims);  // another tenant, same signature
    EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys));
    parts = split(token);
    parts.payload = base64url_encode(flip_bit(decoded(parts.payload), 3));
    EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys));
}

TEST_P(OpensslSigned, TamperedSignatureRefused) {
    Compact parts = split(token);
    const std::string signature = decoded(parts.signature);
    for (size_t bit : {size_t{0}, signature.size() * 4, signature.size() * 8 - 1}) {
        parts.signature = base64url_encode(flip_bit(signature, bit));
        EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys)) << "bit " << bit;
    }
    for (const std::string& wrong_length : {signature.substr(1), signature.substr(0, signature.size() - 1),
                                            signature + std::string(1, '\0'), std::string(), std::string(1, '\0')}) {
        parts.signature = base64url_encode(wrong_length);
        EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys)) << wrong_length.size() << " bytes";
    }
    parts.signature = base64url_encode(std::string(signature.size(), '\0'));
    EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys));
}

TEST_P(OpensslSigned, HeaderNamingAnotherAlgIsMismatch) {
    // The header is signed, but the algorithm check comes first: the key decides.
    for (const char* alg : {"HS256", "RS256", "PS256", "ES256", "ES512", "EdDSA"}) {
        if (algorithm_name(GetParam().alg) == alg) continue;
        Compact parts = split(token);
        parts.header = base64url_encode(Json{{"alg", alg}, {"kid", GetParam().kid}}.dump());
        EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, parts.str(), keys)) << alg;
    }
}

TEST_P(OpensslSigned, NoneIsRefusedWhateverTheKey) {
    Compact parts = split(token);
    for (const char* none : {"none", "None", "NONE"}) {
        parts.header = base64url_encode(Json{{"alg", none}, {"kid", GetParam().kid}}.dump());
        parts.signature.clear();
        EXPECT_TRUE(Refused(Refusal::AlgorithmNone, parts.str(), keys)) << none;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Generated, OpensslSigned,
    ::testing::Values(GeneratedToken{v::kRs256Token, "rsa-RS256", Algorithm::RS256},
                      GeneratedToken{v::kRs384Token, "rsa-RS384", Algorithm::RS384},
                      GeneratedToken{v::kRs512Token, "rsa-RS512", Algorithm::RS512},
                      GeneratedToken{v::kPs256Token, "rsa-PS256", Algorithm::PS256},
                      GeneratedToken{v::kPs384Token, "rsa-PS384", Algorithm::PS384},
                      GeneratedToken{v::kPs512Token, "rsa-PS512", Algorithm::PS512},
                      GeneratedToken{v::kEs256Token, "ec-P-256", Algorithm::ES256},
                      GeneratedToken{v::kEs384Token, "ec-P-384", Algorithm::ES384},
                      GeneratedToken{v::kEs512Token, "ec-P-521", Algorithm::ES512},
                      GeneratedToken{v::kEdDsaToken, "ed25519", Algorithm::EdDSA}),
    [](const auto& info) { return std::string(algorithm_name(info.param.alg)); });

TEST(AsymmetricTokens, EcdsaSignatureOfTheWrongLengthIsBadSignature) {
    KeySet keys = KeySet::from_jwks(all_generated_keys());
    // openssl's own DER output: a valid signature, but not in JWS form.
    EXPECT_TRUE(Refused(Refusal::BadSignature, v::kEs256DerSignatureToken, keys));
    // Raw r||s one byte short or long, and a P-256 signature presented to the P-384 key.
    Compact parts = split(v::kEs256Token);
    std::string signature = decoded(parts.signature);
    for (const std::string& wrong : {signature.substr(0, 63), std::string(1, '\0') + signature, signature + signature}) {
        parts.signature = base64url_encode(wrong);
        EXPECT_TRUE(Refused(Refusal::BadSignature, parts.str(), keys)) << wrong.size();
    }
    Compact p384 = split(v::kEs384Token);
    p384.signature = base64url_encode(signature);
    EXPECT_TRUE(Refused(Refusal::BadSignature, p384.str(), keys));
}

TEST(AsymmetricTokens, SignatureByAnotherKeyIsBadSignature) {
    KeySet keys = KeySet::from_jwks(all_generated_keys());
    EXPECT_TRUE(Refused(Refusal::BadSignature, v::kEs256OtherKeyToken, keys));
    // The RFC 7515 key is a different RSA key: its JWKS refuses our openssl-made RS256 token.
    KeySet rfc_keys = KeySet::from_jwks(jwks({rsa_jwk("rsa-RS256", "RS256", kRfc7515RsaN, "AQAB")}));
    EXPECT_TRUE(Refused(Refusal::BadSignature, v::kRs256Token, rfc_keys));
}

TEST(AsymmetricTokens, PssSaltMustBeTheHashLength) {
    // RFC 7518 3.5: salt length = hash length. openssl's "max" salt (222 bytes here) is refused.
    KeySet keys = KeySet::from_jwks(all_generated_keys());
    EXPECT_NO_THROW(verify_at(v::kPs256Token, keys));
    EXPECT_TRUE(Refused(Refusal::BadSignature, v::kPs256MaxSaltToken, keys));
}

TEST(AsymmetricTokens, RsaSignatureUnderTheOtherPaddingIsRefused) {
    // The same RSA key, the same hash: PKCS#1 v1.5 and PSS signatures do not stand in for each other.
    KeySet swapped = KeySet::from_jwks(jwks({rsa_jwk("rsa-RS256", "PS256"), rsa_jwk("rsa-PS256", "RS256")}));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, v::kRs256Token, swapped));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, v::kPs256Token, swapped));
    // Headers rewritten to agree with the keys: now the signatures themselves must fail.
    Compact rs = split(v::kRs256Token), ps = split(v::kPs256Token);
    rs.header = base64url_encode(R"({"alg":"PS256","kid":"rsa-RS256"})");
    ps.header = base64url_encode(R"({"alg":"RS256","kid":"rsa-PS256"})");
    EXPECT_TRUE(Refused(Refusal::BadSignature, rs.str(), swapped));
    EXPECT_TRUE(Refused(Refusal::BadSignature, ps.str(), swapped));
    // And at the key level.
    RsaKey pss("", Algorithm::PS256, decoded(v::kRsaN), decoded(v::kRsaE));
    RsaKey pkcs1("", Algorithm::RS256, decoded(v::kRsaN), decoded(v::kRsaE));
    EXPECT_TRUE(pkcs1.verify(signing_input_of(v::kRs256Token), decoded(split(v::kRs256Token).signature)));
    EXPECT_FALSE(pss.verify(signing_input_of(v::kRs256Token), decoded(split(v::kRs256Token).signature)));
    EXPECT_TRUE(pss.verify(signing_input_of(v::kPs256Token), decoded(split(v::kPs256Token).signature)));
    EXPECT_FALSE(pkcs1.verify(signing_input_of(v::kPs256Token), decoded(split(v::kPs256Token).signature)));
}

// ---- Algorithm confusion ---------------------------------------------------------------------------

TEST(AsymmetricTokens, HmacForgedWithThePublicKeyIsAlgorithmMismatch) {
    // The classic attack: take the RSA public key's bytes (PEM, DER modulus...) as an HMAC secret,
    // MAC a token and call it HS256. The key named by kid is pinned to RS256, so it never gets as
    // far as a MAC check, whichever bytes were used.
    KeySet keys = KeySet::from_jwks(jwks({rsa_jwk("rsa-RS256", "RS256")}));
    const std::string payload = Json::parse(v::kClaims).dump();
    const std::pair<Algorithm, const char*> forms[] = {{Algorithm::HS256, R"({"alg":"HS256","kid":"rsa-RS256"})"},
                                                       {Algorithm::HS256, R"({"alg":"HS256"})"},
                                                       {Algorithm::HS512, R"({"alg":"HS512","kid":"rsa-RS256","typ":"JWT"})"}};
    for (const std::string& secret : {std::string(v::kRsaPublicPem), decoded(v::kRsaN), std::string(v::kRsaN)}) {
        for (const auto& [mac_alg, header] : forms) {
            HmacKey attacker("rsa-RS256", mac_alg, secret);
            std::string forged = raw_token(header, payload, attacker);
            // The forgery is a genuine MAC under the public key's bytes...
            ASSERT_TRUE(attacker.verify(signing_input_of(forged), decoded(split(forged).signature)));
            // ...and is refused for its algorithm before any MAC or signature check.
            EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, forged, keys)) << header;
        }
    }
    // The RSA key itself cannot be used as a MAC key either: it cannot sign, and sign_token says so.
    EXPECT_FALSE(keys.find(nullptr)->can_sign());
    EXPECT_THROW(sign_token(payload, keys, nullptr), InvalidArgument);
}

TEST(AsymmetricTokens, KeyWithoutAlgIsPinnedAllTheSame) {
    // An alg-less RSA key is RS256 only (Entra ID style): a PS256 or HS256 token naming it is refused.
    KeySet keys = KeySet::from_jwks(jwks({rsa_jwk("rsa-PS256", ""), rsa_jwk("rsa-RS256", "")}));
    for (const auto& key : keys.keys()) EXPECT_EQ(key->algorithm(), Algorithm::RS256) << key->kid();
    EXPECT_NO_THROW(verify_at(v::kRs256Token, keys));
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, v::kPs256Token, keys));
    // Alg-less EC and OKP keys take their curve's alg, and nothing else.
    KeySet curves = KeySet::from_jwks(jwks({ec_jwk("ec-P-256", "", "P-256", v::kP256X, v::kP256Y),
                                            ec_jwk("ec-P-384", "", "P-384", v::kP384X, v::kP384Y),
                                            ec_jwk("ec-P-521", "", "P-521", v::kP521X, v::kP521Y),
                                            okp_jwk("ed25519", "")}));
    EXPECT_EQ(verify_at(v::kEs256Token, curves).alg, Algorithm::ES256);
    EXPECT_EQ(verify_at(v::kEs384Token, curves).alg, Algorithm::ES384);
    EXPECT_EQ(verify_at(v::kEs512Token, curves).alg, Algorithm::ES512);
    EXPECT_EQ(verify_at(v::kEdDsaToken, curves).alg, Algorithm::EdDSA);
    Compact es = split(v::kEs256Token);
    es.header = base64url_encode(R"({"alg":"ES384","kid":"ec-P-256"})");
    EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, es.str(), curves));
}

TEST(AsymmetricTokens, KidNamingAKeyOfAnotherTypeIsMismatch) {
    KeySet keys = KeySet::from_jwks(all_generated_keys());
    Compact es = split(v::kEs256Token);
    for (const char* kid : {"rsa-RS256", "ec-P-384", "ed25519"}) {
        es.header = base64url_encode(Json{{"alg", "ES256"}, {"kid", kid}}.dump());
        EXPECT_TRUE(Refused(Refusal::AlgorithmMismatch, es.str(), keys)) << kid;
    }
}

// ---- JWKS documents as identity providers publish them ---------------------------------------------

TEST(PublishedJwks, EntraIdShapeLoadsWithRs256) {
    // Entra ID (Azure AD) v2 keys: no "alg", plus x5t, x5c, issuer, cloud_instance_name.
    Json key = rsa_jwk("rsa-RS256", "");
    key["use"] = "sig";
    key["x5t"] = v::kRsaX5t;
    key["x5c"] = Json::array({v::kRsaX5c});
    key["cloud_instance_name"] = "microsoftonline.com";
    key["issuer"] = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0";
    Json other = rsa_jwk("other", "", kRfc7515RsaN, "AQAB");
    other["use"] = "sig";
    KeySet keys = KeySet::from_jwks(jwks({other, key}));
    ASSERT_EQ(keys.size(), 2u);
    VerifiedToken result = verify_at(v::kRs256Token, keys);
    EXPECT_EQ(result.alg, Algorithm::RS256);
    EXPECT_EQ(result.tenant.to_string(), v::kTenant);
}

TEST(PublishedJwks, Auth0ShapeLoads) {
    Json key = rsa_jwk("rsa-RS256", "RS256");
    key["use"] = "sig";
    key["x5t"] = v::kRsaX5t;
    key["x5c"] = Json::array({v::kRsaX5c});
    KeySet keys = KeySet::from_jwks(jwks({key}));
    EXPECT_EQ(verify_at(v::kRs256Token, keys).kid, "rsa-RS256");
}

TEST(PublishedJwks, KeycloakShapeSkipsTheEncryptionKey) {
    // Keycloak publishes an RSA-OAEP encryption key next to each signing key, and EC/OKP keys
    // when the realm has them.
    Json enc = rsa_jwk("enc-key", "RSA-OAEP");
    enc["use"] = "enc";
    enc["x5c"] = Json::array({v::kRsaX5c});
    enc["x5t"] = v::kRsaX5t;
    enc["x5t#S256"] = v::kRsaX5tS256;
    Json sig = rsa_jwk("rsa-RS256", "RS256");
    sig["use"] = "sig";
    sig["x5c"] = Json::array({v::kRsaX5c});
    sig["x5t"] = v::kRsaX5t;
    sig["x5t#S256"] = v::kRsaX5tS256;
    Json ec = ec_jwk("ec-P-256", "ES256", "P-256", v::kP256X, v::kP256Y);
    ec["use"] = "sig";
    Json ed = okp_jwk("ed25519", "EdDSA");
    ed["use"] = "sig";
    KeySet keys = KeySet::from_jwks(jwks({enc, sig, ec, ed}));
    EXPECT_EQ(keys.size(), 3u);
    std::string enc_kid = "enc-key";
    EXPECT_EQ(keys.find(&enc_kid), nullptr);
    EXPECT_NO_THROW(verify_at(v::kRs256Token, keys));
    EXPECT_NO_THROW(verify_at(v::kEs256Token, keys));
    EXPECT_NO_THROW(verify_at(v::kEdDsaToken, keys));
}

TEST(PublishedJwks, GoogleShapeLoads) {
    Json key = {{"e", v::kRsaE}, {"kty", "RSA"}, {"alg", "RS256"}, {"n", v::kRsaN}, {"use", "sig"}, {"kid", "rsa-RS256"}};
    EXPECT_NO_THROW(verify_at(v::kRs256Token, KeySet::from_jwks(jwks({key}))));
}

TEST(PublishedJwks, ExtraMembersAreIgnored) {
    Json key = ec_jwk("ec-P-256", "ES256", "P-256", v::kP256X, v::kP256Y);
    key["key_ops"] = Json::array({"verify"});
    key["ext"] = true;
    key["x5u"] = "https://example.com/cert";
    key["iat"] = 1700000000;
    EXPECT_NO_THROW(verify_at(v::kEs256Token, KeySet::from_jwks(jwks({key}))));
}

// ---- use: enc ---------------------------------------------------------------------------------------

TEST(EncryptionKeys, AreNotUsableForVerification) {
    Json enc = rsa_jwk("rsa-RS256", "RS256");
    enc["use"] = "enc";
    // Alongside a signing key: the enc key's kid is unknown.
    KeySet mixed = KeySet::from_jwks(jwks({enc, ec_jwk("ec-P-256", "ES256", "P-256", v::kP256X, v::kP256Y)}));
    EXPECT_EQ(mixed.size(), 1u);
    EXPECT_TRUE(Refused(Refusal::UnknownKey, v::kRs256Token, mixed));
    // Alone: no keys at all.
    KeySet alone = KeySet::from_jwks(jwks({enc}));
    EXPECT_TRUE(alone.empty());
    EXPECT_TRUE(Refused(Refusal::NoKeys, v::kRs256Token, alone));
}

TEST(EncryptionKeys, AreSkippedUnread) {
    // Whatever an enc key holds (unknown alg, no kid, even private members), it is not parsed.
    Json odd = {{"kty", "RSA"}, {"use", "enc"}, {"alg", "RSA-OAEP-256"}, {"n", "!!"}, {"d", "secret"}};
    Json oct = {{"kty", "oct"}, {"use", "enc"}, {"k", "c2hvcnQ"}};
    KeySet keys = KeySet::from_jwks(jwks({odd, oct, ec_jwk("ec-P-256", "ES256", "P-256", v::kP256X, v::kP256Y)}));
    EXPECT_EQ(keys.size(), 1u);
    // Only the keys that load count for "kid required when several keys".
    EXPECT_NO_THROW(KeySet::from_jwks(jwks({odd, ec_jwk("", "ES256", "P-256", v::kP256X, v::kP256Y)})));
    EXPECT_TRUE(JwksRefused(jwks({okp_jwk("", "EdDSA"), ec_jwk("ec", "ES256", "P-256", v::kP256X, v::kP256Y)})));
}

// ---- JWK refusals ----------------------------------------------------------------------------------

TEST(RsaJwk, ShortKeysRefused) {
    EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", "RS256", v::kRsa1024N, v::kRsa1024E)})));
    EXPECT_NE(jwks_error(jwks({rsa_jwk("r", "RS256", v::kRsa1024N, v::kRsa1024E)})).find("2048"), std::string::npos);
    EXPECT_THROW(RsaKey("r", Algorithm::RS256, decoded(v::kRsa1024N), decoded(v::kRsa1024E)), KeySetError);
    // 2047 bits (an odd number just under the bound) is refused; 2048 and 8192 bits are the bounds.
    std::string n2047 = std::string(1, '\x7f') + std::string(254, '\xff') + std::string(1, '\x01');
    EXPECT_THROW(RsaKey("r", Algorithm::RS256, n2047, std::string("\x01\x00\x01", 3)), KeySetError);
    std::string n8192 = std::string(1, '\xc1') + std::string(1022, '\x5a') + std::string(1, '\x01');
    EXPECT_EQ(RsaKey("r", Algorithm::RS256, n8192, std::string("\x01\x00\x01", 3)).bits(), 8192);
    std::string n8193 = std::string(1, '\x01') + n8192;
    EXPECT_THROW(RsaKey("r", Algorithm::RS256, n8193, std::string("\x01\x00\x01", 3)), KeySetError);
}

TEST(RsaJwk, ExponentAndModulusChecked) {
    const std::string n = decoded(v::kRsaN);
    auto exponent_ok = [&](const std::string& e) {
        try {
            RsaKey("r", Algorithm::RS256, n, e);
            return true;
        } catch (const KeySetError&) {
            return false;
        }
    };
    EXPECT_TRUE(exponent_ok(std::string("\x01\x00\x01", 3)));
    EXPECT_TRUE(exponent_ok(std::string("\x00\x00\x01\x00\x01", 5)));  // leading zeros tolerated
    EXPECT_TRUE(exponent_ok("\x03"));
    EXPECT_TRUE(exponent_ok(std::string(7, '\xff') + "\x01"));          // 64 bits
    EXPECT_FALSE(exponent_ok("\x01"));                                  // e = 1: every message its own signature
    EXPECT_FALSE(exponent_ok(std::string("\x00\x01", 2)));
    EXPECT_FALSE(exponent_ok("\x02"));                                  // even
    EXPECT_FALSE(exponent_ok(std::string("\x01\x00\x00", 3)));
    EXPECT_FALSE(exponent_ok(""));
    EXPECT_FALSE(exponent_ok(std::string(1, '\0')));
    EXPECT_FALSE(exponent_ok(std::string("\x01", 1) + std::string(7, '\0') + "\x01"));  // over 64 bits
    // An even modulus is no RSA modulus.
    std::string even = n;
    even.back() = static_cast<char>(even.back() & ~1);
    EXPECT_THROW(RsaKey("r", Algorithm::RS256, even, std::string("\x01\x00\x01", 3)), KeySetError);
    EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", "RS256", v::kRsaN, "AQ")})));
    EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", "RS256", v::kRsaN, "")})));
}

TEST(RsaJwk, LeadingZeroInModulusIsTolerated) {
    // RFC 7518 6.3.1.1 asks for the minimal encoding; a producer that adds a zero byte is not
    // refused (the key is the same number).
    std::string padded = base64url_encode(std::string(1, '\0') + decoded(v::kRsaN));
    KeySet keys = KeySet::from_jwks(jwks({rsa_jwk("rsa-RS256", "RS256", padded)}));
    EXPECT_NO_THROW(verify_at(v::kRs256Token, keys));
}

TEST(RsaJwk, MembersRequiredAndWellFormed) {
    Json no_n = rsa_jwk("r", "RS256");
    no_n.erase("n");
    Json no_e = rsa_jwk("r", "RS256");
    no_e.erase("e");
    EXPECT_TRUE(JwksRefused(jwks({no_n})));
    EXPECT_TRUE(JwksRefused(jwks({no_e})));
    EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", "RS256", std::string(v::kRsaN) + "=")})));
    EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", "RS256", "+" + std::string(v::kRsaN))})));
    Json numeric = rsa_jwk("r", "RS256");
    numeric["e"] = 65537;
    EXPECT_TRUE(JwksRefused(jwks({numeric})));
    Json kty_case = rsa_jwk("r", "RS256");
    kty_case["kty"] = "rsa";
    EXPECT_TRUE(JwksRefused(jwks({kty_case})));
}

TEST(RsaJwk, AlgMustBeRsa) {
    for (const char* alg : {"HS256", "HS512", "ES256", "EdDSA", "RSA-OAEP", "RSA1_5", "none", "rs256"})
        EXPECT_TRUE(JwksRefused(jwks({rsa_jwk("r", alg)}))) << alg;
    for (Algorithm alg : {Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA})
        EXPECT_THROW(RsaKey("r", alg, decoded(v::kRsaN), decoded(v::kRsaE)), KeySetError) << algorithm_name(alg);
}

TEST(EcJwk, PointNotOnTheCurveRefused) {
    const std::string x = decoded(v::kP256X), y = decoded(v::kP256Y);
    for (size_t bit : {size_t{0}, size_t{100}, size_t{255}}) {
        EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", x, flip_bit(y, bit)), KeySetError) << bit;
        EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES256", "P-256", v::kP256X, base64url_encode(flip_bit(y, bit)))})));
    }
    EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", std::string(32, '\0'), std::string(32, '\0')), KeySetError);
    // x = p, the field prime: outside the field.
    std::string p = "\xff\xff\xff\xff" + std::string("\x00\x00\x00\x01", 4) + std::string(12, '\0') + std::string(12, '\xff');
    ASSERT_EQ(p.size(), 32u);
    EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", p, y), KeySetError);
    // A P-256 point, zero-extended to P-384's size, is not a P-384 point.
    std::string x384 = std::string(16, '\0') + x, y384 = std::string(16, '\0') + y;
    EXPECT_THROW(EcKey("e", Algorithm::ES384, "P-384", x384, y384), KeySetError);
    try {
        EcKey("e", Algorithm::ES256, "P-256", x, flip_bit(y, 0));
    } catch (const KeySetError& e) {
        EXPECT_NE(std::string(e.what()).find("curve"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(EcJwk, CoordinatesMustBeTheCurveSize) {
    const std::string x = decoded(v::kP256X), y = decoded(v::kP256Y);
    EXPECT_NO_THROW(EcKey("e", Algorithm::ES256, "P-256", x, y));
    EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", x.substr(1), y), KeySetError);
    EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", x, std::string(1, '\0') + y), KeySetError);
    EXPECT_THROW(EcKey("e", Algorithm::ES256, "P-256", "", ""), KeySetError);
    // P-521 coordinates are 66 bytes, even when the top byte is zero (a common producer slip).
    const std::string x521 = decoded(v::kP521X), y521 = decoded(v::kP521Y);
    ASSERT_EQ(x521.size(), 66u);
    EXPECT_NO_THROW(EcKey("e", Algorithm::ES512, "P-521", x521, y521));
    EXPECT_THROW(EcKey("e", Algorithm::ES512, "P-521", x521.substr(1), y521), KeySetError);
    EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES256", "P-256", v::kP256X, "AA")})));
    EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES384", "P-384", v::kP256X, v::kP256Y)})));
}

TEST(EcJwk, CurveAndAlgMustAgree) {
    EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES384", "P-256", v::kP256X, v::kP256Y)})));
    EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES256", "P-384", v::kP384X, v::kP384Y)})));
    EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "ES512", "P-384", v::kP384X, v::kP384Y)})));
    for (const char* alg : {"RS256", "PS256", "HS256", "EdDSA", "ES256K"})
        EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", alg, "P-256", v::kP256X, v::kP256Y)}))) << alg;
    for (const char* crv : {"secp256k1", "p-256", "P256", "Ed25519", ""})
        EXPECT_TRUE(JwksRefused(jwks({ec_jwk("e", "", crv, v::kP256X, v::kP256Y)}))) << crv;
    Json no_crv = ec_jwk("e", "ES256", "P-256", v::kP256X, v::kP256Y);
    no_crv.erase("crv");
    EXPECT_TRUE(JwksRefused(jwks({no_crv})));
    Json no_y = ec_jwk("e", "ES256", "P-256", v::kP256X, v::kP256Y);
    no_y.erase("y");
    EXPECT_TRUE(JwksRefused(jwks({no_y})));
    for (Algorithm alg : {Algorithm::RS256, Algorithm::HS256, Algorithm::EdDSA})
        EXPECT_THROW(EcKey("e", alg, "P-256", decoded(v::kP256X), decoded(v::kP256Y)), KeySetError);
}

TEST(OkpJwk, OnlyEd25519) {
    EXPECT_NO_THROW(KeySet::from_jwks(jwks({okp_jwk("o", "EdDSA")})));
    for (const char* crv : {"Ed448", "X25519", "X448", "ed25519", "P-256"}) {
        Json key = okp_jwk("o", "EdDSA");
        key["crv"] = crv;
        EXPECT_TRUE(JwksRefused(jwks({key}))) << crv;
    }
    for (const char* alg : {"ES256", "HS256", "RS256", "Ed25519"})
        EXPECT_TRUE(JwksRefused(jwks({okp_jwk("o", alg)}))) << alg;
    const std::string x = decoded(v::kEd25519X);
    EXPECT_THROW(OkpKey("o", Algorithm::EdDSA, "Ed25519", x.substr(1)), KeySetError);
    EXPECT_THROW(OkpKey("o", Algorithm::EdDSA, "Ed25519", x + std::string(1, '\0')), KeySetError);
    EXPECT_THROW(OkpKey("o", Algorithm::ES256, "Ed25519", x), KeySetError);
    Json no_x = okp_jwk("o", "EdDSA");
    no_x.erase("x");
    EXPECT_TRUE(JwksRefused(jwks({no_x})));
}

TEST(PrivateMembers, RefusedWithoutEchoingThem) {
    const std::string secret = "c2VjcmV0LXByaXZhdGUtbWF0ZXJpYWw";
    auto with = [&](Json key, const char* member) {
        key[member] = secret;
        return jwks({key});
    };
    for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth"}) {
        std::string doc = with(rsa_jwk("r", "RS256"), member);
        EXPECT_TRUE(JwksRefused(doc, secret)) << member;
        EXPECT_NE(jwks_error(doc).find("private key material"), std::string::npos) << jwks_error(doc);
    }
    EXPECT_TRUE(JwksRefused(with(ec_jwk("e", "ES256", "P-256", v::kP256X, v::kP256Y), "d"), secret));
    EXPECT_TRUE(JwksRefused(with(okp_jwk("o", "EdDSA"), "d"), secret));
    // An HMAC secret is private by nature: "k" is what an oct key is.
    EXPECT_NO_THROW(KeySet::from_jwks(jwks_of({oct_jwk("h", "HS256", secret_bytes(32))})));
}

TEST(MixedKeySet, HmacAndPublicKeysSideBySide) {
    Json keys = Json::parse(all_generated_keys());
    keys["keys"].push_back(Json::parse(oct_jwk("hmac", "HS256", secret_bytes(32, 5))));
    KeySet set = KeySet::from_jwks(keys.dump());
    EXPECT_EQ(set.size(), 11u);
    std::string hmac_kid = "hmac";
    std::string minted = sign_token(v::kClaims, set, &hmac_kid);
    EXPECT_EQ(verify_at(minted, set).alg, Algorithm::HS256);
    EXPECT_EQ(verify_at(v::kEdDsaToken, set).alg, Algorithm::EdDSA);
    std::string rsa_kid = "rsa-RS256";
    EXPECT_THROW(sign_token(v::kClaims, set, &rsa_kid), InvalidArgument);
}

// ---- Key objects -----------------------------------------------------------------------------------

std::vector<std::shared_ptr<const VerificationKey>> one_of_each() {
    return {
        std::make_shared<RsaKey>("rsa", Algorithm::RS256, decoded(v::kRsaN), decoded(v::kRsaE)),
        std::make_shared<RsaKey>("pss", Algorithm::PS512, decoded(v::kRsaN), decoded(v::kRsaE)),
        std::make_shared<EcKey>("p256", Algorithm::ES256, "P-256", decoded(v::kP256X), decoded(v::kP256Y)),
        std::make_shared<EcKey>("p384", Algorithm::ES384, "P-384", decoded(v::kP384X), decoded(v::kP384Y)),
        std::make_shared<EcKey>("p521", Algorithm::ES512, "P-521", decoded(v::kP521X), decoded(v::kP521Y)),
        std::make_shared<OkpKey>("ed", Algorithm::EdDSA, "Ed25519", decoded(v::kEd25519X)),
    };
}

TEST(PublicKeys, CannotSign) {
    for (const auto& key : one_of_each()) {
        EXPECT_FALSE(key->can_sign()) << key->kid();
        EXPECT_THROW(key->sign("x"), InvalidArgument) << key->kid();
    }
}

TEST(PublicKeys, GarbageSignaturesAreFalseNeverThrow) {
    std::mt19937 rng(20240501);
    for (const auto& key : one_of_each()) {
        for (size_t length : {0, 1, 63, 64, 65, 96, 131, 132, 255, 256, 257, 512, 1000}) {
            for (int round = 0; round < 4; ++round) {
                std::string signature(length, '\0');
                for (auto& c : signature) c = static_cast<char>(rng());
                bool verified = true;
                EXPECT_NO_THROW(verified = key->verify("header.payload", signature)) << key->kid() << " " << length;
                EXPECT_FALSE(verified) << key->kid() << " " << length;
            }
            EXPECT_FALSE(key->verify("header.payload", std::string(length, '\0'))) << key->kid();
            EXPECT_FALSE(key->verify("header.payload", std::string(length, '\xff'))) << key->kid();
            EXPECT_FALSE(key->verify("", std::string(length, '\xff'))) << key->kid();
        }
        EXPECT_EQ(ERR_peek_error(), 0u) << key->kid();
    }
}

TEST(PublicKeys, EcdsaScalarsOutOfRangeAreFalse) {
    // r or s zero, or at least the group order: OpenSSL must refuse them, not wrap them.
    EcKey key("", Algorithm::ES256, "P-256", decoded(kRfc7515P256X), decoded(kRfc7515P256Y));
    std::string input = std::string("eyJhbGciOiJFUzI1NiJ9.") + kRfc7515Payload;
    std::string good = decoded(kRfc7515Es256Signature);
    std::string r = good.substr(0, 32), s = good.substr(32);
    std::string zero(32, '\0'), ones(32, '\xff');
    for (const std::string& bad : {zero + s, r + zero, ones + s, r + ones, zero + zero})
        EXPECT_FALSE(key.verify(input, bad));
    EXPECT_TRUE(key.verify(input, good));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
