#include "replay_guard.hpp"

#include "refusal.hpp"

#include <limits>

namespace tenant_guard::core {

void ReplayGuard::forget_expired(std::int64_t now) {
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= static_cast<double>(now)) {
        expiry_of_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

void ReplayGuard::admit(const std::optional<std::string>& token_id, std::optional<double> expires_at,
                        std::int64_t now) {
    if (!token_id || token_id->empty()) throw TokenRefused(Refusal::MissingTokenId);
    forget_expired(now);
    if (expiry_of_.count(*token_id) != 0) throw TokenRefused(Refusal::Replayed);
    // Full: forget the id that expires soonest. Its token can then be replayed here until it
    // expires; the capacity bounds memory, and the README says so.
    if (capacity_ == 0) return;
    while (expiry_of_.size() >= capacity_) {
        expiry_of_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
    const double until = expires_at.value_or(std::numeric_limits<double>::infinity());
    expiry_of_.emplace(*token_id, until);
    by_expiry_.emplace(until, *token_id);
}

}  // namespace tenant_guard::core
