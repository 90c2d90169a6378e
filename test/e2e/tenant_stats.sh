#!/usr/bin/env bash
# Per-tenant statistics: every tenant's context sets, refusals, transactions, rows by command and
# time are counted exactly (figures are added at transaction end, top-level statements only),
# stats_reset() forgets them, and a table too small for the tenants reports its overflow instead
# of losing it silently.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 11

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
q -q <<'SQL' >/dev/null
CREATE EXTENSION tenant_guard;
CREATE ROLE stats_app LOGIN;
CREATE TABLE notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text);
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO stats_app;
GRANT USAGE ON SEQUENCE notes_id_seq TO stats_app;
-- A PL/pgSQL function: its inner statements are not top-level and must not be counted again.
CREATE FUNCTION count_notes() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM notes);
END $$;
SQL
north=aaaaaaaa-0000-4000-8000-000000000001
south=aaaaaaaa-0000-4000-8000-000000000002
token() { q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '$1', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256')"; }
tn=$(token $north); ts=$(token $south)

# north: 3 transactions. 5 inserts, read back 5 rows, 2 updated, 1 deleted, a function call (1 row).
psql -X -q -U stats_app -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN; SELECT tenant_guard.set_tenant('$tn'); INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 5) g; COMMIT;
BEGIN; SELECT tenant_guard.set_tenant('$tn'); SELECT * FROM notes; UPDATE notes SET body = 'x' WHERE id <= 2; COMMIT;
BEGIN; SELECT tenant_guard.set_tenant('$tn'); DELETE FROM notes WHERE id = 5; SELECT count_notes(); COMMIT;
SQL
# south: one session-scoped context, then a cross-tenant write attempt (a refusal) and one insert.
psql -X -q -U stats_app -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<SQL
SELECT tenant_guard.set_tenant('$ts', false);
INSERT INTO notes (tenant_id, body) VALUES ('$north', 'sneaky');
INSERT INTO notes (body) VALUES ('s1');
SQL

row() { q -c "SELECT $2 FROM tenant_guard.tenant_stats WHERE tenant_id = '$1'"; }
is "$(row $north 'context_sets, transactions')" "3|3" "north: 3 context sets in 3 transactions"
# Rows read: 3 set_tenant() results + 5 notes + 1 count_notes() result; the function's inner SELECT is not top-level.
is "$(row $north 'rows_inserted, rows_read, rows_updated, rows_deleted')" "5|9|2|1" \
   "north: rows inserted, read, updated, deleted, top-level statements only"
is "$(row $north 'refusals')" "0" "north: no refusals"
is "$(row $south 'context_sets, refusals, rows_inserted')" "1|1|1" \
   "south: its cross-tenant write is counted as a refusal, its own insert as a row"
ok "$(q -c "SELECT 1 FROM tenant_guard.tenant_stats WHERE tenant_id = '$north' AND exec_time_ms > 0 AND last_seen > now() - interval '1 minute'")" \
   "north: execution time and last_seen are recorded"
is "$(q -c "SELECT count(*) FROM tenant_guard.tenant_stats")" "2" "exactly the two tenants that acted appear"
is "$(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'context_sets'")" "4" "stats counts 4 context sets"

q -c "SELECT tenant_guard.stats_reset()" >/dev/null
is "$(q -c "SELECT count(*) FROM tenant_guard.tenant_stats")|$(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'context_sets'")" \
   "0|0" "stats_reset() forgets tenants and zeroes counters"

# Overflow: a table for 100 tenants, 130 tenants act.
tg_as_server_user tee -a "$TG_DATA/postgresql.conf" >/dev/null <<< "tenant_guard.tenant_stats_size = 100"
tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -l "$TG_DIR/server.log" -w restart >/dev/null
tokens=$(q -c "SELECT string_agg(format('SELECT tenant_guard.set_tenant(%L);', tenant_guard.sign_token(
                 jsonb_build_object('tenant_id', format('bbbbbbbb-0000-4000-8000-%s', lpad(g::text, 12, '0')),
                                    'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256')), E'\n')
               FROM generate_series(1, 130) g")
psql -X -q -U stats_app -v ON_ERROR_STOP=1 >/dev/null <<< "$tokens"
is "$(q -c "SELECT count(*) FROM tenant_guard.tenant_stats")" "100" "a table for 100 tenants holds 100"
is "$(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'tenant_stats_overflow'")" "30" \
   "the 30 tenants that did not fit are reported as overflow, not silently lost"
is "$(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'tenant_stats_size'")" "100" "stats reports the table's size"
