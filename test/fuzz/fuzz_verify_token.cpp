// libFuzzer target for the token verifier.
//
//   cmake -S . -B /tmp/tgfuzz -DTENANT_GUARD_FUZZ=ON -DTENANT_GUARD_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++
//   cmake --build /tmp/tgfuzz
//   cp -r test/fuzz/corpus /tmp/tgfuzz-corpus && /tmp/tgfuzz/fuzz_verify_token -max_total_time=60 /tmp/tgfuzz-corpus
//
// 1. The input as a compact JWS: verify_token may only return or throw TokenRefused. Any other
//    exception aborts (and so does anything the sanitizers catch).
// 2. The input as a claims document: a forged MAC never gets past the signature check, so to reach
//    the claim checks the input is signed with the fuzz key and verified. The outcome must be exactly
//    what validate_claims says about the input directly (same reason, or the same accepted result).
#include "../unit/vectors/asymmetric_vectors.hpp"
#include "keys.hpp"
#include "refusal.hpp"
#include "token.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace tenant_guard::core;

constexpr std::int64_t kNow = 1'700'000'000;

// k = base64url("tenant-guard fuzz key, 32 bytes!"); the seed tokens in corpus/ are signed with it.
const KeySet& fuzz_keys() {
    static const KeySet keys = KeySet::from_jwks(
        R"({"keys":[{"kty":"oct","kid":"fuzz","alg":"HS256","k":"dGVuYW50LWd1YXJkIGZ1enoga2V5LCAzMiBieXRlcyE"}]})");
    return keys;
}

// The public keys of the unit tests' openssl-made vectors (seed tokens asym_* are signed with them),
// so that inputs also reach RSA, PSS, ECDSA (with the r||s to DER conversion) and Ed25519.
const KeySet& fuzz_public_keys() {
    using namespace asymmetric_vectors;
    static const KeySet keys = KeySet::from_jwks(
        std::string(R"({"keys":[{"kty":"RSA","kid":"rsa-RS256","alg":"RS256","e":"AQAB","n":")") + kRsaN +
        R"("},{"kty":"RSA","kid":"rsa-PS256","alg":"PS256","e":"AQAB","n":")" + kRsaN +
        R"("},{"kty":"EC","kid":"ec-P-256","alg":"ES256","crv":"P-256","x":")" + kP256X + R"(","y":")" + kP256Y +
        R"("},{"kty":"OKP","kid":"ed25519","alg":"EdDSA","crv":"Ed25519","x":")" + kEd25519X + R"("}]})");
    return keys;
}

const ClaimPolicy& fuzz_policy() {
    static const ClaimPolicy policy = [] {
        ClaimPolicy p;
        p.issuer = "https://issuer.example";
        p.audience = "tenant-guard";
        return p;
    }();
    return policy;
}

[[noreturn]] void fail(const char* what, const char* detail) {
    std::fprintf(stderr, "fuzz_verify_token: %s: %s\n", what, detail);
    std::abort();
}

// Runs f; returns nullopt when it returned, the reason when it threw TokenRefused; aborts otherwise.
template <typename F>
std::optional<Refusal> outcome(const char* step, F&& f) {
    try {
        f();
        return std::nullopt;
    } catch (const TokenRefused& e) {
        return e.reason();
    } catch (const std::exception& e) {
        fail(step, e.what());
    } catch (...) {
        fail(step, "non-std exception");
    }
}

void check_as_token(std::string_view input) {
    outcome("verify_token(input)", [&] { verify_token(input, fuzz_keys(), fuzz_policy(), kNow); });
    outcome("verify_token(input, public keys)", [&] { verify_token(input, fuzz_public_keys(), ClaimPolicy{}, kNow); });
}

void check_as_claims(std::string_view input) {
    std::optional<VerifiedToken> direct_result;
    std::optional<Refusal> direct =
        outcome("validate_claims(input)", [&] { direct_result = validate_claims(input, fuzz_policy(), kNow); });

    std::string token;
    try {
        token = sign_token(input, fuzz_keys(), nullptr);
    } catch (const InvalidArgument&) {
        // sign_token refuses exactly what is not a (strict) JSON object.
        if (direct != Refusal::InvalidClaims) fail("sign_token refused claims that validate_claims did not", "");
        return;
    } catch (const std::exception& e) {
        fail("sign_token(input)", e.what());
    }

    std::optional<VerifiedToken> via_token_result;
    std::optional<Refusal> via_token = outcome("verify_token(sign_token(input))", [&] {
        via_token_result = verify_token(token, fuzz_keys(), fuzz_policy(), kNow);
    });
    if (token.size() > kMaxTokenBytes) {
        if (via_token != Refusal::TokenTooLarge) fail("oversized signed token", "not refused as TokenTooLarge");
        return;
    }
    if (via_token != direct)
        fail("verify_token(sign_token(input)) disagrees with validate_claims(input)",
             via_token ? refusal_message(*via_token) : "accepted");
    if (direct_result && via_token_result) {
        if (!(direct_result->tenant == via_token_result->tenant) || direct_result->subject != via_token_result->subject ||
            direct_result->claims_json != via_token_result->claims_json)
            fail("verified token differs from validated claims", direct_result->claims_json.c_str());
        if (via_token_result->kid != "fuzz" || via_token_result->alg != Algorithm::HS256)
            fail("verified token names the wrong key", via_token_result->kid.c_str());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    check_as_token(input);
    check_as_claims(input);
    return 0;
}
