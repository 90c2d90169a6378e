#include "settings.hpp"

#include "key_store.hpp"
#include "postgres.hpp"

namespace tenant_guard::pg {

Settings settings;

namespace {

bool check_tenant_claim(char** newval, void** /*extra*/, GucSource /*source*/) {
    if (*newval == nullptr || (*newval)[0] == '\0') {
        GUC_check_errdetail("tenant_guard.tenant_claim must name a claim.");
        return false;
    }
    return true;
}

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
    DefineCustomBoolVariable("tenant_guard.require_exp", "Refuse tokens without an exp claim.", nullptr,
                             &settings.require_exp, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
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
}

}  // namespace tenant_guard::pg
