#include "tenant_uuid.hpp"

namespace tenant_guard::core {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_hyphen_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

std::optional<TenantId> parse_tenant_id(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    TenantId id;
    size_t out = 0;
    for (size_t i = 0; i < text.size();) {
        if (is_hyphen_position(i)) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        int high = hex_value(text[i]);
        int low = hex_value(text[i + 1]);
        if (high < 0 || low < 0 || is_hyphen_position(i + 1)) return std::nullopt;
        id.bytes[out++] = static_cast<unsigned char>(high << 4 | low);
        i += 2;
    }
    return id;
}

std::string TenantId::to_string() const {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0x0f]);
    }
    return out;
}

TenantId make_uuid_v7(std::int64_t unix_milliseconds, const std::array<unsigned char, 10>& random) {
    TenantId id;
    const auto millis = static_cast<std::uint64_t>(unix_milliseconds);
    for (int i = 0; i < 6; i++) id.bytes[i] = static_cast<unsigned char>(millis >> (8 * (5 - i)));
    for (int i = 0; i < 10; i++) id.bytes[6 + i] = random[i];
    id.bytes[6] = static_cast<unsigned char>((id.bytes[6] & 0x0f) | 0x70);  // version 7
    id.bytes[8] = static_cast<unsigned char>((id.bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
    return id;
}

}  // namespace tenant_guard::core
