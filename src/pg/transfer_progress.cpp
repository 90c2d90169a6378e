#include "transfer_progress.hpp"

#include "shared_memory.hpp"

#include <cstring>

namespace tenant_guard::pg {

namespace {

constexpr int kTransferProgressRows = 64;

struct ProgressRow {
    slock_t mutex;
    int pid;  // 0: free
    Oid database;
    Oid user;
    pg_uuid_t tenant;
    char operation[16];
    char table_name[2 * NAMEDATALEN + 8];
    char phase[32];
    int tables_done;
    int tables_total;
    int64 rows_done;
    int64 rows_total;
    TimestampTz started_at;
};

ProgressRow* rows = nullptr;
ProgressRow* my_row = nullptr;
bool exit_callback_registered = false;

Size shared_size() { return sizeof(ProgressRow) * kTransferProgressRows; }

void attach() {
    bool found = false;
    rows = static_cast<ProgressRow*>(ShmemInitStruct("tenant_guard transfer progress", shared_size(), &found));
    if (!found) {
        memset(rows, 0, shared_size());
        for (int i = 0; i < kTransferProgressRows; ++i) SpinLockInit(&rows[i].mutex);
    }
}

void copy_text(char* out, size_t size, const char* text) { strlcpy(out, text ? text : "", size); }

void release_at_exit(int /*code*/, Datum /*arg*/) { end_transfer_progress(); }

}  // namespace

void request_transfer_progress_shared_memory() { add_shared_memory_part({shared_size, nullptr, attach}); }

void begin_transfer_progress(const char* operation, const pg_uuid_t* tenant, Oid caller) {
    end_transfer_progress();
    if (rows == nullptr) return;  // not preloaded: nothing to show
    if (!exit_callback_registered) {
        before_shmem_exit(release_at_exit, 0);
        exit_callback_registered = true;
    }
    for (int i = 0; i < kTransferProgressRows; ++i) {
        ProgressRow* row = &rows[i];
        SpinLockAcquire(&row->mutex);
        if (row->pid != 0) {
            SpinLockRelease(&row->mutex);
            continue;
        }
        row->pid = MyProcPid;
        row->database = MyDatabaseId;
        row->user = caller;
        row->tenant = *tenant;
        copy_text(row->operation, sizeof(row->operation), operation);
        copy_text(row->table_name, sizeof(row->table_name), "");
        copy_text(row->phase, sizeof(row->phase), "starting");
        row->tables_done = 0;
        row->tables_total = 0;
        row->rows_done = 0;
        row->rows_total = 0;
        row->started_at = GetCurrentTimestamp();
        SpinLockRelease(&row->mutex);
        my_row = row;
        return;
    }
}

void transfer_progress_table(const char* table_name, const char* phase, int64 rows_total) {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    copy_text(my_row->table_name, sizeof(my_row->table_name), table_name);
    copy_text(my_row->phase, sizeof(my_row->phase), phase);
    my_row->rows_done = 0;
    my_row->rows_total = rows_total;
    SpinLockRelease(&my_row->mutex);
}

void transfer_progress_tables_total(int tables_total) {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    my_row->tables_total = tables_total;
    SpinLockRelease(&my_row->mutex);
}

void transfer_progress_phase(const char* phase) {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    copy_text(my_row->phase, sizeof(my_row->phase), phase);
    SpinLockRelease(&my_row->mutex);
}

void transfer_progress_rows(int64 rows_done) {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    my_row->rows_done = rows_done;
    SpinLockRelease(&my_row->mutex);
}

void transfer_progress_table_done() {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    my_row->tables_done++;
    SpinLockRelease(&my_row->mutex);
}

void end_transfer_progress() noexcept {
    if (my_row == nullptr) return;
    SpinLockAcquire(&my_row->mutex);
    my_row->pid = 0;
    SpinLockRelease(&my_row->mutex);
    my_row = nullptr;
}

}  // namespace tenant_guard::pg

using namespace tenant_guard::pg;

TG_SQL_FUNCTION(tg_transfer_progress)

// (pid, database name, user name, operation, tenant_id, table_name, phase, tables_done,
//  tables_total, rows_done, rows_total, started_at)
Datum tg_transfer_progress(PG_FUNCTION_ARGS) {
    tg_begin_materialized_result(fcinfo);
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (rows == nullptr) return (Datum)0;
    for (int i = 0; i < kTransferProgressRows; ++i) {
        ProgressRow copy;
        SpinLockAcquire(&rows[i].mutex);
        copy = rows[i];
        SpinLockRelease(&rows[i].mutex);
        if (copy.pid == 0) continue;
        Datum values[12];
        bool nulls[12] = {false};
        values[0] = Int32GetDatum(copy.pid);
        const char* database = get_database_name(copy.database);
        if (database) values[1] = CStringGetTextDatum(database); else nulls[1] = true;
        const char* user = GetUserNameFromId(copy.user, true);
        if (user) values[2] = CStringGetTextDatum(user); else nulls[2] = true;
        values[3] = CStringGetTextDatum(copy.operation);
        auto* tenant = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
        *tenant = copy.tenant;
        values[4] = UUIDPGetDatum(tenant);
        if (copy.table_name[0]) values[5] = CStringGetTextDatum(copy.table_name); else nulls[5] = true;
        values[6] = CStringGetTextDatum(copy.phase);
        values[7] = Int32GetDatum(copy.tables_done);
        values[8] = Int32GetDatum(copy.tables_total);
        values[9] = Int64GetDatum(copy.rows_done);
        values[10] = Int64GetDatum(copy.rows_total);
        values[11] = TimestampTzGetDatum(copy.started_at);
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    return (Datum)0;
}
