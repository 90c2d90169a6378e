#pragma once
#include "no_postgres.hpp"

#include "algorithm.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tenant_guard::core {

// One trusted key, pinned to one algorithm: HMAC secrets (HmacKey) and public keys (RsaKey, EcKey,
// OkpKey). verify_token asks the key found by kid to verify; the token's header only has to agree
// with the key's algorithm.
class VerificationKey {
public:
    VerificationKey(std::string kid, Algorithm alg) : kid_(std::move(kid)), alg_(alg) {}
    virtual ~VerificationKey() = default;
    VerificationKey(const VerificationKey&) = delete;
    VerificationKey& operator=(const VerificationKey&) = delete;

    const std::string& kid() const { return kid_; }
    Algorithm algorithm() const { return alg_; }

    // Constant-time with respect to the signature's content.
    virtual bool verify(std::string_view signing_input, std::string_view signature) const = 0;
    virtual bool can_sign() const { return false; }
    // Throws InvalidArgument when the key cannot sign (public keys).
    virtual std::string sign(std::string_view signing_input) const;

private:
    std::string kid_;
    Algorithm alg_;
};

// HMAC-SHA2 through OpenSSL's EVP_MAC. The key is loaded into a template context once; each
// operation duplicates it, so per-token cost is one MAC, not a key schedule.
class HmacKey final : public VerificationKey {
public:
    HmacKey(std::string kid, Algorithm alg, std::string_view secret);
    ~HmacKey() override;

    bool verify(std::string_view signing_input, std::string_view signature) const override;
    bool can_sign() const override { return true; }
    std::string sign(std::string_view signing_input) const override;

    static size_t digest_size(Algorithm alg);

private:
    std::string mac(std::string_view data) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Public keys verify through OpenSSL EVP (EVP_DigestVerify). Each holds its EVP_PKEY, built once
// from the JWK members; verify() returns false for a bad signature and on any OpenSSL failure (it
// never throws for hostile input). Constructors throw KeySetError for unusable key material. None
// of them can sign.

// RSA public key (JWK kty "RSA"; RFC 7518 6.3.1): RS256/384/512 (RSASSA-PKCS1-v1_5) or
// PS256/384/512 (RSASSA-PSS, MGF1 with the same hash, salt length = hash length, RFC 7518 3.5).
// `n` and `e` are the big-endian bytes of the JWK members.
class RsaKey final : public VerificationKey {
public:
    static constexpr int kMinBits = 2048;  // RFC 7518 3.3 / 3.5: 2048 bits or larger
    static constexpr int kMaxBits = 8192;  // bounds verification cost; no issuer uses more
    RsaKey(std::string kid, Algorithm alg, std::string_view n, std::string_view e);
    ~RsaKey() override;
    bool verify(std::string_view signing_input, std::string_view signature) const override;
    int bits() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// EC public key (JWK kty "EC"; RFC 7518 6.2.1): ES256 on P-256, ES384 on P-384, ES512 on P-521.
// `x` and `y` must each be exactly the curve's coordinate size (32, 48, 66 bytes) and name a point
// on the curve. Signatures are JWS's raw r||s (RFC 7518 3.4), 64/96/132 bytes.
class EcKey final : public VerificationKey {
public:
    EcKey(std::string kid, Algorithm alg, std::string_view crv, std::string_view x, std::string_view y);
    ~EcKey() override;
    bool verify(std::string_view signing_input, std::string_view signature) const override;

    // The curve ES256/ES384/ES512 use ("P-256", ...), or nullptr for any other alg.
    static const char* curve_for(Algorithm alg);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Octet key pair (JWK kty "OKP"; RFC 8037): Ed25519 with alg EdDSA. `x` is the 32-byte public key.
class OkpKey final : public VerificationKey {
public:
    OkpKey(std::string kid, Algorithm alg, std::string_view crv, std::string_view x);
    ~OkpKey() override;
    bool verify(std::string_view signing_input, std::string_view signature) const override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The trusted keys, parsed from a JWKS document (RFC 7517).
class KeySet {
public:
    static constexpr size_t kMaxDocumentBytes = 1 << 20;
    static constexpr size_t kMaxKeys = 256;

    // Throws KeySetError naming what is wrong (never the key material). Keys with "use": "enc" are
    // skipped; every other key must load (see key_from_jwk in keys.cpp for the member rules).
    static KeySet from_jwks(std::string_view document);

    // nullptr when no key matches. Without a kid, only a set of exactly one key answers.
    const VerificationKey* find(const std::string* kid) const;
    size_t size() const { return keys_.size(); }
    bool empty() const { return keys_.empty(); }
    const std::vector<std::shared_ptr<const VerificationKey>>& keys() const { return keys_; }

    void add(std::shared_ptr<const VerificationKey> key);  // throws KeySetError on duplicate kid

private:
    std::vector<std::shared_ptr<const VerificationKey>> keys_;
};

}  // namespace tenant_guard::core
