// The configuration GUCs (everything except the context GUC itself, which lives in context.cpp).
#pragma once

namespace tenant_guard::pg {

// tenant_guard.missing_context: what a protected table does for a query without a tenant context.
enum MissingContext { kMissingContextEmpty, kMissingContextError };

struct Settings {
    char* jwks_file = nullptr;
    char* tenant_claim = nullptr;
    char* tenants_claim = nullptr;
    bool require_exp = true;
    bool require_jti = false;
    int clock_skew_seconds = 30;
    char* issuer = nullptr;
    char* audience = nullptr;
    bool allow_session_context = true;
    // Citus: the kid of the key, in every node's JWKS, that signs the coordinator's context
    // assertions to its workers (core/context_assertion.hpp). Never accepted for application tokens.
    char* cluster_key = nullptr;
    // Automatic row-level security (protection.cpp, ddl_trigger.cpp).
    int missing_context = kMissingContextEmpty;
    char* tenant_column = nullptr;
    bool auto_index = true;
    bool restoring = false;
    // Audit ledger (ledger*.cpp, audit_capture.cpp).
    char* admin_claim = nullptr;
    bool audit_new_tables = false;
    int audit_seal_interval_ms = 1000;
};

extern Settings settings;

void define_settings();

}  // namespace tenant_guard::pg
