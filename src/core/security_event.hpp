// Security events without PostgreSQL: what a refused token claimed (read without trusting it), and
// the JSON of an event's detail and of its one log line. The adapter (src/pg/security_events.cpp)
// queues events in shared memory and its background worker stores and logs them.
#pragma once
#include "no_postgres.hpp"

#include "tenant_uuid.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace tenant_guard::core {

// Longest subject an event keeps (bytes, cut on a UTF-8 character boundary).
inline constexpr size_t kMaxEventSubjectBytes = 127;

// The tenant and subject a token claims, read from its payload WITHOUT checking the signature: only
// for recording a refusal, marked unverified. Never throws; anything unreadable is left out. Only
// the named claims are returned, never the token or other claim values.
struct UnverifiedClaims {
    std::optional<TenantId> tenant;
    std::optional<std::string> subject;
};
UnverifiedClaims read_unverified_claims(std::string_view token, std::string_view tenant_claim) noexcept;

// Cuts text to at most max_bytes without splitting a UTF-8 sequence.
std::string_view clip_utf8(std::string_view text, size_t max_bytes) noexcept;

struct SecurityEventRecord {
    std::string occurred_at;  // ISO 8601
    std::string database;
    std::string kind;
    std::string reason;
    std::optional<std::string> tenant_id;
    bool tenant_verified = false;
    std::optional<std::string> subject;
    std::optional<std::string> role_name;
    std::optional<std::string> application_name;
    std::optional<std::string> client_addr;
    int backend_pid = 0;
    // detail
    std::string sqlstate;
    std::string message;
    std::string object;  // the table, view, trigger or setting concerned; empty: none
    std::string route;   // how the attempt came in (SET, set_config, startup option, ...); empty: n/a
};

// The detail column: {"sqlstate", "message", "tenant_verified", and "object"/"route" when known}.
std::string event_detail_json(const SecurityEventRecord& event);

// One line of JSON carrying every field of the event, the detail nested.
std::string event_log_line(const SecurityEventRecord& event);

}  // namespace tenant_guard::core
