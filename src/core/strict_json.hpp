#pragma once
#include "no_postgres.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace tenant_guard::core {

using Json = nlohmann::json;

// Nesting deeper than this is refused: token headers and claims are flat in practice, and a cap
// keeps hostile input from costing stack or time.
inline constexpr int kMaxJsonDepth = 32;

// Parses JSON for security decisions: refuses duplicate object keys (RFC 7515 section 4: a
// duplicated "alg" must not be silently resolved), nesting over kMaxJsonDepth, invalid UTF-8,
// and trailing garbage. Returns nullopt on any of these.
std::optional<Json> parse_strict_json(std::string_view text);

}  // namespace tenant_guard::core
