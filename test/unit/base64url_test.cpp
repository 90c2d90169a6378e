#include "test_support.hpp"

#include <random>
#include <set>

namespace {

using namespace tg_test;

// RFC 4648 section 10 test vectors, with the padding removed as JWS base64url requires.
struct Vector {
    const char* bytes;
    const char* encoded;
};
constexpr Vector kRfc4648Vectors[] = {
    {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64Url, Rfc4648VectorsEncode) {
    for (const auto& v : kRfc4648Vectors) EXPECT_EQ(base64url_encode(v.bytes), v.encoded) << v.bytes;
}

TEST(Base64Url, Rfc4648VectorsDecode) {
    for (const auto& v : kRfc4648Vectors) {
        auto decoded = base64url_decode(v.encoded);
        ASSERT_TRUE(decoded.has_value()) << v.encoded;
        EXPECT_EQ(*decoded, v.bytes) << v.encoded;
    }
}

TEST(Base64Url, UsesUrlSafeAlphabet) {
    // 0xfb 0xff 0xbf is "+/+/" in standard base64.
    EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
    EXPECT_EQ(base64url_encode("\xff\xff\xff"), "____");
    EXPECT_EQ(base64url_encode("\xfb\xef\xbe"), "----");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(base64url_decode("-_-_"), std::string("\xfb\xff\xbf"));
    EXPECT_EQ(base64url_decode("____"), std::string("\xff\xff\xff"));
    EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64Url, EncodesBinaryIncludingNul) {
    std::string bytes("\0\0\0", 3);
    EXPECT_EQ(base64url_encode(bytes), "AAAA");
    EXPECT_EQ(base64url_decode("AAAA"), bytes);
    EXPECT_EQ(base64url_encode(std::string("\0", 1)), "AA");
    EXPECT_EQ(base64url_decode("AA"), std::string("\0", 1));
}

TEST(Base64Url, EmptyRoundTrip) {
    EXPECT_EQ(base64url_encode(""), "");
    auto decoded = base64url_decode("");
    ASSERT_TRUE(decoded.has_value());
    EXPECT_TRUE(decoded->empty());
}

TEST(Base64Url, RoundTripsAllByteValues) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    std::string encoded = base64url_encode(all);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(encoded), all);
}

TEST(Base64Url, RoundTripsRandomBytesOfEveryLength) {
    std::mt19937 rng(20240229);
    for (size_t len = 0; len <= 130; ++len) {
        for (int rep = 0; rep < 8; ++rep) {
            std::string bytes(len, '\0');
            for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
            std::string encoded = base64url_encode(bytes);
            // Unpadded length: ceil(4 * len / 3).
            EXPECT_EQ(encoded.size(), (4 * len + 2) / 3);
            auto decoded = base64url_decode(encoded);
            ASSERT_TRUE(decoded.has_value()) << encoded;
            EXPECT_EQ(*decoded, bytes);
        }
    }
}

TEST(Base64Url, RejectsStandardAlphabetCharacters) {
    EXPECT_FALSE(base64url_decode("+/+/"));
    EXPECT_FALSE(base64url_decode("-_+_"));
    EXPECT_FALSE(base64url_decode("-_/_"));
    EXPECT_FALSE(base64url_decode("Zm9v+A"));
    EXPECT_FALSE(base64url_decode("Zm9v/A"));
}

TEST(Base64Url, RejectsPadding) {
    EXPECT_FALSE(base64url_decode("Zg=="));
    EXPECT_FALSE(base64url_decode("Zg="));
    EXPECT_FALSE(base64url_decode("Zm8="));
    EXPECT_FALSE(base64url_decode("Zm9v===="));
    EXPECT_FALSE(base64url_decode("Zm9v="));
    EXPECT_FALSE(base64url_decode("===="));
    EXPECT_FALSE(base64url_decode("Z=9v"));
}

TEST(Base64Url, RejectsWhitespace) {
    for (const char* text : {" Zm9v", "Zm9v ", "Zm 9v", "Zm\n9v", "Zm9v\n", "Zm9v\r\n", "\tZm9v", "Zm9v\t",
                             "Zm\r9v", "Zm\v9v", "Zm\f9v"})
        EXPECT_FALSE(base64url_decode(text)) << '"' << text << '"';
}

TEST(Base64Url, RejectsOtherBytes) {
    EXPECT_FALSE(base64url_decode(std::string("Zm9v\0", 5)));
    EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)));
    EXPECT_FALSE(base64url_decode("Zm9v."));
    EXPECT_FALSE(base64url_decode("Zm9\xc3\xa9"));
    EXPECT_FALSE(base64url_decode("Zm9*"));
    EXPECT_FALSE(base64url_decode("Zm9~"));
    // Every byte outside the 64-character alphabet is refused in every position of a 4-char group.
    std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int b = 0; b < 256; ++b) {
        char c = static_cast<char>(b);
        if (alphabet.find(c) != std::string::npos) continue;
        for (size_t pos = 0; pos < 4; ++pos) {
            std::string text = "Zm9v";
            text[pos] = c;
            EXPECT_FALSE(base64url_decode(text)) << "byte " << b << " at " << pos;
        }
    }
}

TEST(Base64Url, RejectsLengthOneModFour) {
    EXPECT_FALSE(base64url_decode("Z"));
    EXPECT_FALSE(base64url_decode("A"));
    EXPECT_FALSE(base64url_decode("Zm9vY"));
    EXPECT_FALSE(base64url_decode("Zm9vYmFyZ"));
    for (size_t len = 1; len < 64; len += 4) EXPECT_FALSE(base64url_decode(std::string(len, 'A'))) << len;
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
    // One byte: 12 bits encoded, the low 4 bits of the second character must be zero.
    EXPECT_EQ(base64url_decode("AA"), std::string("\0", 1));
    EXPECT_FALSE(base64url_decode("AB"));
    EXPECT_FALSE(base64url_decode("AP"));
    EXPECT_EQ(base64url_decode("AQ"), std::string("\x01", 1));
    EXPECT_FALSE(base64url_decode("Zh"));  // "Zg" is "f"
    // Two bytes: the low 2 bits of the third character must be zero.
    EXPECT_EQ(base64url_decode("AAA"), std::string("\0\0", 2));
    EXPECT_FALSE(base64url_decode("AAB"));
    EXPECT_FALSE(base64url_decode("AAC"));
    EXPECT_FALSE(base64url_decode("AAD"));
    EXPECT_FALSE(base64url_decode("Zm9"));  // "Zm8" is "fo"
    EXPECT_EQ(base64url_decode("Zm8"), std::string("fo"));
    // Also after full groups.
    EXPECT_FALSE(base64url_decode("Zm9vYh"));
    EXPECT_FALSE(base64url_decode("Zm9vYmF"));
}

TEST(Base64Url, EveryOneByteValueHasExactlyOneTwoCharEncoding) {
    std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::set<std::string> decoded_values;
    size_t accepted = 0;
    for (char a : alphabet)
        for (char b : alphabet) {
            std::string text{a, b};
            auto decoded = base64url_decode(text);
            if (!decoded) continue;
            ++accepted;
            ASSERT_EQ(decoded->size(), 1u);
            EXPECT_EQ(base64url_encode(*decoded), text);
            decoded_values.insert(*decoded);
        }
    EXPECT_EQ(accepted, 256u);
    EXPECT_EQ(decoded_values.size(), 256u);
}

TEST(Base64Url, EveryTwoByteValueHasExactlyOneThreeCharEncoding) {
    std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t accepted = 0;
    std::vector<bool> seen(65536, false);
    for (char a : alphabet)
        for (char b : alphabet)
            for (char c : alphabet) {
                std::string text{a, b, c};
                auto decoded = base64url_decode(text);
                if (!decoded) continue;
                ++accepted;
                ASSERT_EQ(decoded->size(), 2u);
                unsigned value = static_cast<unsigned char>((*decoded)[0]) << 8 |
                                 static_cast<unsigned char>((*decoded)[1]);
                EXPECT_FALSE(seen[value]) << text;
                seen[value] = true;
            }
    EXPECT_EQ(accepted, 65536u);
}

}  // namespace
