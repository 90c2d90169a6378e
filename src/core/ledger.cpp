#include "ledger.hpp"

#include "strict_json.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <new>
#include <stdexcept>

namespace tenant_guard::core {

namespace {

void append_netstring(std::string& out, std::string_view bytes) {
    out += std::to_string(bytes.size());
    out += ':';
    out += bytes;
    out += ',';
}

void append_optional(std::string& out, const std::optional<std::string>& value) {
    if (value)
        append_netstring(out, *value);
    else
        out += "~,";
}

void append_list(std::string& out, const std::optional<std::vector<std::string>>& values) {
    if (!values) {
        out += "~,";
        return;
    }
    std::string inner;
    for (const auto& value : *values) append_netstring(inner, value);
    append_netstring(out, inner);
}

Sha256 hash_parts(unsigned char prefix, const Sha256* left, const Sha256* right) {
    std::string bytes(1, static_cast<char>(prefix));
    bytes.append(reinterpret_cast<const char*>(left->data()), left->size());
    if (right) bytes.append(reinterpret_cast<const char*>(right->data()), right->size());
    return sha256(bytes);
}

Sha256 merkle_range(const std::vector<Sha256>& leaves, size_t begin, size_t end) {
    if (end - begin == 1) return hash_parts(0x00, &leaves[begin], nullptr);
    size_t split = 1;
    while (split * 2 < end - begin) split *= 2;
    const Sha256 left = merkle_range(leaves, begin, begin + split);
    const Sha256 right = merkle_range(leaves, begin + split, end);
    return hash_parts(0x01, &left, &right);
}

}  // namespace

std::string encode_entry(const AuditEntry& entry) {
    std::string out;
    out.reserve(256 + (entry.old_values ? entry.old_values->size() : 0) +
                (entry.new_values ? entry.new_values->size() : 0));
    append_netstring(out, kEntryFormat);
    append_netstring(out, entry.tenant_id);
    append_netstring(out, std::to_string(entry.entry_seq));
    append_netstring(out, std::to_string(entry.xact_id));
    append_netstring(out, std::to_string(entry.logged_at_us));
    append_optional(out, entry.subject);
    append_optional(out, entry.role_name);
    append_netstring(out, entry.action);
    append_optional(out, entry.entity_type);
    append_optional(out, entry.entity_id);
    append_list(out, entry.changed_columns);
    append_optional(out, entry.old_values);
    append_optional(out, entry.new_values);
    return out;
}

std::string encode_block(const AuditBlock& block) {
    std::string out;
    append_netstring(out, kBlockFormat);
    append_netstring(out, block.tenant_id);
    append_netstring(out, std::to_string(block.block_no));
    append_netstring(out, std::to_string(block.xact_lo));
    append_netstring(out, std::to_string(block.xact_hi));
    append_netstring(out, std::to_string(block.entry_count));
    append_netstring(out, to_hex(block.merkle_root));
    append_optional(out, block.prev_hash ? std::optional<std::string>(to_hex(*block.prev_hash)) : std::nullopt);
    append_netstring(out, std::to_string(block.sealed_at_us));
    return out;
}

Sha256 sha256(std::string_view bytes) {
    // Fetched once: EVP_sha256() makes every EVP_Digest() call look the algorithm up again.
    static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    Sha256 digest{};
    unsigned int length = 0;
    if (algorithm == nullptr ||
        EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, algorithm, nullptr) != 1 ||
        length != digest.size())
        throw std::runtime_error("SHA-256 failed");
    return digest;
}

Sha256 entry_hash(const AuditEntry& entry) { return sha256(encode_entry(entry)); }
Sha256 block_hash(const AuditBlock& block) { return sha256(encode_block(block)); }

Sha256 merkle_root(const std::vector<Sha256>& entry_hashes) {
    if (entry_hashes.empty()) return sha256({});
    return merkle_range(entry_hashes, 0, entry_hashes.size());
}

std::string to_hex(const Sha256& digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(digest.size() * 2);
    for (unsigned char byte : digest) {
        out += kDigits[byte >> 4];
        out += kDigits[byte & 0x0f];
    }
    return out;
}

std::optional<Sha256> from_hex(std::string_view hex) {
    Sha256 digest{};
    if (hex.size() != digest.size() * 2) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < digest.size(); i++) {
        const int high = nibble(hex[2 * i]), low = nibble(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        digest[i] = static_cast<unsigned char>(high << 4 | low);
    }
    return digest;
}

bool digests_equal(const Sha256& a, const Sha256& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

bool claim_contains(std::string_view claims_json, std::string_view claim, std::string_view value) {
    const auto claims = parse_strict_json(claims_json);
    if (!claims || !claims->is_object()) return false;
    const auto found = claims->find(std::string(claim));
    if (found == claims->end()) return false;
    if (found->is_array()) {
        for (const auto& element : *found)
            if (element.is_string() && element.get_ref<const std::string&>() == value) return true;
        return false;
    }
    if (!found->is_string()) return false;
    std::string_view words = found->get_ref<const std::string&>();
    while (!words.empty()) {
        const size_t space = words.find(' ');
        if (words.substr(0, space) == value) return true;
        if (space == std::string_view::npos) break;
        words.remove_prefix(space + 1);
    }
    return false;
}

}  // namespace tenant_guard::core
