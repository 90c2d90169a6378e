#include "tenant_uuid.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace {

using tenant_guard::core::parse_tenant_id;
using tenant_guard::core::TenantId;

constexpr const char* kCanonical = "00112233-4455-6677-8899-aabbccddeeff";

bool is_hyphen_index(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

TEST(TenantUuid, ParsesCanonicalLowerCaseIntoBytes) {
    auto id = parse_tenant_id(kCanonical);
    ASSERT_TRUE(id.has_value());
    for (size_t i = 0; i < 16; ++i) EXPECT_EQ(id->bytes[i], static_cast<unsigned char>(i * 0x11)) << i;
    EXPECT_EQ(id->to_string(), kCanonical);
}

TEST(TenantUuid, ParsesUpperAndMixedCaseToTheSameId) {
    auto lower = parse_tenant_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    auto upper = parse_tenant_id("3F2504E0-4F89-41D3-9A0C-0305E82C3301");
    auto mixed = parse_tenant_id("3f2504E0-4F89-41d3-9A0c-0305e82C3301");
    ASSERT_TRUE(lower && upper && mixed);
    EXPECT_EQ(*lower, *upper);
    EXPECT_EQ(*lower, *mixed);
}

TEST(TenantUuid, ToStringNormalisesToLowerCase) {
    auto upper = parse_tenant_id("AABBCCDD-EEFF-ABCD-EF01-23456789ABCD");
    ASSERT_TRUE(upper.has_value());
    EXPECT_EQ(upper->to_string(), "aabbccdd-eeff-abcd-ef01-23456789abcd");
}

TEST(TenantUuid, NilAndMaxUuids) {
    auto nil = parse_tenant_id("00000000-0000-0000-0000-000000000000");
    ASSERT_TRUE(nil.has_value());
    EXPECT_EQ(nil->to_string(), "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ(*nil, TenantId{});
    auto max = parse_tenant_id("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
    ASSERT_TRUE(max.has_value());
    for (auto b : max->bytes) EXPECT_EQ(b, 0xff);
    EXPECT_EQ(max->to_string(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

TEST(TenantUuid, DifferentUuidsAreDifferent) {
    auto a = parse_tenant_id("00000000-0000-0000-0000-000000000001");
    auto b = parse_tenant_id("10000000-0000-0000-0000-000000000000");
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(*a == *b);
}

TEST(TenantUuid, ToStringRoundTripsThroughParse) {
    TenantId id;
    for (size_t i = 0; i < 16; ++i) id.bytes[i] = static_cast<unsigned char>(0xf0 - i * 7);
    auto again = parse_tenant_id(id.to_string());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, id);
}

TEST(TenantUuid, RefusesBraces) {
    EXPECT_FALSE(parse_tenant_id("{00112233-4455-6677-8899-aabbccddeeff}"));
    EXPECT_FALSE(parse_tenant_id("{00112233-4455-6677-8899-aabbccddee}"));  // 36 chars with braces
}

TEST(TenantUuid, RefusesUrnPrefix) { EXPECT_FALSE(parse_tenant_id("urn:uuid:00112233-4455-6677-8899-aabbccddeeff")); }

TEST(TenantUuid, RefusesMissingHyphens) {
    EXPECT_FALSE(parse_tenant_id("00112233445566778899aabbccddeeff"));
    // 36 characters but without hyphens.
    EXPECT_FALSE(parse_tenant_id("00112233445566778899aabbccddeeff0011"));
    // Hyphens as in PostgreSQL's relaxed "every 4 digits" form.
    EXPECT_FALSE(parse_tenant_id("0011-2233-4455-6677-8899-aabb-ccdd-eeff"));
}

TEST(TenantUuid, RefusesHyphenInAnyWrongPlace) {
    std::string canonical = kCanonical;
    // Move each hyphen one place left and one place right: still 36 characters, 4 hyphens.
    for (size_t h : {8u, 13u, 18u, 23u}) {
        for (int delta : {-1, 1}) {
            std::string moved = canonical;
            std::swap(moved[h], moved[static_cast<size_t>(static_cast<int>(h) + delta)]);
            EXPECT_FALSE(parse_tenant_id(moved)) << moved;
        }
    }
    // A hyphen replacing a hex digit anywhere.
    for (size_t i = 0; i < canonical.size(); ++i) {
        if (is_hyphen_index(i)) continue;
        std::string bad = canonical;
        bad[i] = '-';
        EXPECT_FALSE(parse_tenant_id(bad)) << bad;
    }
    // A hex digit replacing a hyphen.
    for (size_t i : {8u, 13u, 18u, 23u}) {
        std::string bad = canonical;
        bad[i] = '0';
        EXPECT_FALSE(parse_tenant_id(bad)) << bad;
    }
}

TEST(TenantUuid, RefusesNonHexInEveryPosition) {
    std::string canonical = kCanonical;
    for (size_t i = 0; i < canonical.size(); ++i) {
        if (is_hyphen_index(i)) continue;
        for (char c : {'g', 'G', 'z', ' ', '+', 'x', ':', '/', '@', '`', '\0', '\xc3'}) {
            std::string bad = canonical;
            bad[i] = c;
            EXPECT_FALSE(parse_tenant_id(bad)) << "position " << i << " char " << static_cast<int>(c);
        }
    }
}

TEST(TenantUuid, RefusesWrongLengths) {
    std::string canonical = kCanonical;
    EXPECT_FALSE(parse_tenant_id(""));
    EXPECT_FALSE(parse_tenant_id(canonical.substr(0, 35)));
    EXPECT_FALSE(parse_tenant_id(canonical + "0"));
    EXPECT_FALSE(parse_tenant_id(canonical + "-"));
    EXPECT_FALSE(parse_tenant_id(" " + canonical));
    EXPECT_FALSE(parse_tenant_id(canonical + " "));
    EXPECT_FALSE(parse_tenant_id(canonical + std::string(1, '\0')));
    EXPECT_FALSE(parse_tenant_id("0112233-4455-6677-8899-aabbccddeeff0"));  // short first group, long last
}

}  // namespace

namespace tenant_guard::core {
namespace {

TEST(UuidV7, LayoutFollowsRfc9562) {
    std::array<unsigned char, 10> random;
    random.fill(0xff);
    // RFC 9562 appendix A.6 uses 0x017F22E279B0 ms (2022-02-22 19:22:22 UTC).
    const TenantId id = make_uuid_v7(0x017F22E279B0, random);
    EXPECT_EQ(id.to_string().substr(0, 15), "017f22e2-79b0-7");
    EXPECT_EQ(id.bytes[6] >> 4, 7);             // version
    EXPECT_EQ(id.bytes[8] & 0xc0, 0x80);        // variant
    EXPECT_EQ(id.to_string(), "017f22e2-79b0-7fff-bfff-ffffffffffff");
    random.fill(0x00);
    EXPECT_EQ(make_uuid_v7(0x017F22E279B0, random).to_string(), "017f22e2-79b0-7000-8000-000000000000");
}

TEST(UuidV7, LaterMillisecondsSortLater) {
    std::array<unsigned char, 10> high, low;
    high.fill(0xff);
    low.fill(0x00);
    const TenantId earlier = make_uuid_v7(1764115200000, high);
    const TenantId later = make_uuid_v7(1764115200001, low);
    EXPECT_LT(earlier.bytes, later.bytes);
    EXPECT_TRUE(parse_tenant_id(later.to_string()).has_value());
}

}  // namespace
}  // namespace tenant_guard::core
