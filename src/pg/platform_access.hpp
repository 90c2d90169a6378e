// Platform access (platform_access.cpp): a platform administrator's signed, recorded, read-only
// look across every tenant, for the current transaction only.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

bool platform_access_active() noexcept;
void end_platform_access() noexcept;  // transaction end, DISCARD ALL, reset_tenant()
void platform_access_subtransaction_aborted(SubTransactionId subxid) noexcept;

// Utility statements other than transaction control, SET/SHOW, EXPLAIN, cursors and prepared
// statements are refused while platform access is open (TG002).
void refuse_utility_in_platform_access(const Node* statement);
// TG002 "platform access is read-only: <what> is not allowed".
[[noreturn]] void refuse_platform_write(const char* what);

void install_platform_access_hooks();

}  // namespace tenant_guard::pg
