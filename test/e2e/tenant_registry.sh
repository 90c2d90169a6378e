#!/usr/bin/env bash
# The tenant registry across sessions and restarts: a suspension committed in one session stops
# the next statement of another session that holds the tenant's context (no catalog lookup: the
# status is published in shared memory at commit), a resume brings it back, and after a restart
# the statuses are rebuilt from tenant_guard.tenants.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 8

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
q -q <<'SQL' >/dev/null
CREATE EXTENSION tenant_guard;
CREATE ROLE registry_app LOGIN;
CREATE TABLE notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text);
GRANT SELECT, INSERT ON notes TO registry_app;
GRANT USAGE ON SEQUENCE notes_id_seq TO registry_app;
ALTER SYSTEM SET tenant_guard.registry = on;
SELECT pg_reload_conf();
SQL
north=$(q -c "SELECT tenant_guard.create_tenant('north', 'North District')")
token=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '$north', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256')")
sleep 0.3

# A long-lived application session (as behind a pool) holding north's context for the session.
coproc APP { psql -X -At -U registry_app -v ON_ERROR_STOP=0 -v VERBOSITY=sqlstate 2>&1; }
ask() { echo "$1" >&"${APP[1]}"; echo "SELECT 'end-of-answer';" >&"${APP[1]}"; local line out=""
        while read -r line <&"${APP[0]}"; do [ "$line" = end-of-answer ] && break; out+="${out:+|}$line"; done; echo "$out"; }
is "$(ask "SELECT tenant_guard.set_tenant('$token', false) = '$north';")" "t" "the app session sets north's context"
is "$(ask "INSERT INTO notes (body) VALUES ('before'); SELECT count(*) FROM notes;")" "INSERT 0 1|1" \
   "north writes and reads its rows"

q -c "SELECT tenant_guard.suspend_tenant('$north', 'invoice overdue')" >/dev/null
like "$(ask "SELECT count(*) FROM notes;")" "28T02" \
   "suspended in another session: the app session's next statement fails (28T02)"
like "$(ask "INSERT INTO notes (body) VALUES ('during');")" "28T02" "and so does a write"

q -c "SELECT tenant_guard.resume_tenant('$north')" >/dev/null
is "$(ask "SELECT count(*) FROM notes;")" "1" "resumed: the same session works again, no new token needed"

# Suspended again, then a restart: the status comes back from the table.
q -c "SELECT tenant_guard.suspend_tenant('$north')" >/dev/null
echo '\q' >&"${APP[1]}"; wait "$APP_PID" 2>/dev/null
tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -w -t 60 restart -l "$TG_DIR/server.log" >/dev/null
like "$(psql -X -At -U registry_app -v VERBOSITY=sqlstate -c "SELECT tenant_guard.set_tenant('$token')" 2>&1)" "28T02" \
   "after a restart the suspension still holds (rebuilt from tenant_guard.tenants)"
q -c "SELECT tenant_guard.resume_tenant('$north')" >/dev/null
is "$(psql -X -At -U registry_app -c "BEGIN" -c "SELECT tenant_guard.set_tenant('$token') IS NOT NULL" \
        -c "SELECT count(*) FROM notes" -c "COMMIT" 2>&1 | grep -v -E '^(BEGIN|COMMIT)$' | tr '\n' ' ')" "t 1 " \
   "after the restart a resume works again"
ok "$(grep -qE 'terminated by signal|PANIC' "$TG_DIR/server.log" || echo clean)" "no backend crashed"
