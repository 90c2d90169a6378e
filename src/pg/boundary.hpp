// The one crossing between PostgreSQL and the C++ core.
//
// PostgreSQL reports errors with longjmp, which skips C++ destructors; C++ reports them with
// exceptions, which must never unwind through PostgreSQL frames. So: C++ work runs inside
// call_core(), which catches every exception and records it in a plain struct; the caller raises
// the PostgreSQL error afterwards, from a frame that holds no C++ object. Code inside call_core()
// must not call anything that can ereport(): it allocates PostgreSQL memory only via
// palloc_or_throw()/pstrdup_or_throw(), which turn out-of-memory into std::bad_alloc.
#pragma once

#include "postgres.hpp"

#include "../core/refusal.hpp"

#include <string_view>

namespace tenant_guard::pg {

struct CoreFailure {
    int sqlstate = 0;
    bool is_token_refusal = false;
    int refusal = -1;  // core::Refusal of a token refusal
    char message[256] = {0};
};

void record_current_exception(CoreFailure* failure) noexcept;

template <typename Body>
bool call_core(Body&& body, CoreFailure* failure) noexcept {
    try {
        body();
        return true;
    } catch (...) {
        record_current_exception(failure);
        return false;
    }
}

[[noreturn]] void raise_core_failure(const CoreFailure& failure);

void* palloc_or_throw(size_t size);
char* pstrdup_or_throw(std::string_view text);

}  // namespace tenant_guard::pg
