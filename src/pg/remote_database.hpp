// A connection from this backend to another PostgreSQL database (a district's own database), made
// with libpq. Every wait goes through the backend's latch, so a cancel, a terminate or the
// postmaster's death interrupts it; errors are raised with ereport(), and every connection still
// open is closed when the transaction ends, whichever way it ends.
//
// PostgreSQL-style code: no C++ object with a destructor lives across a call that may ereport().
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

struct RemoteDatabase;

// `which` names the database in messages ("source", "target"). `caller` is the role that asked for
// the connection (taken before any switch to a more privileged role). A caller that is not a superuser
// must put a password in the connection string and the server must ask for it (as dblink and
// postgres_fdw require): otherwise the connection would run as this server's operating-system user.
// The session gets search_path '' and the settings that make values print the same everywhere.
RemoteDatabase* connect_remote_database(const char* conninfo, const char* which, Oid caller);
void close_remote_database(RemoteDatabase* database) noexcept;
void close_all_remote_databases() noexcept;  // at transaction end

struct RemoteRows {
    int rows = 0;
    int columns = 0;
    char** values = nullptr;  // palloc'd, row-major; nullptr for SQL NULL
    const char* value(int row, int column) const { return values[row * columns + column]; }
};

// A statement with text parameters ($1...), waited for; its rows copied into palloc'd strings.
RemoteRows remote_query(RemoteDatabase* database, const char* sql, int parameter_count = 0,
                        const char* const* parameters = nullptr);
void remote_command(RemoteDatabase* database, const char* sql);
// The same in two halves, so that the remote server works while this backend does something else.
void remote_send(RemoteDatabase* database, const char* sql, int parameter_count = 0,
                 const char* const* parameters = nullptr);
RemoteRows remote_collect(RemoteDatabase* database);

// COPY ... TO STDOUT on the remote side, read as BeginCopyFrom()'s data source: fills at least
// min_bytes (unless the data ends) and at most max_bytes; 0 once the COPY is complete.
void remote_copy_out_begin(RemoteDatabase* database, const char* copy_sql);
int remote_copy_out_read(RemoteDatabase* database, void* buffer, int min_bytes, int max_bytes);
uint64 remote_copy_out_rows(const RemoteDatabase* database);  // the remote's "COPY n", once complete

// COPY ... FROM STDIN on the remote side.
void remote_copy_in_begin(RemoteDatabase* database, const char* copy_sql);
void remote_copy_in_write(RemoteDatabase* database, const char* data, size_t length);
uint64 remote_copy_in_end(RemoteDatabase* database);  // rows the remote stored

}  // namespace tenant_guard::pg
