// What a Citus coordinator sends its workers instead of the application's token: a short-lived
// statement, signed with a key only the nodes hold (the cluster key), that the coordinator verified
// a token for this tenant, with the token's subject and claims. Other sessions may see what a
// coordinator sends a worker (pg_stat_activity, citus_stat_activity); a bearer token there would
// open every node to them until it expires, an assertion only the workers, for minutes, and
// set_tenant() refuses anything signed with the cluster key.
#pragma once
#include "no_postgres.hpp"

#include "keys.hpp"
#include "tenant_uuid.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenant_guard::core {

struct ContextAssertion {
    TenantId tenant;
    std::optional<std::string> subject;
    std::string claims_json;  // the application token's verified claims (a JSON object)
    std::int64_t expires_at = 0;  // its exp (unix seconds)
};

inline constexpr std::int64_t kAssertionLifetimeSeconds = 120;

// A JWS signed with the cluster key `kid` (an HMAC key of `keys`): {"tg": "context", "tenant",
// "sub", "claims", "iat", "exp": iat + kAssertionLifetimeSeconds}. Throws InvalidArgument (unusable
// key, claims that are not an object).
std::string sign_context_assertion(const ContextAssertion& assertion, const KeySet& keys, const std::string& kid,
                                   std::int64_t now);

// Verifies an assertion: signed with the key `kid` and no other, well formed, issued no later than
// now (clock_skew seconds of leeway), living no longer than kAssertionLifetimeSeconds. Throws
// TokenRefused. Whether it is still in force is for the caller to check at every use (expires_at):
// Citus replays a transaction's earlier SET LOCALs, expired assertions included, on every worker
// connection it opens later in that transaction, before the newer one that supersedes them.
ContextAssertion verify_context_assertion(std::string_view assertion, const KeySet& keys, const std::string& kid,
                                          std::int64_t now, std::int64_t clock_skew);

}  // namespace tenant_guard::core
