#pragma once
#include "no_postgres.hpp"

#include "algorithm.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tenant_guard::core {

// One trusted key, pinned to one algorithm. Asymmetric key types (issue: RS/ES/EdDSA) are further
// subclasses; nothing else in the core needs to change for them.
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

// The trusted keys, parsed from a JWKS document (RFC 7517).
class KeySet {
public:
    static constexpr size_t kMaxDocumentBytes = 1 << 20;
    static constexpr size_t kMaxKeys = 256;

    // Throws KeySetError naming what is wrong (never the key material).
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
