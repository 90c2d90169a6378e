#pragma once
#include "no_postgres.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenant_guard::core {

// A tenant id: 16 bytes, compared and stored like PostgreSQL's uuid type.
struct TenantId {
    std::array<unsigned char, 16> bytes{};
    std::string to_string() const;  // canonical lower-case 8-4-4-4-12
    bool operator==(const TenantId& other) const { return bytes == other.bytes; }
};

// Accepts only the canonical 8-4-4-4-12 hex form (either case). Tenant ids are identities: the
// braces and hyphen-less spellings PostgreSQL tolerates are refused so that one tenant has one
// spelling in tokens and logs.
std::optional<TenantId> parse_tenant_id(std::string_view text);

// A UUIDv7 (RFC 9562 section 5.7): 48 bits of Unix milliseconds, then random bits, with the
// version and variant set. Ids made later sort later, so tenant-led indexes stay append-friendly.
// `random` supplies the 10 random bytes (the caller's CSPRNG).
TenantId make_uuid_v7(std::int64_t unix_milliseconds, const std::array<unsigned char, 10>& random);

}  // namespace tenant_guard::core
