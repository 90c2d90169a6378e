#include "keys.hpp"

#include "base64url.hpp"
#include "refusal.hpp"
#include "strict_json.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <new>
#include <optional>

namespace tenant_guard::core {

std::string VerificationKey::sign(std::string_view) const {
    throw InvalidArgument("key \"" + kid_ + "\" cannot sign");
}

namespace {

const char* hmac_digest_name(Algorithm alg) {
    switch (alg) {
        case Algorithm::HS256: return "SHA256";
        case Algorithm::HS384: return "SHA384";
        case Algorithm::HS512: return "SHA512";
        default: return nullptr;
    }
}

EVP_MAC* hmac_algorithm() {
    // Fetched once per process: fetching is a provider lookup, far dearer than the MAC itself.
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) throw std::runtime_error("OpenSSL HMAC is unavailable");
    return mac;
}

struct MacContextDeleter {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacContext = std::unique_ptr<EVP_MAC_CTX, MacContextDeleter>;

}  // namespace

struct HmacKey::Impl {
    MacContext keyed;
    size_t digest_size = 0;
};

size_t HmacKey::digest_size(Algorithm alg) {
    switch (alg) {
        case Algorithm::HS256: return 32;
        case Algorithm::HS384: return 48;
        case Algorithm::HS512: return 64;
        default: return 0;
    }
}

HmacKey::HmacKey(std::string kid, Algorithm alg, std::string_view secret)
    : VerificationKey(std::move(kid), alg), impl_(std::make_unique<Impl>()) {
    const char* digest = hmac_digest_name(alg);
    if (digest == nullptr) throw KeySetError("HMAC key with a non-HMAC algorithm");
    // RFC 7518 section 3.2: a key at least as long as the hash output.
    if (secret.size() < digest_size(alg)) throw KeySetError("HMAC key is shorter than its hash output");
    impl_->digest_size = digest_size(alg);
    impl_->keyed.reset(EVP_MAC_CTX_new(hmac_algorithm()));
    if (!impl_->keyed) throw std::bad_alloc();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(impl_->keyed.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     params) != 1)
        throw KeySetError("OpenSSL refused the HMAC key");
}

HmacKey::~HmacKey() = default;

std::string HmacKey::mac(std::string_view data) const {
    MacContext ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
    if (!ctx) throw std::bad_alloc();
    std::string out(impl_->digest_size, '\0');
    size_t written = 0;
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
        EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written, out.size()) != 1 ||
        written != out.size())
        throw std::runtime_error("OpenSSL HMAC computation failed");
    return out;
}

bool HmacKey::verify(std::string_view signing_input, std::string_view signature) const {
    if (signature.size() != impl_->digest_size) return false;
    std::string expected = mac(signing_input);
    bool equal = CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
    OPENSSL_cleanse(expected.data(), expected.size());
    return equal;
}

std::string HmacKey::sign(std::string_view signing_input) const { return mac(signing_input); }

void KeySet::add(std::shared_ptr<const VerificationKey> key) {
    for (const auto& existing : keys_)
        if (existing->kid() == key->kid()) throw KeySetError("duplicate kid \"" + key->kid() + "\"");
    keys_.push_back(std::move(key));
}

const VerificationKey* KeySet::find(const std::string* kid) const {
    if (kid == nullptr) return keys_.size() == 1 ? keys_.front().get() : nullptr;
    for (const auto& key : keys_)
        if (key->kid() == *kid) return key.get();
    return nullptr;
}

namespace {

std::string string_member(const Json& key, const char* name, size_t index, bool required) {
    auto it = key.find(name);
    if (it == key.end()) {
        if (required) throw KeySetError("key " + std::to_string(index) + " has no \"" + name + "\"");
        return {};
    }
    if (!it->is_string()) throw KeySetError("key " + std::to_string(index) + ": \"" + name + "\" is not a string");
    return it->get<std::string>();
}

std::string where(size_t index) { return "key " + std::to_string(index); }

// A base64url member, decoded. Errors name the member, never its value.
std::string bytes_member(const Json& key, const char* name, size_t index) {
    auto bytes = base64url_decode(string_member(key, name, index, true));
    if (!bytes) throw KeySetError(where(index) + ": \"" + name + "\" is not base64url");
    return std::move(*bytes);
}

// Members only a private JWK has (RFC 7518 6.2.2, 6.3.2; RFC 8037 2). A JWKS is published: one that
// carries private keys has leaked them, and loading it would hide that.
constexpr const char* kPrivateMembers[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};

// Runs a key constructor, prefixing the KeySetError it may throw with which key it was.
template <typename MakeKey>
std::shared_ptr<const VerificationKey> naming_key(size_t index, MakeKey&& make) {
    try {
        return make();
    } catch (const KeySetError& e) {
        throw KeySetError(where(index) + ": " + e.what());
    }
}

bool is_rsa_alg(Algorithm alg) {
    switch (alg) {
        case Algorithm::RS256: case Algorithm::RS384: case Algorithm::RS512:
        case Algorithm::PS256: case Algorithm::PS384: case Algorithm::PS512: return true;
        default: return false;
    }
}

// The key a JWK describes, pinned to one algorithm. "alg" must suit "kty" (an RSA key is never an
// HMAC secret, whatever a token's header says). Where "alg" is absent:
//   oct: refused (a secret fits every HS alg; the JWK must choose);
//   RSA: RS256. Entra ID (Azure AD) publishes its RSA keys without "alg" and signs RS256; a key
//        pinned to RS256 still refuses PS256/RS512 tokens, so nothing is left to the header;
//   EC:  the curve's one alg (RFC 7518 3.4: P-256 -> ES256, P-384 -> ES384, P-521 -> ES512);
//   OKP: EdDSA, the only alg for Ed25519 (RFC 8037 3.1).
// Other members (x5c, x5t, key_ops, ext, issuer...) are ignored; x5c is not checked against n/e.
std::shared_ptr<const VerificationKey> key_from_jwk(const Json& jwk, size_t index, bool kid_required) {
    std::string kty = string_member(jwk, "kty", index, true);
    std::string kid = string_member(jwk, "kid", index, kid_required);
    std::optional<Algorithm> alg;
    if (jwk.contains("alg")) {
        alg = algorithm_from_name(string_member(jwk, "alg", index, true));
        if (!alg) throw KeySetError(where(index) + " has an unknown alg");
    }

    if (kty == "oct") {
        if (!alg) throw KeySetError(where(index) + " has no \"alg\"");
        if (!is_hmac(*alg)) throw KeySetError(where(index) + ": kty \"oct\" needs an HS alg");
        auto secret = base64url_decode(string_member(jwk, "k", index, true));
        if (!secret) throw KeySetError(where(index) + ": \"k\" is not base64url");
        auto key = std::make_shared<HmacKey>(kid, *alg, *secret);
        OPENSSL_cleanse(secret->data(), secret->size());
        return key;
    }
    if (kty != "RSA" && kty != "EC" && kty != "OKP")
        throw KeySetError(where(index) + ": kty \"" + kty + "\" is not supported");
    for (const char* member : kPrivateMembers)
        if (jwk.contains(member))
            throw KeySetError(where(index) + ": private key material in the JWKS (\"" + member + "\")");

    if (kty == "RSA") {
        Algorithm rsa_alg = alg.value_or(Algorithm::RS256);
        if (!is_rsa_alg(rsa_alg)) throw KeySetError(where(index) + ": kty \"RSA\" needs an RS or PS alg");
        std::string n = bytes_member(jwk, "n", index), e = bytes_member(jwk, "e", index);
        return naming_key(index, [&] { return std::make_shared<RsaKey>(kid, rsa_alg, n, e); });
    }
    std::string crv = string_member(jwk, "crv", index, true);
    if (kty == "EC") {
        if (!alg) {
            for (Algorithm candidate : {Algorithm::ES256, Algorithm::ES384, Algorithm::ES512})
                if (crv == EcKey::curve_for(candidate)) alg = candidate;
            if (!alg) throw KeySetError(where(index) + ": EC curve is not supported (P-256, P-384, P-521)");
        }
        if (EcKey::curve_for(*alg) == nullptr) throw KeySetError(where(index) + ": kty \"EC\" needs an ES alg");
        std::string x = bytes_member(jwk, "x", index), y = bytes_member(jwk, "y", index);
        return naming_key(index, [&] { return std::make_shared<EcKey>(kid, *alg, crv, x, y); });
    }
    Algorithm okp_alg = alg.value_or(Algorithm::EdDSA);
    if (okp_alg != Algorithm::EdDSA) throw KeySetError(where(index) + ": kty \"OKP\" needs alg EdDSA");
    std::string x = bytes_member(jwk, "x", index);
    return naming_key(index, [&] { return std::make_shared<OkpKey>(kid, okp_alg, crv, x); });
}

}  // namespace

KeySet KeySet::from_jwks(std::string_view document) {
    if (document.size() > kMaxDocumentBytes) throw KeySetError("JWKS document is larger than 1 MiB");
    auto parsed = parse_strict_json(document);
    if (!parsed || !parsed->is_object()) throw KeySetError("JWKS document is not a JSON object");
    auto keys = parsed->find("keys");
    if (keys == parsed->end() || !keys->is_array()) throw KeySetError("JWKS document has no \"keys\" array");
    if (keys->size() > kMaxKeys) throw KeySetError("JWKS document has more than 256 keys");
    // Encryption keys share JWKS documents with signing keys (Keycloak publishes one of each): a
    // key with "use": "enc" is skipped unread. "sig" or no "use" makes a key one to load; any
    // other "use" is refused rather than guessed at.
    std::vector<size_t> signing_keys;
    for (size_t i = 0; i < keys->size(); ++i) {
        const Json& jwk = (*keys)[i];
        if (!jwk.is_object()) throw KeySetError(where(i) + " is not an object");
        std::string use = string_member(jwk, "use", i, false);
        if (use == "enc") continue;
        if (!use.empty() && use != "sig") throw KeySetError(where(i) + " is not a signing key (use)");
        signing_keys.push_back(i);
    }
    KeySet set;
    const bool kid_required = signing_keys.size() > 1;
    for (size_t i : signing_keys) set.add(key_from_jwk((*keys)[i], i, kid_required));
    return set;
}

}  // namespace tenant_guard::core
