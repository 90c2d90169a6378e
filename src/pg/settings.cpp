#include "settings.hpp"

#include "key_store.hpp"
#include "postgres.hpp"

namespace tenant_guard::pg {

Settings settings;

namespace {

bool check_tenant_claim(char** newval, void** /*extra*/, GucSource /*source*/) {
    if (*newval == nullptr || (*newval)[0] == '\0') {
        GUC_check_errdetail("The setting must name a claim.");
        return false;
    }
    return true;
}

bool check_tenant_column(char** newval, void** /*extra*/, GucSource /*source*/) {
    if (*newval == nullptr || (*newval)[0] == '\0' || strlen(*newval) >= NAMEDATALEN) {
        GUC_check_errdetail("tenant_guard.tenant_column must name a column (at most %d bytes).", NAMEDATALEN - 1);
        return false;
    }
    return true;
}

const struct config_enum_entry missing_context_options[] = {
    {"empty", kMissingContextEmpty, false},
    {"error", kMissingContextError, false},
    {nullptr, 0, false},
};

}  // namespace

void define_settings() {
    DefineCustomStringVariable(
        "tenant_guard.jwks_file", "Path of the JWKS file holding the keys that may sign tenant tokens.",
        "Read at server start and on every configuration reload; an unreadable or invalid file keeps "
        "the previous key set.",
        &settings.jwks_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, check_jwks_file,
        assign_jwks_file, nullptr);
    DefineCustomStringVariable("tenant_guard.tenant_claim", "Claim that carries the tenant id (a UUID).", nullptr,
                               &settings.tenant_claim, "tenant_id", PGC_SUSET, 0, check_tenant_claim, nullptr,
                               nullptr);
    DefineCustomStringVariable("tenant_guard.tenants_claim",
                               "Claim that lists the tenants (UUIDs) a token may act for; empty: not used.", nullptr,
                               &settings.tenants_claim, "tenants", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("tenant_guard.require_exp", "Refuse tokens without an exp claim.", nullptr,
                             &settings.require_exp, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("tenant_guard.require_jti",
                             "Replay defence: every token needs a jti, and a jti is accepted once per backend.",
                             "Only for one-time tokens: presenting the same token again is then refused.",
                             &settings.require_jti, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("tenant_guard.clock_skew", "Leeway for exp, nbf and iat.", nullptr,
                            &settings.clock_skew_seconds, 30, 0, 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr,
                            nullptr);
    DefineCustomStringVariable("tenant_guard.issuer", "Required iss claim; empty accepts any issuer.", nullptr,
                               &settings.issuer, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("tenant_guard.audience",
                               "Required aud claim (string or array member); empty accepts any audience.", nullptr,
                               &settings.audience, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("tenant_guard.allow_session_context",
                             "Allow set_tenant(token, false): a context that lasts for the session.",
                             "Turn off where connections are pooled in transaction mode.",
                             &settings.allow_session_context, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("tenant_guard.missing_context",
                             "What a protected table does for a query without a tenant context.",
                             "empty: no rows are visible and writes are refused; error: the query fails.",
                             &settings.missing_context, kMissingContextEmpty, missing_context_options, PGC_SUSET,
                             0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("tenant_guard.tenant_column",
                               "Name of the tenant column (type uuid) that marks a table for protection.", nullptr,
                               &settings.tenant_column, "tenant_id", PGC_SUSET, 0, check_tenant_column, nullptr,
                               nullptr);
    DefineCustomBoolVariable("tenant_guard.auto_index",
                             "Create an index on the tenant column when a protected table has none led by it.",
                             nullptr, &settings.auto_index, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("tenant_guard.restoring",
                             "Restoring a dump: automatic protection stands aside while the dump recreates it.",
                             "Set it for pg_restore / psql sessions that load a dump (PGOPTIONS).",
                             &settings.restoring, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("tenant_guard.cluster_key",
                               "Key id (kid) of the key that signs a Citus coordinator's context assertions.",
                               "An HMAC key in every node's JWKS; tokens signed with it are refused as tenant tokens.",
                               &settings.cluster_key, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("tenant_guard.admin_claim",
                               "Claim whose value (string, array or space-separated list) names a token's roles.",
                               "A token whose claim holds tenant_admin may read its own tenant's audit ledger.",
                               &settings.admin_claim, "roles", PGC_SUSET, 0, check_tenant_claim, nullptr, nullptr);
    DefineCustomBoolVariable("tenant_guard.audit_new_tables",
                             "Audit every table that automatic row-level security protects from now on.", nullptr,
                             &settings.audit_new_tables, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("tenant_guard.audit_seal_interval",
                            "How often the background worker seals finished audit entries into blocks.", nullptr,
                            &settings.audit_seal_interval_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
}

}  // namespace tenant_guard::pg
