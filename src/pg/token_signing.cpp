// sign_token(): mints HS tokens with the configured keys, for demos, tests and operators.
#include "boundary.hpp"
#include "key_store.hpp"
#include "postgres.hpp"

#include "../core/token.hpp"

using namespace tenant_guard;

extern "C" {

TG_SQL_FUNCTION(tg_sign_token)

Datum tg_sign_token(PG_FUNCTION_ARGS) {
    // EXECUTE is revoked from PUBLIC as well; this holds even if someone grants it back.
    if (!superuser())
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("only superusers can sign tenant tokens")));
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("claims must not be null")));
    const char* claims = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(0)));
    const char* kid = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));

    char* token = nullptr;
    pg::CoreFailure failure;
    bool signed_ok = pg::call_core(
        [&] {
            auto keys = pg::current_key_set();
            if (!keys || keys->empty()) throw core::InvalidArgument("no keys are configured (tenant_guard.jwks_file)");
            std::string kid_text = kid ? kid : "";
            token = pg::pstrdup_or_throw(core::sign_token(claims, *keys, kid ? &kid_text : nullptr));
        },
        &failure);
    if (!signed_ok) pg::raise_core_failure(failure);
    PG_RETURN_TEXT_P(cstring_to_text(token));
}

}  // extern "C"
