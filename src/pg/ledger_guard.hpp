// Keeps the audit ledger append-only (ledger_guard.cpp).
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

void install_ledger_guard();

// Called by the ProcessUtility hook before a statement runs: refuses what would change the ledger
// or silence an audited table. Returns true for DROP EXTENSION tenant_guard.
bool guard_ledger_utility(Node* statement);

// Runs the statement; with drops_extension the object-access hook lets the ledger go, only while
// the statement runs.
void run_guarded_utility(bool drops_extension, void (*run)(void* arg), void* arg);

}  // namespace tenant_guard::pg
