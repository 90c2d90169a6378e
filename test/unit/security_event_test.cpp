// What a security event may keep of a refused token, and the shape of its detail and log line.
#include "security_event.hpp"
#include "test_support.hpp"

#include <set>

namespace tenant_guard::core {
namespace {

constexpr const char* kTenant = "7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

std::string unsigned_token(const std::string& claims) {
    return base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(claims) + ".c2lnbmF0dXJl";
}

TEST(UnverifiedClaims, ReadsTenantAndSubjectOnly) {
    const auto claims = read_unverified_claims(
        unsigned_token(std::string(R"({"tenant_id":")") + kTenant + R"(","sub":"alice","secret":"s3cr3t"})"), "tenant_id");
    ASSERT_TRUE(claims.tenant.has_value());
    EXPECT_EQ(claims.tenant->to_string(), kTenant);
    ASSERT_TRUE(claims.subject.has_value());
    EXPECT_EQ(*claims.subject, "alice");
}

TEST(UnverifiedClaims, UsesTheConfiguredTenantClaim) {
    const auto claims =
        read_unverified_claims(unsigned_token(std::string(R"({"district":")") + kTenant + R"("})"), "district");
    ASSERT_TRUE(claims.tenant.has_value());
    EXPECT_FALSE(read_unverified_claims(unsigned_token(std::string(R"({"district":")") + kTenant + R"("})"), "tenant_id")
                     .tenant.has_value());
}

TEST(UnverifiedClaims, GarbageGivesNothingAndNeverThrows) {
    for (const std::string& token : {std::string(""), std::string("a.b"), std::string("...."), std::string("x.!!!.y"),
                                    unsigned_token("[1,2]"), unsigned_token(R"({"tenant_id":"not-a-uuid","sub":7})"),
                                    unsigned_token(R"({"sub":"a","sub":"b"})"), std::string(kMaxTokenBytes + 1, 'a')}) {
        const auto claims = read_unverified_claims(token, "tenant_id");
        EXPECT_FALSE(claims.tenant.has_value()) << token.substr(0, 40);
        EXPECT_FALSE(claims.subject.has_value()) << token.substr(0, 40);
    }
}

TEST(UnverifiedClaims, LongSubjectIsCutOnACharacterBoundary) {
    std::string subject;
    for (int i = 0; i < 100; i++) subject += "\xC3\xA9";  // é, two bytes each
    const auto claims = read_unverified_claims(unsigned_token(R"({"sub":")" + subject + R"("})"), "tenant_id");
    ASSERT_TRUE(claims.subject.has_value());
    EXPECT_LE(claims.subject->size(), kMaxEventSubjectBytes);
    EXPECT_EQ(claims.subject->size() % 2, 0u);
    EXPECT_EQ(clip_utf8("abc", 2), "ab");
    EXPECT_EQ(clip_utf8("a\xC3\xA9", 2), "a");
}

SecurityEventRecord sample() {
    SecurityEventRecord event;
    event.occurred_at = "2026-11-26 10:00:00+00";
    event.database = "district_db";
    event.kind = "context_refused";
    event.reason = "bad_signature";
    event.tenant_id = kTenant;
    event.subject = "mallory \"quoted\"\n";
    event.role_name = "app";
    event.backend_pid = 4242;
    event.sqlstate = "28000";
    event.message = "tenant token rejected: token signature is invalid";
    return event;
}

TEST(EventText, DetailCarriesSqlstateMessageAndVerification) {
    const auto detail = Json::parse(event_detail_json(sample()));
    EXPECT_EQ(detail["sqlstate"], "28000");
    EXPECT_EQ(detail["tenant_verified"], false);
    EXPECT_FALSE(detail.contains("object"));
    EXPECT_FALSE(detail.contains("route"));
}

TEST(EventText, LogLineIsOneLineOfJsonWithEveryField) {
    const std::string line = event_log_line(sample());
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto parsed = Json::parse(line);
    for (const char* key : {"occurred_at", "database", "kind", "reason", "tenant_id", "subject", "role_name",
                            "application_name", "client_addr", "backend_pid", "detail"})
        EXPECT_TRUE(parsed.contains(key)) << key;
    EXPECT_EQ(parsed["subject"], "mallory \"quoted\"\n");
    EXPECT_TRUE(parsed["client_addr"].is_null());
    EXPECT_EQ(parsed["backend_pid"], 4242);
}

TEST(EventText, InvalidUtf8IsReplacedNotFatal) {
    SecurityEventRecord event = sample();
    event.message = "bad \xFF byte";
    EXPECT_NO_THROW(event_log_line(event));
}

TEST(RefusalCodes, AreDistinctSnakeCaseNames) {
    std::set<std::string> seen;
    for (int i = 0; i < kRefusalCount; i++) {
        const std::string code = refusal_code(static_cast<Refusal>(i));
        EXPECT_TRUE(seen.insert(code).second) << code;
        for (char c : code) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << code;
    }
}

TEST(RefusalCodes, SignatureFailuresAreUnverified) {
    EXPECT_FALSE(refused_after_signature(Refusal::BadSignature));
    EXPECT_FALSE(refused_after_signature(Refusal::AlgorithmNone));
    EXPECT_FALSE(refused_after_signature(Refusal::UnknownKey));
    EXPECT_FALSE(refused_after_signature(Refusal::BadIssuer));
    EXPECT_FALSE(refused_after_signature(Refusal::BadAudience));
    EXPECT_TRUE(refused_after_signature(Refusal::Expired));
    EXPECT_TRUE(refused_after_signature(Refusal::TenantNotAllowed));
}

// An expired token from another issuer is refused for its issuer: its tenant is not ours to trust.
TEST(RefusalCodes, IssuerIsCheckedBeforeTimes) {
    ClaimPolicy policy;
    policy.issuer = "https://idp.example/district";
    try {
        validate_claims(R"({"iss":"https://idp.example/other","exp":1,"tenant_id":"7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"})",
                        policy, 1000000);
        FAIL() << "accepted";
    } catch (const TokenRefused& refused) {
        EXPECT_EQ(refused.reason(), Refusal::BadIssuer);
    }
}

}  // namespace
}  // namespace tenant_guard::core
