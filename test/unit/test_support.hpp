// Shared helpers for the core unit tests (header only: CMake globs test/unit/*.cpp).
#pragma once

#include "base64url.hpp"
#include "keys.hpp"
#include "refusal.hpp"
#include "strict_json.hpp"
#include "token.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace tenant_guard::core {

inline const char* refusal_name(Refusal reason) {
    switch (reason) {
        case Refusal::TokenMalformed: return "TokenMalformed";
        case Refusal::TokenTooLarge: return "TokenTooLarge";
        case Refusal::AlgorithmNone: return "AlgorithmNone";
        case Refusal::AlgorithmUnsupported: return "AlgorithmUnsupported";
        case Refusal::AlgorithmMismatch: return "AlgorithmMismatch";
        case Refusal::UnknownKey: return "UnknownKey";
        case Refusal::NoKeys: return "NoKeys";
        case Refusal::BadSignature: return "BadSignature";
        case Refusal::CriticalHeader: return "CriticalHeader";
        case Refusal::Expired: return "Expired";
        case Refusal::NotYetValid: return "NotYetValid";
        case Refusal::IssuedInFuture: return "IssuedInFuture";
        case Refusal::MissingExpiry: return "MissingExpiry";
        case Refusal::BadIssuer: return "BadIssuer";
        case Refusal::BadAudience: return "BadAudience";
        case Refusal::MissingTenant: return "MissingTenant";
        case Refusal::InvalidTenant: return "InvalidTenant";
        case Refusal::TenantInPlatformToken: return "TenantInPlatformToken";
        case Refusal::InvalidClaims: return "InvalidClaims";
        case Refusal::TenantNotAllowed: return "TenantNotAllowed";
        case Refusal::TenantNotChosen: return "TenantNotChosen";
        case Refusal::MissingTokenId: return "MissingTokenId";
        case Refusal::Replayed: return "Replayed";
    }
    return "?";
}

// GoogleTest finds these by ADL for readable failure messages.
inline void PrintTo(Refusal reason, std::ostream* os) { *os << refusal_name(reason); }
inline void PrintTo(Algorithm alg, std::ostream* os) { *os << algorithm_name(alg); }

}  // namespace tenant_guard::core

namespace tg_test {

using namespace tenant_guard::core;

inline constexpr std::int64_t kNow = 1'700'000'000;
inline constexpr const char* kTenant = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

// A secret of n bytes that differs per seed (HMAC keys must be at least the hash size).
inline std::string secret_bytes(size_t n, unsigned seed = 1) {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed * 29 + 7) & 0xff);
    return out;
}

// One JWK object (as JSON text) for an oct key. kid empty: no "kid" member.
inline std::string oct_jwk(std::string_view kid, std::string_view alg, std::string_view secret) {
    Json jwk = {{"kty", "oct"}, {"alg", std::string(alg)}, {"k", base64url_encode(secret)}};
    if (!kid.empty()) jwk["kid"] = std::string(kid);
    return jwk.dump();
}

inline std::string jwks_of(std::initializer_list<std::string> jwks) {
    std::string doc = "{\"keys\":[";
    bool first = true;
    for (const auto& jwk : jwks) {
        if (!first) doc += ",";
        doc += jwk;
        first = false;
    }
    return doc + "]}";
}

inline KeySet one_key_set(std::string_view kid = "k1", Algorithm alg = Algorithm::HS256, unsigned seed = 1) {
    return KeySet::from_jwks(
        jwks_of({oct_jwk(kid, algorithm_name(alg), secret_bytes(HmacKey::digest_size(alg), seed))}));
}

// Builds "b64(header).b64(payload).b64(sig)" where sig = signer.sign("b64(header).b64(payload)").
inline std::string raw_token(std::string_view header_json, std::string_view payload_json,
                             const VerificationKey& signer) {
    std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
    return input + "." + base64url_encode(signer.sign(input));
}

// Same, with already-encoded header and payload parts (to smuggle bad base64 under a valid MAC).
inline std::string raw_token_parts(std::string_view header_b64, std::string_view payload_b64,
                                   const VerificationKey& signer) {
    std::string input = std::string(header_b64) + "." + std::string(payload_b64);
    return input + "." + base64url_encode(signer.sign(input));
}

// Claims with a valid tenant and exp one hour after kNow, plus extra members.
inline Json good_claims() { return Json{{"tenant_id", kTenant}, {"exp", kNow + 3600}, {"sub", "alice"}}; }

// Success when f throws TokenRefused with exactly `expected`; any other outcome is a failure.
template <typename F>
::testing::AssertionResult RefusedWith(Refusal expected, F&& f) {
    try {
        f();
        return ::testing::AssertionFailure() << "accepted, expected refusal " << refusal_name(expected);
    } catch (const TokenRefused& e) {
        if (e.reason() == expected) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure()
               << "refused with " << refusal_name(e.reason()) << ", expected " << refusal_name(expected);
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw a non-TokenRefused exception: " << e.what();
    } catch (...) {
        return ::testing::AssertionFailure() << "threw a non-std exception";
    }
}

// The reason f was refused with; fails the test (and returns TokenMalformed) if it was not refused.
template <typename F>
Refusal refusal_of(F&& f) {
    try {
        f();
    } catch (const TokenRefused& e) {
        return e.reason();
    }
    ADD_FAILURE() << "expected a TokenRefused";
    return Refusal::TokenMalformed;
}

}  // namespace tg_test
