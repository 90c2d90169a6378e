// The trusted key set, loaded from the file named by tenant_guard.jwks_file.
#pragma once

#include "postgres.hpp"

#include "../core/keys.hpp"

#include <memory>

namespace tenant_guard::pg {

// A snapshot that stays valid while held, even across a reload. Never throws.
std::shared_ptr<const core::KeySet> current_key_set() noexcept;

// GUC hooks for tenant_guard.jwks_file. The file is read when the setting is (re)applied: at
// server start (before backends fork, so they share the parsed set) and on every reload.
bool check_jwks_file(char** newval, void** extra, GucSource source);
void assign_jwks_file(const char* newval, void* extra);

void mark_preloaded();

}  // namespace tenant_guard::pg
