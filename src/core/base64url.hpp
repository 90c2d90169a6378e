#pragma once
#include "no_postgres.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tenant_guard::core {

// RFC 4648 section 5 without padding, as JWS uses it (RFC 7515 section 2).
// Decoding is strict: only the URL-safe alphabet, no padding, no whitespace, and unused trailing
// bits must be zero, so each byte string has exactly one accepted encoding (no malleable tokens).
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);

}  // namespace tenant_guard::core
