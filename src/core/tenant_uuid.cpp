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

}  // namespace tenant_guard::core
