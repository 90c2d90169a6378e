#include "security_event.hpp"

#include "base64url.hpp"
#include "strict_json.hpp"
#include "token.hpp"

namespace tenant_guard::core {

std::string_view clip_utf8(std::string_view text, size_t max_bytes) noexcept {
    if (text.size() <= max_bytes) return text;
    size_t end = max_bytes;
    // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end);
}

UnverifiedClaims read_unverified_claims(std::string_view token, std::string_view tenant_claim) noexcept {
    UnverifiedClaims claims;
    try {
        if (token.size() > kMaxTokenBytes) return claims;
        const size_t first = token.find('.');
        if (first == std::string_view::npos) return claims;
        const size_t second = token.find('.', first + 1);
        if (second == std::string_view::npos) return claims;
        auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
        if (!payload) return claims;
        auto json = parse_strict_json(*payload);
        if (!json || !json->is_object()) return claims;
        auto tenant = json->find(std::string(tenant_claim));
        if (tenant != json->end() && tenant->is_string()) claims.tenant = parse_tenant_id(tenant->get_ref<const std::string&>());
        auto subject = json->find("sub");
        if (subject != json->end() && subject->is_string())
            claims.subject = std::string(clip_utf8(subject->get_ref<const std::string&>(), kMaxEventSubjectBytes));
    } catch (...) {
        return UnverifiedClaims{};
    }
    return claims;
}

namespace {

Json detail_object(const SecurityEventRecord& event) {
    Json detail = Json::object();
    detail["sqlstate"] = event.sqlstate;
    detail["message"] = event.message;
    detail["tenant_verified"] = event.tenant_verified;
    if (!event.object.empty()) detail["object"] = event.object;
    if (!event.route.empty()) detail["route"] = event.route;
    return detail;
}

Json optional_text(const std::optional<std::string>& value) { return value ? Json(*value) : Json(nullptr); }

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

std::string event_detail_json(const SecurityEventRecord& event) { return dump(detail_object(event)); }

std::string event_log_line(const SecurityEventRecord& event) {
    // nlohmann's object keeps its keys sorted: every line has the same keys in the same (alphabetical) order.
    Json line = Json::object();
    line["occurred_at"] = event.occurred_at;
    line["database"] = event.database;
    line["kind"] = event.kind;
    line["reason"] = event.reason;
    line["tenant_id"] = optional_text(event.tenant_id);
    line["subject"] = optional_text(event.subject);
    line["role_name"] = optional_text(event.role_name);
    line["application_name"] = optional_text(event.application_name);
    line["client_addr"] = optional_text(event.client_addr);
    line["backend_pid"] = event.backend_pid;
    line["detail"] = detail_object(event);
    return dump(line);
}

}  // namespace tenant_guard::core
