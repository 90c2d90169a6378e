// The background sealer of the audit ledger (ledger_worker.cpp): one launcher per cluster, one
// sealer per database that writes audit entries.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

// From _PG_init while shared_preload_libraries loads the library.
void register_ledger_launcher();
void request_ledger_shared_memory();  // PG < 15: from _PG_init; PG 15+: installs shmem_request_hook

// Asks the launcher for a sealer in this database, unless one is running. Cheap (no lock when one
// runs); a no-op when the library was not preloaded.
void ensure_ledger_sealer() noexcept;

// DROP DATABASE must not wait for our sealer: stop it first.
void stop_ledger_sealer(Oid database);

}  // namespace tenant_guard::pg
