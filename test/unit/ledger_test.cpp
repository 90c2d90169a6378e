// The ledger's canonical encoding is a contract with outside verifiers: these tests pin its bytes.
#include "ledger.hpp"

#include <gtest/gtest.h>

namespace tenant_guard::core {
namespace {

AuditEntry sample_entry() {
    AuditEntry entry;
    entry.tenant_id = "0190a5c8-0000-7000-8000-000000000001";
    entry.entry_seq = 7;
    entry.xact_id = 745;
    entry.logged_at_us = 1764115200000000;
    entry.subject = "alice";
    entry.role_name = "app";
    entry.action = "UPDATE";
    entry.entity_type = "public.students";
    entry.entity_id = "42";
    entry.changed_columns = std::vector<std::string>{"name"};
    entry.old_values = R"({"id": 42, "name": "Ann"})";
    entry.new_values = R"({"id": 42, "name": "Anne"})";
    return entry;
}

TEST(LedgerEncoding, EntryIsNetstringsInDocumentedOrder) {
    EXPECT_EQ(encode_entry(sample_entry()),
              "27:tenant_guard.audit_entry.v1,36:0190a5c8-0000-7000-8000-000000000001,1:7,3:745,"
              "16:1764115200000000,5:alice,3:app,6:UPDATE,15:public.students,2:42,7:4:name,,"
              "25:{\"id\": 42, \"name\": \"Ann\"},26:{\"id\": 42, \"name\": \"Anne\"},");
}

TEST(LedgerEncoding, NullDiffersFromEmpty) {
    AuditEntry with_null = sample_entry();
    AuditEntry with_empty = sample_entry();
    with_null.subject.reset();
    with_empty.subject = "";
    EXPECT_NE(encode_entry(with_null), encode_entry(with_empty));
    with_null = sample_entry();
    with_empty = sample_entry();
    with_null.changed_columns.reset();
    with_empty.changed_columns = std::vector<std::string>{};
    EXPECT_NE(encode_entry(with_null), encode_entry(with_empty));
}

TEST(LedgerEncoding, FieldBoundariesCannotBeShifted) {
    AuditEntry a = sample_entry();
    AuditEntry b = sample_entry();
    a.subject = "ab";
    a.role_name = "c";
    b.subject = "a";
    b.role_name = "bc";
    EXPECT_NE(entry_hash(a), entry_hash(b));
    a = sample_entry();
    b = sample_entry();
    a.changed_columns = std::vector<std::string>{"a,b"};
    b.changed_columns = std::vector<std::string>{"a", "b"};
    EXPECT_NE(entry_hash(a), entry_hash(b));
}

TEST(LedgerEncoding, EveryFieldChangesTheHash) {
    const Sha256 original = entry_hash(sample_entry());
    std::vector<AuditEntry> variants(12, sample_entry());
    variants[0].tenant_id = "0190a5c8-0000-7000-8000-000000000002";
    variants[1].entry_seq = 8;
    variants[2].xact_id = 746;
    variants[3].logged_at_us += 1;
    variants[4].subject = "mallory";
    variants[5].role_name = "postgres";
    variants[6].action = "DELETE";
    variants[7].entity_type = "public.teachers";
    variants[8].entity_id = "43";
    variants[9].changed_columns = std::vector<std::string>{"id"};
    variants[10].old_values = R"({"id": 42, "name": "Bob"})";
    variants[11].new_values.reset();
    for (const auto& variant : variants) EXPECT_NE(entry_hash(variant), original);
}

TEST(LedgerEncoding, Sha256KnownAnswer) {
    EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Sha256 leaf(unsigned char fill) {
    Sha256 digest;
    digest.fill(fill);
    return digest;
}

Sha256 node(unsigned char prefix, const Sha256& left, const Sha256* right = nullptr) {
    std::string bytes(1, static_cast<char>(prefix));
    bytes.append(reinterpret_cast<const char*>(left.data()), left.size());
    if (right) bytes.append(reinterpret_cast<const char*>(right->data()), right->size());
    return sha256(bytes);
}

TEST(MerkleRoot, FollowsRfc6962Shape) {
    const Sha256 a = leaf(1), b = leaf(2), c = leaf(3);
    const Sha256 la = node(0, a), lb = node(0, b), lc = node(0, c);
    EXPECT_EQ(merkle_root({a}), la);
    const Sha256 ab = node(1, la, &lb);
    EXPECT_EQ(merkle_root({a, b}), ab);
    // Three leaves: the split is at 2, so c is paired with the subtree (a, b), not duplicated.
    EXPECT_EQ(merkle_root({a, b, c}), node(1, ab, &lc));
    EXPECT_EQ(merkle_root({}), sha256(""));
}

TEST(MerkleRoot, DetectsOrderRemovalAndAddition) {
    const std::vector<Sha256> leaves{leaf(1), leaf(2), leaf(3), leaf(4), leaf(5)};
    const Sha256 root = merkle_root(leaves);
    EXPECT_NE(merkle_root({leaf(2), leaf(1), leaf(3), leaf(4), leaf(5)}), root);
    EXPECT_NE(merkle_root({leaf(1), leaf(2), leaf(3), leaf(4)}), root);
    EXPECT_NE(merkle_root({leaf(1), leaf(2), leaf(3), leaf(4), leaf(5), leaf(5)}), root);
    // A leaf that equals an inner node must not pass for the subtree (second-preimage defence).
    const Sha256 right = node(0, leaf(2));
    const Sha256 inner = node(1, node(0, leaf(1)), &right);
    EXPECT_NE(merkle_root({inner, leaf(3)}), merkle_root({leaf(1), leaf(2), leaf(3)}));
}

TEST(BlockHash, CoversEveryField) {
    AuditBlock block;
    block.tenant_id = "0190a5c8-0000-7000-8000-000000000001";
    block.block_no = 3;
    block.xact_lo = 700;
    block.xact_hi = 800;
    block.entry_count = 5;
    block.merkle_root = leaf(9);
    block.prev_hash = leaf(8);
    block.sealed_at_us = 1764115200000000;
    const Sha256 original = block_hash(block);
    std::vector<AuditBlock> variants(8, block);
    variants[0].tenant_id = "0190a5c8-0000-7000-8000-000000000002";
    variants[1].block_no = 4;
    variants[2].xact_lo = 701;
    variants[3].xact_hi = 801;
    variants[4].entry_count = 6;
    variants[5].merkle_root = leaf(10);
    variants[6].prev_hash.reset();
    variants[7].sealed_at_us += 1;
    for (const auto& variant : variants) EXPECT_NE(block_hash(variant), original);
}

TEST(Hex, RoundTripsAndRefusesJunk) {
    const Sha256 digest = sha256("x");
    EXPECT_EQ(from_hex(to_hex(digest)), digest);
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex(std::string(64, 'g')));
    EXPECT_TRUE(digests_equal(digest, *from_hex(to_hex(digest))));
    EXPECT_FALSE(digests_equal(digest, sha256("y")));
}

TEST(ClaimContains, StringArrayAndScopeForms) {
    EXPECT_TRUE(claim_contains(R"({"roles":["teacher","tenant_admin"]})", "roles", "tenant_admin"));
    EXPECT_TRUE(claim_contains(R"({"roles":"tenant_admin"})", "roles", "tenant_admin"));
    EXPECT_TRUE(claim_contains(R"({"scope":"read tenant_admin"})", "scope", "tenant_admin"));
    EXPECT_FALSE(claim_contains(R"({"roles":["teacher"]})", "roles", "tenant_admin"));
    EXPECT_FALSE(claim_contains(R"({"roles":"tenant_administrator"})", "roles", "tenant_admin"));
    EXPECT_FALSE(claim_contains(R"({"roles":[["tenant_admin"]]})", "roles", "tenant_admin"));
    EXPECT_FALSE(claim_contains(R"({"other":"tenant_admin"})", "roles", "tenant_admin"));
    EXPECT_FALSE(claim_contains("not json", "roles", "tenant_admin"));
    EXPECT_FALSE(claim_contains("", "roles", "tenant_admin"));
}

}  // namespace
}  // namespace tenant_guard::core
