#include "base64url.hpp"

#include <openssl/evp.h>

#include <limits>

namespace tenant_guard::core {

namespace {

bool is_base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// The 6-bit value of a base64url character (already checked by is_base64url_char).
unsigned sextet(char c) {
    if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a') + 26;
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0') + 52;
    return c == '-' ? 62 : 63;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    if (bytes.empty()) return {};
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(written));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max() / 2)) return std::nullopt;
    std::string standard;
    standard.reserve(text.size() + 3);
    for (char c : text) {
        if (!is_base64url_char(c)) return std::nullopt;
        standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
    }
    size_t padding = (4 - standard.size() % 4) % 4;
    standard.append(padding, '=');
    if (standard.empty()) return std::string{};

    std::string out(standard.size() / 4 * 3, '\0');
    int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(standard.data()),
                                  static_cast<int>(standard.size()));
    if (decoded < 0 || static_cast<size_t>(decoded) != out.size()) return std::nullopt;
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    out.resize(out.size() - padding);
    // Canonical form only (RFC 4648 section 3.5): the bits of the last character beyond the last
    // whole byte must be zero, so that every byte string has exactly one encoding.
    if (const size_t remainder = text.size() % 4; remainder != 0) {
        const unsigned unused_bits = remainder == 2 ? 4 : 2;
        if (sextet(text.back()) & ((1u << unused_bits) - 1)) return std::nullopt;
    }
    return out;
}

}  // namespace tenant_guard::core
