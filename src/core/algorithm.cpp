#include "algorithm.hpp"

#include <array>
#include <utility>

namespace tenant_guard::core {

namespace {

constexpr std::array<std::pair<Algorithm, std::string_view>, 13> kNames{{
    {Algorithm::HS256, "HS256"}, {Algorithm::HS384, "HS384"}, {Algorithm::HS512, "HS512"},
    {Algorithm::RS256, "RS256"}, {Algorithm::RS384, "RS384"}, {Algorithm::RS512, "RS512"},
    {Algorithm::PS256, "PS256"}, {Algorithm::PS384, "PS384"}, {Algorithm::PS512, "PS512"},
    {Algorithm::ES256, "ES256"}, {Algorithm::ES384, "ES384"}, {Algorithm::ES512, "ES512"},
    {Algorithm::EdDSA, "EdDSA"},
}};

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
    for (const auto& [alg, alg_name] : kNames)
        if (alg_name == name) return alg;
    return std::nullopt;
}

std::string_view algorithm_name(Algorithm alg) {
    for (const auto& [candidate, alg_name] : kNames)
        if (candidate == alg) return alg_name;
    return "unknown";
}

bool is_hmac(Algorithm alg) { return alg == Algorithm::HS256 || alg == Algorithm::HS384 || alg == Algorithm::HS512; }

}  // namespace tenant_guard::core
