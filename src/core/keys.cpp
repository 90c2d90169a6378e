#include "keys.hpp"

#include "base64url.hpp"
#include "refusal.hpp"
#include "strict_json.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <new>

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

std::shared_ptr<const VerificationKey> key_from_jwk(const Json& jwk, size_t index, bool kid_required) {
    if (!jwk.is_object()) throw KeySetError("key " + std::to_string(index) + " is not an object");
    std::string kty = string_member(jwk, "kty", index, true);
    std::string kid = string_member(jwk, "kid", index, kid_required);
    std::string alg_name = string_member(jwk, "alg", index, true);
    std::string use = string_member(jwk, "use", index, false);
    if (!use.empty() && use != "sig") throw KeySetError("key " + std::to_string(index) + " is not a signing key (use)");
    auto alg = algorithm_from_name(alg_name);
    if (!alg) throw KeySetError("key " + std::to_string(index) + " has an unknown alg");

    if (kty == "oct") {
        if (!is_hmac(*alg)) throw KeySetError("key " + std::to_string(index) + ": kty \"oct\" needs an HS alg");
        auto secret = base64url_decode(string_member(jwk, "k", index, true));
        if (!secret) throw KeySetError("key " + std::to_string(index) + ": \"k\" is not base64url");
        auto key = std::make_shared<HmacKey>(kid, *alg, *secret);
        OPENSSL_cleanse(secret->data(), secret->size());
        return key;
    }
    throw KeySetError("key " + std::to_string(index) + ": kty \"" + kty + "\" is not supported");
}

}  // namespace

KeySet KeySet::from_jwks(std::string_view document) {
    if (document.size() > kMaxDocumentBytes) throw KeySetError("JWKS document is larger than 1 MiB");
    auto parsed = parse_strict_json(document);
    if (!parsed || !parsed->is_object()) throw KeySetError("JWKS document is not a JSON object");
    auto keys = parsed->find("keys");
    if (keys == parsed->end() || !keys->is_array()) throw KeySetError("JWKS document has no \"keys\" array");
    if (keys->size() > kMaxKeys) throw KeySetError("JWKS document has more than 256 keys");
    KeySet set;
    bool kid_required = keys->size() > 1;
    for (size_t i = 0; i < keys->size(); ++i) set.add(key_from_jwk((*keys)[i], i, kid_required));
    return set;
}

}  // namespace tenant_guard::core
