// What import_tenant(), export_tenant() and reconcile_tenant() are doing right now, for
// tenant_guard.transfer_progress: one shared-memory row per backend that runs a transfer (table,
// phase, rows done, rows total), cleared when the transfer, its transaction or its backend ends.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

void request_transfer_progress_shared_memory();  // from _PG_init, while preloading

// operation: "import", "export" or "reconcile". A transfer still runs when every row is taken
// (more than kTransferProgressRows at once); it is then not shown.
void begin_transfer_progress(const char* operation, const pg_uuid_t* tenant, Oid caller);
void transfer_progress_tables_total(int tables_total);
void transfer_progress_table(const char* table_name, const char* phase, int64 rows_total);
void transfer_progress_phase(const char* phase);
void transfer_progress_rows(int64 rows_done);
void transfer_progress_table_done();
void end_transfer_progress() noexcept;

}  // namespace tenant_guard::pg
