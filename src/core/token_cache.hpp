// Per-process cache of verified tokens: presenting the same token again (a pooled application
// sends the user's token with every transaction) skips signature verification and claim parsing.
// Entries are keyed by the token's exact bytes, so there is no hash collision to forge. A hit
// re-checks exp / nbf / iat against the current time; the cache empties itself when the key set or
// the claim policy changes. Refused tokens are never cached.
#pragma once
#include "no_postgres.hpp"

#include "token.hpp"

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tenant_guard::core {

class TokenCache {
public:
    explicit TokenCache(size_t capacity = 256) : capacity_(capacity) {}

    // verify_token(), through the cache. Throws what verify_token() throws.
    VerifiedToken verify(std::string_view token, const std::shared_ptr<const KeySet>& keys,
                         const ClaimPolicy& policy, std::int64_t now);

    void clear() noexcept;
    void set_capacity(size_t capacity) noexcept;  // 0 turns caching off

    struct Stats {
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
        size_t entries = 0;
        size_t capacity = 0;
    };
    Stats stats() const noexcept { return {hits_, misses_, lru_.size(), capacity_}; }

private:
    struct Entry {
        std::string token;
        VerifiedToken verified;
    };
    void evict_to(size_t size) noexcept;

    size_t capacity_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into lru_ entries
    std::shared_ptr<const KeySet> keys_;  // the key set the entries were verified with
    ClaimPolicy policy_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace tenant_guard::core
