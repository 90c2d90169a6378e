// The configuration GUCs (everything except the context GUC itself, which lives in context.cpp).
#pragma once

namespace tenant_guard::pg {

struct Settings {
    char* jwks_file = nullptr;
    char* tenant_claim = nullptr;
    bool require_exp = true;
    int clock_skew_seconds = 30;
    char* issuer = nullptr;
    char* audience = nullptr;
    bool allow_session_context = true;
};

extern Settings settings;

void define_settings();

}  // namespace tenant_guard::pg
