// The audit ledger's integrity: the canonical encoding of entries and blocks, their SHA-256
// hashes, and the Merkle root over a block's entries. Pure functions, so that the extension, the
// unit tests and an outside verifier (README: "Canonical encoding"; tools/verify_ledger_export.py) agree
// byte for byte.
//
// Encoding: a sequence of netstrings, `<decimal byte length>:<bytes>,`; SQL NULL is `~,`. A list
// (changed_columns) is one netstring whose bytes are the netstrings of its elements. The first
// field names the format and version, so a future format cannot be confused with this one.
#pragma once
#include "no_postgres.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenant_guard::core {

using Sha256 = std::array<unsigned char, 32>;

inline constexpr std::string_view kEntryFormat = "tenant_guard.audit_entry.v1";
inline constexpr std::string_view kBlockFormat = "tenant_guard.audit_block.v1";

// One audit_log row, as text exactly as the encoding takes it: uuids in lower-case 8-4-4-4-12 form,
// times as microseconds since 1970-01-01 UTC, jsonb values as PostgreSQL prints them (jsonb_out,
// which does not depend on any setting).
struct AuditEntry {
    std::string tenant_id;
    std::int64_t entry_seq = 0;
    std::uint64_t xact_id = 0;
    std::int64_t logged_at_us = 0;
    std::optional<std::string> subject;
    std::optional<std::string> role_name;
    std::string action;
    std::optional<std::string> entity_type;
    std::optional<std::string> entity_id;
    std::optional<std::vector<std::string>> changed_columns;
    std::optional<std::string> old_values;
    std::optional<std::string> new_values;
};

struct AuditBlock {
    std::string tenant_id;
    std::int64_t block_no = 0;
    std::uint64_t xact_lo = 0;  // the block holds the tenant's entries with xact_lo <= xact_id < xact_hi
    std::uint64_t xact_hi = 0;
    std::int64_t entry_count = 0;
    Sha256 merkle_root{};
    std::optional<Sha256> prev_hash;  // absent only for a tenant's first block
    std::int64_t sealed_at_us = 0;
};

std::string encode_entry(const AuditEntry& entry);
std::string encode_block(const AuditBlock& block);

Sha256 sha256(std::string_view bytes);
Sha256 entry_hash(const AuditEntry& entry);
Sha256 block_hash(const AuditBlock& block);

// RFC 6962 section 2.1 Merkle Tree Hash with the entry hashes as the leaves' data:
// leaf = SHA-256(0x00 || entry_hash), node = SHA-256(0x01 || left || right), split at the largest
// power of two below n. An empty list gives SHA-256 of nothing (a block is never empty).
Sha256 merkle_root(const std::vector<Sha256>& entry_hashes);

std::string to_hex(const Sha256& digest);
std::optional<Sha256> from_hex(std::string_view hex);
bool digests_equal(const Sha256& a, const Sha256& b);  // constant time

// True when the JSON claims object has `claim` equal to `value`, or an array `claim` holding it,
// or a space-separated string `claim` (OAuth scope style) with it as one word.
bool claim_contains(std::string_view claims_json, std::string_view claim, std::string_view value);

}  // namespace tenant_guard::core
