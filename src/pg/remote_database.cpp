#include "remote_database.hpp"

#include "libpq-fe.h"

#include <cstring>

namespace tenant_guard::pg {

struct RemoteDatabase {
    PGconn* connection;
    const char* which;
    // The chunk PQgetCopyData() returned last, handed out piece by piece.
    char* copy_chunk;
    int copy_chunk_length;
    int copy_chunk_offset;
    bool copy_out_done;
    uint64 copy_out_rows;
    RemoteDatabase* next;
};

namespace {

RemoteDatabase* open_databases = nullptr;

// Settings that make every value print the same on both sides (reconcile compares text) and that
// keep the session from resolving names through anything but what our SQL qualifies.
constexpr const char* kSessionSettings =
    "SELECT pg_catalog.set_config('search_path', '', false), "
    "pg_catalog.set_config('TimeZone', 'UTC', false), "
    "pg_catalog.set_config('DateStyle', 'ISO, YMD', false), "
    "pg_catalog.set_config('IntervalStyle', 'postgres', false), "
    "pg_catalog.set_config('extra_float_digits', '3', false), "
    "pg_catalog.set_config('bytea_output', 'hex', false)";

void wait_for(RemoteDatabase* database, int socket_events) {
    int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | socket_events,
                               PQsocket(database->connection), -1L, PG_WAIT_EXTENSION);
    if (rc & WL_LATCH_SET) {
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

void unlink_database(RemoteDatabase* database) {
    for (RemoteDatabase** link = &open_databases; *link != nullptr; link = &(*link)->next)
        if (*link == database) {
            *link = database->next;
            return;
        }
}

// The remote's error text, copied, with the libpq objects released before the ERROR is raised.
[[noreturn]] void raise_remote_error(RemoteDatabase* database, PGresult* result, const char* doing) {
    const char* remote_message = result ? PQresultErrorMessage(result) : PQerrorMessage(database->connection);
    char* message = pstrdup(remote_message && *remote_message ? remote_message : "no message");
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == ' ')) message[--length] = '\0';
    const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    int code = ERRCODE_CONNECTION_FAILURE;
    if (sqlstate != nullptr && strlen(sqlstate) == 5)
        code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
    const char* which = database->which;
    if (result) PQclear(result);
    close_remote_database(database);
    ereport(ERROR, (errcode(code), errmsg("%s database: %s", which, doing), errdetail("%s", message)));
    pg_unreachable();
}

// Reads until the pending query has a result (or the COPY state changes): nothing blocks.
PGresult* next_result(RemoteDatabase* database) {
    while (PQisBusy(database->connection)) {
        wait_for(database, WL_SOCKET_READABLE);
        if (PQconsumeInput(database->connection) == 0) raise_remote_error(database, nullptr, "reading a result failed");
    }
    return PQgetResult(database->connection);
}

void flush(RemoteDatabase* database) {
    for (;;) {
        int pending = PQflush(database->connection);
        if (pending == 0) return;
        if (pending < 0) raise_remote_error(database, nullptr, "sending data failed");
        wait_for(database, WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE);
        if (PQconsumeInput(database->connection) == 0) raise_remote_error(database, nullptr, "sending data failed");
    }
}

// The last result of the statement; an error result raises.
PGresult* finish_statement(RemoteDatabase* database, const char* doing) {
    PGresult* last = nullptr;
    for (;;) {
        PGresult* result = next_result(database);
        if (result == nullptr) break;
        ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
            if (last) PQclear(last);
            return result;  // the caller carries on with the COPY
        }
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            if (last) PQclear(last);
            // No draining: PQgetResult() would wait in libpq's own poll(), deaf to cancel, and the
            // connection is closed anyway.
            raise_remote_error(database, result, doing);
        }
        if (last) PQclear(last);
        last = result;
    }
    if (last == nullptr) raise_remote_error(database, nullptr, doing);
    return last;
}

void send_statement(RemoteDatabase* database, const char* sql, int parameter_count, const char* const* parameters) {
    if (!PQsendQueryParams(database->connection, sql, parameter_count, nullptr, parameters, nullptr, nullptr, 0))
        raise_remote_error(database, nullptr, "sending a statement failed");
    flush(database);
}

bool conninfo_has_password(const char* conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo, &error);
    if (options == nullptr) {
        char* message = pstrdup(error ? error : "out of memory");
        if (error) PQfreemem(error);
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("invalid connection string"), errdetail("%s", message)));
    }
    bool found = false;
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option)
        if (strcmp(option->keyword, "password") == 0 && option->val != nullptr && option->val[0] != '\0') found = true;
    PQconninfoFree(options);
    return found;
}

}  // namespace

RemoteDatabase* connect_remote_database(const char* conninfo, const char* which, Oid caller) {
    const bool is_superuser = superuser_arg(caller);
    const bool has_password = conninfo_has_password(conninfo);  // also refuses a malformed string
    if (!is_superuser && !has_password)
        ereport(ERROR, (errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
                        errmsg("password is required to connect to the %s database", which),
                        errdetail("Non-superusers must provide a password in the connection string.")));

    // The connection string is the dbname entry, so that every libpq keyword works; the client
    // encoding is this database's, so text arrives converted.
    const char* keywords[] = {"dbname", "fallback_application_name", "client_encoding", nullptr};
    const char* values[] = {conninfo, "tenant_guard", GetDatabaseEncodingName(), nullptr};

    auto* database = static_cast<RemoteDatabase*>(MemoryContextAllocZero(TopMemoryContext, sizeof(RemoteDatabase)));
    database->which = which;
    database->connection = PQconnectStartParams(keywords, values, 1);
    if (database->connection == nullptr) {
        pfree(database);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    database->next = open_databases;
    open_databases = database;

    if (PQstatus(database->connection) == CONNECTION_BAD)
        raise_remote_error(database, nullptr, "could not connect");
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED) raise_remote_error(database, nullptr, "could not connect");
        wait_for(database, status == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE);
        status = PQconnectPoll(database->connection);
    }
    if (!is_superuser && !PQconnectionUsedPassword(database->connection)) {
        close_remote_database(database);
        ereport(ERROR, (errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
                        errmsg("password is required to connect to the %s database", which),
                        errdetail("Non-superuser cannot connect if the server does not request a password."),
                        errhint("Target server's authentication method must be changed.")));
    }
    if (PQsetnonblocking(database->connection, 1) != 0) raise_remote_error(database, nullptr, "could not connect");
    remote_command(database, kSessionSettings);
    return database;
}

void close_remote_database(RemoteDatabase* database) noexcept {
    if (database == nullptr) return;
    unlink_database(database);
    if (database->copy_chunk) PQfreemem(database->copy_chunk);
    if (database->connection) PQfinish(database->connection);
    pfree(database);
}

void close_all_remote_databases() noexcept {
    while (open_databases != nullptr) close_remote_database(open_databases);
}

RemoteRows remote_query(RemoteDatabase* database, const char* sql, int parameter_count,
                        const char* const* parameters) {
    remote_send(database, sql, parameter_count, parameters);
    return remote_collect(database);
}

void remote_send(RemoteDatabase* database, const char* sql, int parameter_count, const char* const* parameters) {
    send_statement(database, sql, parameter_count, parameters);
}

RemoteRows remote_collect(RemoteDatabase* database) {
    PGresult* result = finish_statement(database, "query failed");
    RemoteRows rows;
    rows.rows = PQntuples(result);
    rows.columns = PQnfields(result);
    // palloc may fail: copy with the result registered nowhere else, so free it on the way out.
    PG_TRY();
    {
        rows.values = static_cast<char**>(palloc0(sizeof(char*) * (size_t)Max(rows.rows * rows.columns, 1)));
        for (int row = 0; row < rows.rows; ++row)
            for (int column = 0; column < rows.columns; ++column)
                if (!PQgetisnull(result, row, column))
                    rows.values[row * rows.columns + column] = pstrdup(PQgetvalue(result, row, column));
    }
    PG_CATCH();
    {
        PQclear(result);
        PG_RE_THROW();
    }
    PG_END_TRY();
    PQclear(result);
    return rows;
}

void remote_command(RemoteDatabase* database, const char* sql) {
    send_statement(database, sql, 0, nullptr);
    PQclear(finish_statement(database, "statement failed"));
}

// Sends a COPY and waits until the server is in the expected COPY state.
void begin_copy(RemoteDatabase* database, const char* copy_sql, ExecStatusType expected, const char* doing) {
    send_statement(database, copy_sql, 0, nullptr);
    PGresult* result = finish_statement(database, doing);
    const bool copying = PQresultStatus(result) == expected;
    PQclear(result);
    if (!copying) raise_remote_error(database, nullptr, doing);
}

void remote_copy_out_begin(RemoteDatabase* database, const char* copy_sql) {
    begin_copy(database, copy_sql, PGRES_COPY_OUT, "COPY TO STDOUT failed");
    database->copy_out_done = false;
    database->copy_out_rows = 0;
}

int remote_copy_out_read(RemoteDatabase* database, void* buffer, int min_bytes, int max_bytes) {
    char* out = static_cast<char*>(buffer);
    int filled = 0;
    while (filled < max_bytes && !database->copy_out_done) {
        if (database->copy_chunk != nullptr) {
            int available = database->copy_chunk_length - database->copy_chunk_offset;
            int take = Min(available, max_bytes - filled);
            memcpy(out + filled, database->copy_chunk + database->copy_chunk_offset, (size_t)take);
            filled += take;
            database->copy_chunk_offset += take;
            if (database->copy_chunk_offset == database->copy_chunk_length) {
                PQfreemem(database->copy_chunk);
                database->copy_chunk = nullptr;
            }
            continue;
        }
        if (filled >= min_bytes && filled > 0) break;  // enough for now; don't wait for more
        char* chunk = nullptr;
        int length = PQgetCopyData(database->connection, &chunk, 1);
        if (length > 0) {
            database->copy_chunk = chunk;
            database->copy_chunk_length = length;
            database->copy_chunk_offset = 0;
        } else if (length == 0) {
            wait_for(database, WL_SOCKET_READABLE);
            if (PQconsumeInput(database->connection) == 0) raise_remote_error(database, nullptr, "COPY TO STDOUT failed");
        } else if (length == -1) {
            PGresult* result = finish_statement(database, "COPY TO STDOUT failed");
            const char* tuples = PQcmdTuples(result);
            database->copy_out_rows = tuples && *tuples ? strtoull(tuples, nullptr, 10) : 0;
            PQclear(result);
            database->copy_out_done = true;
        } else {
            raise_remote_error(database, nullptr, "COPY TO STDOUT failed");
        }
    }
    return filled;
}

uint64 remote_copy_out_rows(const RemoteDatabase* database) { return database->copy_out_rows; }

void remote_copy_in_begin(RemoteDatabase* database, const char* copy_sql) {
    begin_copy(database, copy_sql, PGRES_COPY_IN, "COPY FROM STDIN failed");
}

void remote_copy_in_write(RemoteDatabase* database, const char* data, size_t length) {
    while (length > 0) {
        int piece = (int)Min(length, (size_t)(1 << 20));
        int sent = PQputCopyData(database->connection, data, piece);
        if (sent < 0) raise_remote_error(database, nullptr, "COPY FROM STDIN failed");
        if (sent == 0) {  // libpq's buffer is full: let the server catch up
            wait_for(database, WL_SOCKET_WRITEABLE);
            flush(database);
            continue;
        }
        data += piece;
        length -= (size_t)piece;
    }
}

uint64 remote_copy_in_end(RemoteDatabase* database) {
    for (;;) {
        int done = PQputCopyEnd(database->connection, nullptr);
        if (done < 0) raise_remote_error(database, nullptr, "COPY FROM STDIN failed");
        if (done == 1) break;
        wait_for(database, WL_SOCKET_WRITEABLE);
    }
    flush(database);
    PGresult* result = finish_statement(database, "COPY FROM STDIN failed");
    const char* tuples = PQcmdTuples(result);
    uint64 rows = tuples && *tuples ? strtoull(tuples, nullptr, 10) : 0;
    PQclear(result);
    return rows;
}

}  // namespace tenant_guard::pg
