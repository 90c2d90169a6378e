// Optional replay defence (tenant_guard.require_jti): a token id (jti) is accepted once per process
// while the token is valid. Per backend only: PostgreSQL backends share no memory here, so a token
// replayed to another connection is not caught; see the README.
#pragma once
#include "no_postgres.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace tenant_guard::core {

class ReplayGuard {
public:
    static constexpr size_t kDefaultCapacity = 10000;
    explicit ReplayGuard(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

    // Throws TokenRefused: MissingTokenId without a jti, Replayed when it was admitted before and
    // has not expired. Remembers it until `expires_at` (no exp: kept until evicted).
    void admit(const std::optional<std::string>& token_id, std::optional<double> expires_at, std::int64_t now);
    size_t size() const noexcept { return expiry_of_.size(); }

private:
    void forget_expired(std::int64_t now);
    size_t capacity_;
    std::unordered_map<std::string, double> expiry_of_;
    std::multimap<double, std::string> by_expiry_;  // soonest first: what to forget first
};

}  // namespace tenant_guard::core
