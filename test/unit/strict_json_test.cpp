#include "test_support.hpp"

namespace {

using namespace tg_test;

// `depth` nested objects: {"a":{"a":...{}...}}; "{}" has depth 1.
std::string nested_objects(int depth) {
    std::string out;
    for (int i = 1; i < depth; ++i) out += "{\"a\":";
    out += "{}";
    out += std::string(static_cast<size_t>(depth - 1), '}');
    return out;
}

std::string nested_arrays(int depth) {
    return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
}

// Alternating [ { "a": [ { ... depth containers in total.
std::string nested_mixed(int depth) {
    std::string open, close;
    for (int i = 0; i < depth; ++i) {
        if (i % 2 == 0) {
            open += "[";
            close = "]" + close;
        } else {
            open += "{\"k\":";
            close = "}" + close;
        }
    }
    // The innermost container must be complete JSON: an object opened last needs a value.
    if (depth % 2 == 0) return open + "1" + close;
    return open + close;
}

TEST(StrictJson, ParsesOrdinaryObject) {
    auto parsed = parse_strict_json(R"({"a":1,"b":"two","c":[true,null,{"d":1.5}]})");
    ASSERT_TRUE(parsed.has_value());
    ASSERT_TRUE(parsed->is_object());
    EXPECT_EQ((*parsed)["a"], 1);
    EXPECT_EQ((*parsed)["b"], "two");
    EXPECT_EQ((*parsed)["c"][2]["d"], 1.5);
}

TEST(StrictJson, ParsesScalarsAndArraysAtTopLevel) {
    EXPECT_EQ(parse_strict_json("[1,2]"), Json::array({1, 2}));
    EXPECT_EQ(parse_strict_json("\"s\""), Json("s"));
    EXPECT_EQ(parse_strict_json("42"), Json(42));
    EXPECT_EQ(parse_strict_json("null"), Json(nullptr));
}

TEST(StrictJson, RefusesEmptyAndMalformedInput) {
    for (const char* text : {"", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{a:1}", "{'a':1}", "[1,]", "{\"a\":1,}",
                             "nul", "tru", "01", "NaN", "Infinity", "\"unterminated"})
        EXPECT_FALSE(parse_strict_json(text)) << text;
}

TEST(StrictJson, RefusesComments) {
    EXPECT_FALSE(parse_strict_json("{/* c */\"a\":1}"));
    EXPECT_FALSE(parse_strict_json("{\"a\":1} // c"));
}

TEST(StrictJson, RefusesDuplicateTopLevelKeys) {
    EXPECT_FALSE(parse_strict_json(R"({"alg":"HS256","alg":"none"})"));
    EXPECT_FALSE(parse_strict_json(R"({"a":1,"b":2,"a":1})"));
    EXPECT_TRUE(parse_strict_json(R"({"a":1,"b":2,"c":1})"));
}

TEST(StrictJson, RefusesDuplicateKeysSpelledWithEscapes) {
    // "\u0061" decodes to "a": the same member name, differently spelled.
    EXPECT_FALSE(parse_strict_json(R"({"a":1,"\u0061":2})"));
    EXPECT_FALSE(parse_strict_json(R"({"alg":"HS256","\u0061lg":"none"})"));
}

TEST(StrictJson, RefusesNestedDuplicateKeys) {
    EXPECT_FALSE(parse_strict_json(R"({"outer":{"x":1,"x":2}})"));
    EXPECT_FALSE(parse_strict_json(R"({"outer":[{"x":1},{"y":1,"y":2}]})"));
    EXPECT_FALSE(parse_strict_json(R"([[{"deep":{"deeper":{"z":1,"z":1}}}]])"));
    // A duplicate after a closed nested object still counts for the outer object.
    EXPECT_FALSE(parse_strict_json(R"({"x":1,"inner":{"y":1},"x":2})"));
}

TEST(StrictJson, SameKeyInDifferentObjectsIsFine) {
    EXPECT_TRUE(parse_strict_json(R"({"a":{"a":{"a":1}}})"));
    EXPECT_TRUE(parse_strict_json(R"({"x":{"k":1},"y":{"k":2}})"));
    EXPECT_TRUE(parse_strict_json(R"([{"k":1},{"k":2},{"k":3}])"));
    EXPECT_TRUE(parse_strict_json(R"({"inner":{"x":1},"x":2})"));
}

TEST(StrictJson, DepthHelpersProduceTheDepthTheyClaim) {
    EXPECT_EQ(nested_objects(1), "{}");
    EXPECT_EQ(nested_objects(3), R"({"a":{"a":{}}})");
    EXPECT_EQ(nested_arrays(2), "[[]]");
    EXPECT_EQ(nested_mixed(3), R"([{"k":[]}])");
    EXPECT_EQ(nested_mixed(2), R"([{"k":1}])");
}

TEST(StrictJson, ObjectDepth32AcceptedAnd33Refused) {
    ASSERT_EQ(kMaxJsonDepth, 32);
    EXPECT_TRUE(parse_strict_json(nested_objects(31)));
    EXPECT_TRUE(parse_strict_json(nested_objects(32)));
    EXPECT_FALSE(parse_strict_json(nested_objects(33)));
    EXPECT_FALSE(parse_strict_json(nested_objects(34)));
}

TEST(StrictJson, ArrayDepth32AcceptedAnd33Refused) {
    EXPECT_TRUE(parse_strict_json(nested_arrays(32)));
    EXPECT_FALSE(parse_strict_json(nested_arrays(33)));
}

TEST(StrictJson, MixedDepth32AcceptedAnd33Refused) {
    EXPECT_TRUE(parse_strict_json(nested_mixed(32)));
    EXPECT_FALSE(parse_strict_json(nested_mixed(33)));
    EXPECT_TRUE(parse_strict_json(nested_mixed(31)));
}

TEST(StrictJson, DepthIsCountedPerPathNotPerDocument) {
    // Two siblings of depth 31 inside one array: depth 32 overall, though 63 containers in total.
    std::string doc = "[" + nested_arrays(31) + "," + nested_objects(31) + "]";
    EXPECT_TRUE(parse_strict_json(doc));
    // Many shallow containers in sequence.
    std::string wide = "[";
    for (int i = 0; i < 200; ++i) wide += (i ? ",[{}]" : "[{}]");
    wide += "]";
    EXPECT_TRUE(parse_strict_json(wide));
    // But one path deeper than the cap is refused even after a shallow sibling.
    EXPECT_FALSE(parse_strict_json("[[]," + nested_arrays(32) + "]"));
}

TEST(StrictJson, HostileDepthIsRefusedCheaply) {
    EXPECT_FALSE(parse_strict_json(std::string(100000, '[')));
    EXPECT_FALSE(parse_strict_json(nested_arrays(5000)));
}

TEST(StrictJson, RefusesInvalidUtf8) {
    for (std::string text : {
             std::string("\"\xff\""),                // never valid
             std::string("\"\x80\""),                // lone continuation byte
             std::string("\"\xc0\xaf\""),            // overlong "/"
             std::string("\"\xe0\x80\xaf\""),        // overlong, 3 bytes
             std::string("\"\xed\xa0\x80\""),        // UTF-16 surrogate encoded in UTF-8
             std::string("\"\xe2\x82\""),            // truncated sequence
             std::string("\"\xf4\x90\x80\x80\""),    // beyond U+10FFFF
             std::string("{\"k\xff\":1}"),           // in a key
             std::string("{\"k\":\"a\xfe" "b\"}"),   // in a nested value
             std::string("\xff{}"),                  // outside strings
         })
        EXPECT_FALSE(parse_strict_json(text)) << ::testing::PrintToString(text);
}

TEST(StrictJson, AcceptsValidUtf8) {
    auto parsed = parse_strict_json("{\"k\":\"\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9\"}");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ((*parsed)["k"], "\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9");
}

TEST(StrictJson, RefusesLoneSurrogateEscapes) {
    EXPECT_FALSE(parse_strict_json(R"("\ud800")"));
    EXPECT_FALSE(parse_strict_json(R"("\udc00")"));
    EXPECT_FALSE(parse_strict_json(R"("\ud800x")"));
    auto pair = parse_strict_json(R"("\ud83d\ude00")");
    ASSERT_TRUE(pair.has_value());
    EXPECT_EQ(*pair, Json("\xf0\x9f\x98\x80"));
}

TEST(StrictJson, RefusesTrailingGarbage) {
    for (std::string text : {std::string("{} x"), std::string("{}{}"), std::string("{}}"), std::string("{},"),
                             std::string("[1] 2"), std::string("1 2"), std::string("{\"a\":1}\"b\""),
                             std::string("{}\0", 3), std::string("{}\x01")})
        EXPECT_FALSE(parse_strict_json(text)) << ::testing::PrintToString(text);
}

TEST(StrictJson, RefusesNulBytesAnywhere) {
    // The JSON library's lexer stops at NUL, so without an explicit check everything after a NUL
    // byte would be ignored.
    const std::string nul(1, '\0');
    EXPECT_FALSE(parse_strict_json("{}" + nul));
    EXPECT_FALSE(parse_strict_json("{}" + nul + "garbage"));
    EXPECT_FALSE(parse_strict_json(R"({"a":1})" + nul + R"({"a":2})"));
    EXPECT_FALSE(parse_strict_json(R"({"a":1)" + nul + "}"));
    EXPECT_FALSE(parse_strict_json(R"({"a":"x)" + nul + R"(y"})"));
    EXPECT_FALSE(parse_strict_json(nul + "{}"));
    EXPECT_FALSE(parse_strict_json(nul));
    // An escaped NUL inside a string is valid JSON.
    auto escaped = parse_strict_json(R"({"a":"x\u0000y"})");
    ASSERT_TRUE(escaped.has_value());
    EXPECT_EQ((*escaped)["a"], std::string("x\0y", 3));
}

TEST(StrictJson, AllowsSurroundingWhitespace) {
    EXPECT_TRUE(parse_strict_json(" \t\r\n{\"a\":1} \r\n\t"));
}

TEST(StrictJson, RefusesNumberOverflow) {
    // A float that cannot be represented must not turn into infinity silently.
    EXPECT_FALSE(parse_strict_json(R"({"exp":1e400})"));
}

}  // namespace
