// tenant_guard's background workers (database_worker.cpp): one launcher per cluster, one worker per
// database that stores security events and seals the audit ledger.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

// From _PG_init while shared_preload_libraries loads the library.
void register_launcher();
void request_worker_shared_memory();  // adds the workers' part (shared_memory.hpp)

// Asks the launcher for a worker in this database, unless one is running. Cheap (no lock when one
// runs); a no-op when the library was not preloaded.
void ensure_database_worker() noexcept;

// Wakes the database's worker (or, without one, the launcher). Never waits.
void wake_database_worker(Oid database) noexcept;
bool database_worker_running(Oid database) noexcept;

// DROP DATABASE must not wait for our worker: stop it first.
void stop_database_worker(Oid database);

}  // namespace tenant_guard::pg
