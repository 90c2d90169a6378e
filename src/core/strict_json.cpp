#include "strict_json.hpp"

#include <set>
#include <string>
#include <vector>

namespace tenant_guard::core {

namespace {

struct Rejected {};

}  // namespace

std::optional<Json> parse_strict_json(std::string_view text) {
    // nlohmann's lexer takes a NUL byte for the end of input, so "{}\0garbage" would parse as "{}".
    // NUL is never valid in JSON text (inside strings it must be escaped), so refuse it outright.
    if (text.find('\0') != std::string_view::npos) return std::nullopt;
    std::vector<std::set<std::string>> keys_per_open_object;
    int open_containers = 0;
    auto inspect = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) -> bool {
        switch (event) {
            case Json::parse_event_t::object_start:
                keys_per_open_object.emplace_back();
                [[fallthrough]];
            case Json::parse_event_t::array_start:
                if (++open_containers > kMaxJsonDepth) throw Rejected{};
                break;
            case Json::parse_event_t::object_end:
                keys_per_open_object.pop_back();
                [[fallthrough]];
            case Json::parse_event_t::array_end:
                --open_containers;
                break;
            case Json::parse_event_t::key:
                if (!keys_per_open_object.back().insert(parsed.get<std::string>()).second) throw Rejected{};
                break;
            case Json::parse_event_t::value:
                break;
        }
        return true;
    };
    try {
        Json result = Json::parse(text.begin(), text.end(), inspect, /*allow_exceptions=*/true,
                                  /*ignore_comments=*/false);
        if (result.is_discarded()) return std::nullopt;
        return result;
    } catch (const Rejected&) {
        return std::nullopt;
    } catch (const Json::exception&) {
        return std::nullopt;
    }
}

}  // namespace tenant_guard::core
