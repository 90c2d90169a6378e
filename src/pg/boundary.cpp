#include "boundary.hpp"

#include <cstring>
#include <exception>
#include <new>

namespace tenant_guard::pg {

namespace {

void copy_message(CoreFailure* failure, const char* prefix, const char* text) {
    snprintf(failure->message, sizeof(failure->message), "%s%s", prefix, text);
}

int sqlstate_for(core::Refusal reason) {
    // A missing key set is the operator's problem, not the caller's token.
    if (reason == core::Refusal::NoKeys) return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
    return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
}

}  // namespace

void record_current_exception(CoreFailure* failure) noexcept {
    try {
        throw;
    } catch (const core::TokenRefused& refused) {
        failure->sqlstate = sqlstate_for(refused.reason());
        failure->is_token_refusal = true;
        failure->refusal = static_cast<int>(refused.reason());
        copy_message(failure, "tenant token rejected: ", refused.what());
    } catch (const core::InvalidArgument& invalid) {
        failure->sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
        copy_message(failure, "", invalid.what());
    } catch (const core::KeySetError& bad_keys) {
        failure->sqlstate = ERRCODE_CONFIG_FILE_ERROR;
        copy_message(failure, "tenant_guard key set is invalid: ", bad_keys.what());
    } catch (const std::bad_alloc&) {
        failure->sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_message(failure, "", "out of memory");
    } catch (const std::exception& other) {
        failure->sqlstate = ERRCODE_INTERNAL_ERROR;
        copy_message(failure, "tenant_guard internal error: ", other.what());
    } catch (...) {
        failure->sqlstate = ERRCODE_INTERNAL_ERROR;
        copy_message(failure, "", "tenant_guard internal error");
    }
}

void raise_core_failure(const CoreFailure& failure) {
    // The failing statement usually carries the token as a literal: keep it out of the server log.
    ereport(ERROR, (errcode(failure.sqlstate), errmsg("%s", failure.message),
                    errhidestmt(failure.is_token_refusal), errhidecontext(failure.is_token_refusal)));
    pg_unreachable();
}

void* palloc_or_throw(size_t size) {
    void* memory = palloc_extended(size, MCXT_ALLOC_NO_OOM);
    if (memory == nullptr) throw std::bad_alloc();
    return memory;
}

char* pstrdup_or_throw(std::string_view text) {
    char* copy = static_cast<char*>(palloc_or_throw(text.size() + 1));
    memcpy(copy, text.data(), text.size());
    copy[text.size()] = '\0';
    return copy;
}

}  // namespace tenant_guard::pg
