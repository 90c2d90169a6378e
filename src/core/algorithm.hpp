#pragma once
#include "no_postgres.hpp"

#include <optional>
#include <string_view>

namespace tenant_guard::core {

// JWS "alg" values (RFC 7518 section 3.1, RFC 8037 section 3.1). Every key is pinned to exactly
// one of these: HS* (HmacKey), RS*/PS* (RsaKey), ES* (EcKey), EdDSA (OkpKey, Ed25519).
enum class Algorithm { HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA };

std::optional<Algorithm> algorithm_from_name(std::string_view name);
std::string_view algorithm_name(Algorithm alg);
bool is_hmac(Algorithm alg);

}  // namespace tenant_guard::core
