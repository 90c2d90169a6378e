#include "token_cache.hpp"

#include "refusal.hpp"

namespace tenant_guard::core {

VerifiedToken TokenCache::verify(std::string_view token, const std::shared_ptr<const KeySet>& keys,
                                 const ClaimPolicy& policy, std::int64_t now) {
    if (!keys) throw TokenRefused(Refusal::NoKeys);
    if (keys != keys_ || policy != policy_) {
        clear();
        keys_ = keys;
        policy_ = policy;
    }
    if (auto found = index_.find(token); found != index_.end()) {
        auto entry = found->second;
        try {
            check_token_times(entry->verified.times, policy, now);
        } catch (const TokenRefused&) {
            index_.erase(found);
            lru_.erase(entry);
            throw;
        }
        ++hits_;
        lru_.splice(lru_.begin(), lru_, entry);
        return entry->verified;
    }
    ++misses_;
    VerifiedToken verified = verify_token(token, *keys, policy, now);
    if (capacity_ > 0) {
        evict_to(capacity_ - 1);
        lru_.push_front(Entry{std::string(token), verified});
        index_.emplace(std::string_view(lru_.front().token), lru_.begin());
    }
    return verified;
}

void TokenCache::evict_to(size_t size) noexcept {
    while (lru_.size() > size) {
        index_.erase(std::string_view(lru_.back().token));
        lru_.pop_back();
    }
}

void TokenCache::clear() noexcept {
    index_.clear();
    lru_.clear();
}

void TokenCache::set_capacity(size_t capacity) noexcept {
    capacity_ = capacity;
    evict_to(capacity);
}

}  // namespace tenant_guard::core
