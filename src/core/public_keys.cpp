// Public verification keys (RSA, EC, OKP) through OpenSSL 3 EVP only: each key is built once from
// its JWK members with EVP_PKEY_fromdata, and each signature is checked with a one-shot
// EVP_DigestVerify. No low-level RSA_* / EC_KEY_* calls (deprecated in OpenSSL 3).
#include "keys.hpp"

#include "refusal.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <new>

namespace tenant_guard::core {

namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct PkeyContextDeleter {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, PkeyContextDeleter>;

struct DigestContextDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

struct BignumDeleter {
    void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Bignum = std::unique_ptr<BIGNUM, BignumDeleter>;

struct ParamBuilderDeleter {
    void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
using ParamBuilder = std::unique_ptr<OSSL_PARAM_BLD, ParamBuilderDeleter>;

struct ParamsDeleter {
    void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
using Params = std::unique_ptr<OSSL_PARAM, ParamsDeleter>;

struct EcdsaSignatureDeleter {
    void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using EcdsaSignature = std::unique_ptr<ECDSA_SIG, EcdsaSignatureDeleter>;

const unsigned char* bytes_of(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

// A failed load leaves OpenSSL's (per-thread) error queue behind; it must not outlive the call,
// or a later, unrelated OpenSSL caller in the same backend could pick it up.
[[noreturn]] void refuse_key(const char* why) {
    ERR_clear_error();
    throw KeySetError(why);
}

[[noreturn]] void out_of_memory() {
    ERR_clear_error();
    throw std::bad_alloc();
}

// A public key of OpenSSL key type `type` ("RSA", "EC", "ED25519") from OSSL_PARAMs; `why` is the
// KeySetError text when OpenSSL refuses them.
Pkey public_key_from(const char* type, const OSSL_PARAM* params, const char* why) {
    PkeyContext ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) != 1 ||
        key == nullptr)
        refuse_key(why);
    return Pkey(key);
}

// One-shot verification. digest nullptr: the key type fixes the hash (EdDSA). True only when
// OpenSSL says the signature verifies; every failure, of any kind, is false.
bool digest_verify(EVP_PKEY* key, const char* digest, const OSSL_PARAM* params, std::string_view signing_input,
                   std::string_view signature) {
    DigestContext ctx(EVP_MD_CTX_new());
    const bool valid =
        ctx && EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key, params) == 1 &&
        EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(signing_input),
                         signing_input.size()) == 1;
    ERR_clear_error();
    return valid;
}

std::string_view without_leading_zeros(std::string_view bytes) {
    while (!bytes.empty() && bytes.front() == '\0') bytes.remove_prefix(1);
    return bytes;
}

// Bits in a big-endian unsigned integer without leading zero bytes.
int bit_length(std::string_view integer) {
    if (integer.empty()) return 0;
    int top_bits = 0;
    for (auto top = static_cast<unsigned char>(integer.front()); top != 0; top >>= 1) ++top_bits;
    return static_cast<int>((integer.size() - 1) * 8) + top_bits;
}

const char* sha2_name(Algorithm alg) {
    switch (alg) {
        case Algorithm::RS256: case Algorithm::PS256: case Algorithm::ES256: return "SHA256";
        case Algorithm::RS384: case Algorithm::PS384: case Algorithm::ES384: return "SHA384";
        case Algorithm::RS512: case Algorithm::PS512: case Algorithm::ES512: return "SHA512";
        default: return nullptr;
    }
}

bool is_pss(Algorithm alg) { return alg == Algorithm::PS256 || alg == Algorithm::PS384 || alg == Algorithm::PS512; }

bool is_rsa(Algorithm alg) {
    return is_pss(alg) || alg == Algorithm::RS256 || alg == Algorithm::RS384 || alg == Algorithm::RS512;
}

struct EcCurve {
    Algorithm alg;
    const char* jwk_name;          // JWK "crv" (RFC 7518 6.2.1.1)
    const char* group;             // OpenSSL group name
    size_t coordinate_bytes;       // x, y, and each of r and s in a signature
};

constexpr EcCurve kCurves[] = {
    {Algorithm::ES256, "P-256", "prime256v1", 32},
    {Algorithm::ES384, "P-384", "secp384r1", 48},
    {Algorithm::ES512, "P-521", "secp521r1", 66},
};

const EcCurve* curve_of(Algorithm alg) {
    for (const auto& curve : kCurves)
        if (curve.alg == alg) return &curve;
    return nullptr;
}

}  // namespace

// ---- RSA ---------------------------------------------------------------------------------------

struct RsaKey::Impl {
    Pkey key;
    const char* digest = nullptr;
    bool pss = false;
    size_t modulus_bytes = 0;
    int bits = 0;
};

RsaKey::RsaKey(std::string kid, Algorithm alg, std::string_view n, std::string_view e)
    : VerificationKey(std::move(kid), alg), impl_(std::make_unique<Impl>()) {
    if (!is_rsa(alg)) throw KeySetError("RSA key with a non-RSA algorithm");
    impl_->digest = sha2_name(alg);
    impl_->pss = is_pss(alg);

    n = without_leading_zeros(n);
    e = without_leading_zeros(e);
    impl_->bits = bit_length(n);
    if (impl_->bits < kMinBits) throw KeySetError("RSA key is shorter than 2048 bits");
    if (impl_->bits > kMaxBits) throw KeySetError("RSA key is longer than 8192 bits");
    if ((static_cast<unsigned char>(n.back()) & 1) == 0) throw KeySetError("RSA modulus is even");
    // e = 1 would make every message its own signature. OpenSSL itself refuses exponents over
    // 64 bits for large moduli; we refuse them for every size (issuers use 65537).
    if (e.empty() || e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1) == 0 || (e.size() == 1 && e[0] == 1))
        throw KeySetError("RSA public exponent is not an odd number from 3 to 2^64");

    Bignum modulus(BN_bin2bn(bytes_of(n), static_cast<int>(n.size()), nullptr));
    Bignum exponent(BN_bin2bn(bytes_of(e), static_cast<int>(e.size()), nullptr));
    ParamBuilder builder(OSSL_PARAM_BLD_new());
    if (!modulus || !exponent || !builder ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1)
        out_of_memory();
    Params params(OSSL_PARAM_BLD_to_param(builder.get()));
    if (!params) out_of_memory();
    impl_->key = public_key_from("RSA", params.get(), "OpenSSL refused the RSA key");
    impl_->modulus_bytes = static_cast<size_t>(EVP_PKEY_get_size(impl_->key.get()));
}

RsaKey::~RsaKey() = default;

int RsaKey::bits() const { return impl_->bits; }

bool RsaKey::verify(std::string_view signing_input, std::string_view signature) const {
    // RFC 8017 8.2.2 / 8.1.2: the signature is exactly as long as the modulus.
    if (signature.size() != impl_->modulus_bytes) return false;
    if (!impl_->pss) return digest_verify(impl_->key.get(), impl_->digest, nullptr, signing_input, signature);
    // RFC 7518 3.5: MGF1 with the signature's hash, and a salt exactly as long as that hash.
    const OSSL_PARAM pss[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, const_cast<char*>(OSSL_PKEY_RSA_PAD_MODE_PSS), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, const_cast<char*>(impl_->digest), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                         const_cast<char*>(OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST), 0),
        OSSL_PARAM_construct_end(),
    };
    return digest_verify(impl_->key.get(), impl_->digest, pss, signing_input, signature);
}

// ---- EC ----------------------------------------------------------------------------------------

struct EcKey::Impl {
    Pkey key;
    const EcCurve* curve = nullptr;
    const char* digest = nullptr;
};

const char* EcKey::curve_for(Algorithm alg) {
    const EcCurve* curve = curve_of(alg);
    return curve == nullptr ? nullptr : curve->jwk_name;
}

EcKey::EcKey(std::string kid, Algorithm alg, std::string_view crv, std::string_view x, std::string_view y)
    : VerificationKey(std::move(kid), alg), impl_(std::make_unique<Impl>()) {
    impl_->curve = curve_of(alg);
    if (impl_->curve == nullptr) throw KeySetError("EC key with a non-ECDSA algorithm");
    if (crv != impl_->curve->jwk_name) throw KeySetError("EC key's curve does not match its alg");
    impl_->digest = sha2_name(alg);
    const size_t size = impl_->curve->coordinate_bytes;
    // RFC 7518 6.2.1.2-3: each coordinate is the full, fixed-size octet string.
    if (x.size() != size || y.size() != size) throw KeySetError("EC key's x or y is not the curve's coordinate size");

    // SEC 1 2.3.3 uncompressed point: 0x04 || x || y. The import refuses a point off the curve.
    std::string point;
    point.reserve(1 + 2 * size);
    point.push_back('\x04');
    point.append(x);
    point.append(y);
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(impl_->curve->group), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end(),
    };
    const char* not_a_point = "EC key is not a valid point on its curve";
    impl_->key = public_key_from("EC", params, not_a_point);
    // Belt and braces: on the curve, not the point at infinity, of the group's order.
    PkeyContext check(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->key.get(), nullptr));
    if (!check) out_of_memory();
    if (EVP_PKEY_public_check(check.get()) != 1) refuse_key(not_a_point);
}

EcKey::~EcKey() = default;

bool EcKey::verify(std::string_view signing_input, std::string_view signature) const {
    // RFC 7518 3.4: JWS carries r || s, each the coordinate size; anything else (DER included) fails
    // before any conversion.
    const size_t size = impl_->curve->coordinate_bytes;
    if (signature.size() != 2 * size) return false;

    // OpenSSL verifies DER (SEC 1 ECDSA-Sig-Value): rebuild it from the two integers.
    EcdsaSignature sig(ECDSA_SIG_new());
    Bignum r(BN_bin2bn(bytes_of(signature), static_cast<int>(size), nullptr));
    Bignum s(BN_bin2bn(bytes_of(signature.substr(size)), static_cast<int>(size), nullptr));
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
        ERR_clear_error();
        return false;
    }
    r.release();  // owned by sig from here on
    s.release();
    const int der_size = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (der_size <= 0) {
        ERR_clear_error();
        return false;
    }
    std::string der(static_cast<size_t>(der_size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &out) != der_size) {
        ERR_clear_error();
        return false;
    }
    return digest_verify(impl_->key.get(), impl_->digest, nullptr, signing_input, der);
}

// ---- OKP (Ed25519) -------------------------------------------------------------------------------

struct OkpKey::Impl {
    Pkey key;
};

namespace {
constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;
}  // namespace

OkpKey::OkpKey(std::string kid, Algorithm alg, std::string_view crv, std::string_view x)
    : VerificationKey(std::move(kid), alg), impl_(std::make_unique<Impl>()) {
    if (alg != Algorithm::EdDSA) throw KeySetError("OKP key with a non-EdDSA algorithm");
    if (crv != "Ed25519") throw KeySetError("OKP key's curve is not supported (only Ed25519)");
    if (x.size() != kEd25519KeyBytes) throw KeySetError("Ed25519 key's x is not 32 bytes");
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(x.data()), x.size()),
        OSSL_PARAM_construct_end(),
    };
    impl_->key = public_key_from("ED25519", params, "OpenSSL refused the Ed25519 key");
}

OkpKey::~OkpKey() = default;

bool OkpKey::verify(std::string_view signing_input, std::string_view signature) const {
    if (signature.size() != kEd25519SignatureBytes) return false;
    // EdDSA hashes internally: no digest, and only the one-shot call (RFC 8032, PureEdDSA).
    return digest_verify(impl_->key.get(), nullptr, nullptr, signing_input, signature);
}

}  // namespace tenant_guard::core
