#!/usr/bin/env bash
# tenant_guard on a streaming hot-standby replica (pg_basebackup -R of a primary with the registry on;
# both preload tenant_guard and read the same key file):
#   1. The replica is in recovery; tokens signed on it verify on the primary.
#   2. Isolation: the app role sees its tenant's rows only, with current_tenant() / current_claims();
#      nothing without a context (28000 with missing_context = error); no read-only-transaction or
#      "TransactionIds during recovery" errors in the replica's log.
#   3. Guards: SET / set_config of tenant_guard.tenant_id (42501) and a forged token (28000) refused.
#   4. Platform access on the replica: every tenant's rows for one transaction; SET ROLE,
#      set_config('role'), a token without the claim and a tenant's token do not open it; a write
#      during it is refused.
#   5. Security events of the replica are logged there (the JSON line, no token in the log) and
#      counted in events_logged_on_standby, one per event; the primary's table does not get them.
#   6. A platform access on the primary is stored, replicated, and read by a tenant admin on the replica.
#   7. A suspension committed on the primary stops an open session on the replica within 2 s
#      (measured and printed); a resume brings it back within 2 s.
#   8. A tenant query plans on the replica exactly as on the primary (the PK index, no OR).
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/cluster.sh"

# --- the primary: a private cluster (tg_cluster_start), with the registry on -------------------------
tg_cluster_start >/dev/null || { echo "Bail out! the primary did not start"; exit 1; }
R_DIR=$TG_DIR/replica            # the replica's data, socket directory and log, under the same temp dir
R_DATA=$R_DIR/data
R_SOCKET=$R_DIR/socket
R_LOG=$R_DIR/server.log
R_PORT=""
cleanup() {
    [ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null
    [ -f "$R_DATA/postmaster.pid" ] &&
        tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$R_DATA" -m immediate -w stop >/dev/null 2>&1
    tg_cluster_stop
}
trap cleanup EXIT
plan 37

run=$RANDOM
DB=district
qp() { psql -X -At -v ON_ERROR_STOP=1 -h "$TG_SOCKET_DIR" -p "$TG_PORT" -U postgres -d "$DB" "$@" 2>&1; }
qr() { psql -X -At -v ON_ERROR_STOP=1 -h "$R_SOCKET" -p "$R_PORT" -U postgres -d "$DB" "$@" 2>&1; }
# As role $2 on server $1 (p or r): the SQL on stdin, every statement on its own, errors as
# "ERROR:  SQLSTATE: message"; the output's lines joined with "|".
as_role() {
    local host=$TG_SOCKET_DIR port=$TG_PORT
    [ "$1" = r ] && { host=$R_SOCKET; port=$R_PORT; }
    psql -X -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -h "$host" -p "$port" -U "$2" -d "$DB" 2>&1 |
        grep -vE '^(LOCATION|CONTEXT|DETAIL|HINT|STATEMENT): ' | paste -sd '|' -
}
app() { as_role "$1" ro_app; }   # the application role

grep -qE '^local[[:space:]]+replication[[:space:]]+all[[:space:]]+trust' "$TG_DATA/pg_hba.conf" ||
    { echo "Bail out! the primary's pg_hba.conf does not allow local replication"; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 -h "$TG_SOCKET_DIR" -p "$TG_PORT" -U postgres -d postgres >"$TG_DIR/setup.log" 2>&1 <<'SQL' ||
ALTER SYSTEM SET tenant_guard.registry = on;   -- postgresql.auto.conf: pg_basebackup copies it to the replica
SELECT pg_reload_conf();
CREATE DATABASE district;
SQL
    { sed 's/^/# /' "$TG_DIR/setup.log"; echo "Bail out! setup failed"; exit 1; }
qp -q >>"$TG_DIR/setup.log" <<'SQL' || { sed 's/^/# /' "$TG_DIR/setup.log"; echo "Bail out! setup failed"; exit 1; }
CREATE EXTENSION tenant_guard;
CREATE ROLE ro_app LOGIN;
CREATE ROLE ro_app_strict LOGIN;   -- the same, with tenant_guard.missing_context = error
ALTER ROLE ro_app_strict SET tenant_guard.missing_context = error;
CREATE TABLE students (id bigint GENERATED ALWAYS AS IDENTITY, tenant_id uuid NOT NULL, name text,
                       PRIMARY KEY (tenant_id, id));
GRANT SELECT, INSERT ON students TO ro_app, ro_app_strict;
SQL
A=$(qp -c "SELECT tenant_guard.create_tenant('north', 'North District')")
B=$(qp -c "SELECT tenant_guard.create_tenant('south', 'South District')")
[[ "$A" =~ ^[0-9a-f-]{36}$ && "$B" =~ ^[0-9a-f-]{36}$ ]] || { echo "Bail out! create_tenant: $A $B"; exit 1; }
mint() {  # $1: a jsonb expression of the claims; signed on the primary
    qp -c "SELECT tenant_guard.sign_token($1, 'district-hs256')"
}
claims() {  # $1 tenant, $2 subject, $3 more claims (JSON, optional)
    local more=${3:-'{}'}
    echo "jsonb_build_object('tenant_id', '$1', 'sub', '$2', 'exp', extract(epoch FROM now())::bigint + 600) || '$more'::jsonb"
}
tok_a=$(mint "$(claims "$A" app-a)")
tok_b=$(mint "$(claims "$B" app-b)")
admin_a=$(mint "$(claims "$A" admin-a '{"roles": ["tenant_admin"]}')")
platform=$(mint "'{\"sub\":\"ops-jane\",\"roles\":[\"platform_admin\"],\"exp\":9999999999}'")
no_claim=$(mint "'{\"sub\":\"ops-joe\",\"roles\":[\"support\"],\"exp\":9999999999}'")
for t in "$tok_a" "$tok_b" "$admin_a" "$platform" "$no_claim"; do
    [[ "$t" == ey*.*.* ]] || { echo "Bail out! could not mint tokens: $t"; exit 1; }
done
# A forgery: the real header, a payload claiming tenant A for subject forger-<run>, a made-up signature.
forged_sig=$(printf 'FORGEDr%05d' "$run")QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQA
forged="${tok_a%%.*}.$(printf '{"tenant_id":"%s","sub":"forger-%s","exp":9999999999}' "$A" "$run" |
    basenc --base64url | tr -d '=\n').$forged_sig"

# Rows: 1,199 of A and 800 of B written by the superuser, one more of A by the app role.
qp -q -c "INSERT INTO students (tenant_id, name) SELECT '$A', 'north ' || g FROM generate_series(1, 1199) g" \
      -c "INSERT INTO students (tenant_id, name) SELECT '$B', 'south ' || g FROM generate_series(1, 800) g" >>"$TG_DIR/setup.log"
out=$(app p <<SQL
BEGIN;
SELECT tenant_guard.set_tenant('$tok_a') = '$A';
INSERT INTO students (name) VALUES ('written by the app');
COMMIT;
SQL
)
[ "$out" = "t" ] || { echo "# $out"; echo "Bail out! the app role could not write on the primary"; exit 1; }
qp -q -c "ANALYZE students" >>"$TG_DIR/setup.log"

# --- the replica: pg_basebackup -R, its own port and socket directory, the same key file ---------------
tg_as_server_user mkdir -p "$R_DIR" "$R_SOCKET"
R_PORT=$(tg_free_port $((TG_PORT + 1)))
tg_as_server_user "$TG_PG_BIN/pg_basebackup" -h "$TG_SOCKET_DIR" -p "$TG_PORT" -U postgres -D "$R_DATA" \
    -R -X stream -c fast --no-sync >"$R_DIR/basebackup.log" 2>&1 ||
    { sed 's/^/# /' "$R_DIR/basebackup.log"; echo "Bail out! pg_basebackup failed"; exit 1; }
tg_as_server_user tee -a "$R_DATA/postgresql.conf" >/dev/null <<CONF
# the replica (these lines override the primary's copied above)
port = $R_PORT
unix_socket_directories = '$R_SOCKET'
hot_standby = on
CONF
tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$R_DATA" -l "$R_LOG" -w -t 60 start >/dev/null ||
    { sed 's/^/# /' "$R_LOG"; echo "Bail out! the replica did not start"; exit 1; }
for _ in $(seq 100); do
    [ "$(qp -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] && break
    sleep 0.1
done

catch_up() {  # waits (up to 10 s) until the replica has replayed the primary's current WAL
    local lsn
    lsn=$(qp -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 200); do
        [ "$(qr -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.05
    done
    echo "# the replica did not catch up with $lsn"; return 1
}
log_lines() { wc -l <"$R_LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$R_LOG"; }
events_on_standby() { qr -c "SELECT coalesce((SELECT value FROM tenant_guard.stats WHERE counter = 'events_logged_on_standby'), 0)"; }
readonly_errors='cannot execute [A-Z ]+ in a read-only transaction|cannot assign TransactionIds during recovery|cannot be executed during recovery'
catch_up

# --- 1. a hot standby, with the primary's settings and keys ------------------------------------------
is "$(qr -c "SELECT pg_is_in_recovery()")|$(qp -c "SELECT pg_is_in_recovery()")|$(qr -c "SHOW tenant_guard.registry")|$(
      qr -c "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")" "t|f|on|1" \
   "the replica is a streaming hot standby (pg_is_in_recovery), with tenant_guard.registry = on"
r_token=$(qr -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '$A', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256')")
is "$(app p <<<"SELECT tenant_guard.set_tenant('$r_token') = '$A';")" "t" \
   "sign_token() works on the replica, and its token verifies on the primary (the same key file)"

# --- 2. isolation on the replica ------------------------------------------------------------------
mark=$(log_lines)
tenant_view() {  # $1 token: context, rows seen, rows of other tenants, current_tenant(), current_claims()
    app r <<SQL
BEGIN;
SELECT tenant_guard.set_tenant('$1') IS NOT NULL;
SELECT count(*) FROM students;
SELECT count(*) FROM students WHERE tenant_id IS DISTINCT FROM tenant_guard.current_tenant();
SELECT tenant_guard.current_tenant();
SELECT tenant_guard.current_claims()->>'tenant_id' || ' ' || (tenant_guard.current_claims()->>'sub');
COMMIT;
SELECT count(*) FROM students;
SQL
}
is "$(tenant_view "$tok_a")" "t|1200|0|$A|$A app-a|0" \
   "replica, tenant A: exactly A's 1,200 rows, current_tenant() and current_claims() are A's; none after COMMIT"
is "$(tenant_view "$tok_b")" "t|800|0|$B|$B app-b|0" \
   "replica, tenant B: exactly B's 800 rows, current_tenant() and current_claims() are B's"
is "$(app r <<<"SELECT count(*), tenant_guard.current_tenant() IS NULL, tenant_guard.current_claims() IS NULL FROM students;")" "0|t|t" \
   "replica, no context: nothing visible (missing_context = empty), no tenant, no claims"
like "$(as_role r ro_app_strict <<<"SELECT count(*) FROM students;")" "^ERROR:  28000: no tenant context is set$" \
   "replica, no context with missing_context = error: 28000 no tenant context is set"
is "$(log_since "$mark" | grep -cE "$readonly_errors")" "0" \
   "the replica's log has no read-only-transaction / recovery errors from these queries"

# --- 3. guards on the replica ------------------------------------------------------------------------
out=$(app r <<SQL
SET tenant_guard.tenant_id = '$A';
SELECT set_config('tenant_guard.tenant_id', '$A', false);
SELECT count(*), tenant_guard.current_tenant() IS NULL FROM students;
SQL
)
is "$out" "ERROR:  42501: tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()|ERROR:  42501: tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()|0|t" \
   "replica: SET and set_config() of tenant_guard.tenant_id are refused (42501), no context results"

# From here to the platform access below, exactly two security events happen on the replica.
events_before=$(events_on_standby)
mark_events=$(log_lines)
rows_on_primary_before=$(qp -c "SELECT count(*) FROM tenant_guard.security_events")
is "$(app r <<<"BEGIN;
SELECT tenant_guard.set_tenant('$forged');
ROLLBACK;
SELECT count(*), tenant_guard.current_tenant() IS NULL FROM students;")" \
   "ERROR:  28000: tenant token rejected: token signature is invalid|0|t" \
   "replica: a forged token is refused (28000, signature invalid), no context results"

# --- 4. platform access on the replica -----------------------------------------------------------------
out=$(app r <<SQL
BEGIN;
SELECT tenant_guard.begin_platform_access('$platform', 'quarterly report replica-$run');
SELECT tenant_guard.in_platform_access();
SELECT tenant_id, count(*) FROM students GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT tenant_guard.in_platform_access(), count(*) FROM students;
SQL
)
expected_pa=$(printf '%s\n' "$A|1200" "$B|800" | sort | paste -sd '|' -)
is "$out" "|t|$expected_pa|f|0" \
   "replica: begin_platform_access() opens platform access; GROUP BY tenant_id returns both tenants' counts; over at COMMIT"
events_after=$(events_on_standby)
event_lines=$(log_since "$mark_events" | grep -F 'tenant_guard security event: ')

refusal() {  # $1: what is tried, in a transaction; then whether platform access is open, and rows seen
    app r <<SQL
BEGIN;
$1
SELECT tenant_guard.in_platform_access(), count(*) FROM students;
ROLLBACK;
SELECT tenant_guard.in_platform_access(), count(*) FROM students;
SQL
}
aborted='ERROR:  25P02: current transaction is aborted, commands ignored until end of transaction block'
is "$(refusal "SET ROLE tenant_guard_platform_reader;")" \
   "ERROR:  42501: permission denied to set role \"tenant_guard_platform_reader\"|$aborted|f|0" \
   "replica: SET ROLE tenant_guard_platform_reader is refused (42501), nothing opens"
is "$(refusal "SELECT set_config('role', 'tenant_guard_platform_reader', false);")" \
   "ERROR:  42501: permission denied to set role \"tenant_guard_platform_reader\"|$aborted|f|0" \
   "replica: set_config('role', 'tenant_guard_platform_reader') is refused (42501), nothing opens"
is "$(refusal "SELECT tenant_guard.begin_platform_access('$no_claim', 'report');")" \
   "ERROR:  42501: platform access refused: the token's roles claim does not contain platform_admin|$aborted|f|0" \
   "replica: a token without platform_admin in its roles is refused (42501)"
is "$(refusal "SELECT tenant_guard.begin_platform_access('$tok_a', 'report');")" \
   "ERROR:  28000: tenant token rejected: a platform access token must not name a tenant|$aborted|f|0" \
   "replica: a tenant's token is refused (28000)"
out=$(app r <<SQL
BEGIN;
SELECT tenant_guard.begin_platform_access('$platform', 'write attempt replica-$run');
INSERT INTO students (tenant_id, name) VALUES ('$A', 'platform write');
ROLLBACK;
SQL
)
like "$out" "^\|ERROR:  TG002: platform access is read-only: " \
   "replica: an INSERT during platform access is refused with TG002 (platform access is read-only)"
[[ "$out" =~ 25006 ]] && echo "# the write during platform access on the replica got: $out"

# --- 5. the replica's security events are logged there and counted -----------------------------------
is "$((events_after - events_before))|$(grep -c . <<<"$event_lines")" "2|2" \
   "replica: a forged token and a platform access add exactly 2 to events_logged_on_standby, and 2 log lines"
summary=$(grep -oE 'tenant_guard security event: \{.*\}$' <<<"$event_lines" | sed 's/^tenant_guard security event: //' |
    python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    tenant = "" if e.get("tenant_id") is None else "/%s/verified=%s" % (e["tenant_id"], e["detail"]["tenant_verified"])
    print("/".join(str(e.get(k)) for k in ("kind", "reason", "subject", "role_name", "database")) + tenant)
' 2>&1 | paste -sd '|' -)
is "$summary" "context_refused/bad_signature/forger-$run/ro_app/district/$A/verified=False|platform_access/quarterly report replica-$run/ops-jane/ro_app/district" \
   "the replica's log lines are the JSON events: context_refused (bad_signature, unverified tenant A) and platform_access (reason, subject)"
sleep 1.5   # the primary's worker stores within a second what is queued there; nothing should be
is "$(qp -c "SELECT count(*) FROM tenant_guard.security_events")|$(qp -c "SELECT count(*) FROM tenant_guard.security_events
        WHERE subject = 'forger-$run' OR reason LIKE '%replica-$run%'")|$(qr -c "SELECT count(*) FROM tenant_guard.security_events
        WHERE subject = 'forger-$run' OR reason LIKE '%replica-$run%'")" "$rows_on_primary_before|0|0" \
   "the replica's events are not stored in tenant_guard.security_events (the primary's table is unchanged)"

# --- 6. a platform access on the primary: stored, replicated, read by a tenant admin on the replica ------
out=$(app p <<SQL
BEGIN;
SELECT tenant_guard.begin_platform_access('$platform', 'quarterly report primary-$run');
SELECT tenant_id, count(*) FROM students GROUP BY 1 ORDER BY 1;
COMMIT;
SQL
)
is "$out" "|$expected_pa" "primary: platform access shows both tenants"
stored=""
for _ in $(seq 100); do
    stored=$(qp -c "SELECT kind || '|' || reason || '|' || subject || '|' || role_name FROM tenant_guard.security_events
                     WHERE reason = 'quarterly report primary-$run'")
    [ -n "$stored" ] && break
    sleep 0.1
done
is "$stored" "platform_access|quarterly report primary-$run|ops-jane|ro_app" \
   "primary: the platform access is stored in tenant_guard.security_events (kind platform_access)"
catch_up
seen="SELECT kind || '|' || reason || '|' || subject FROM tenant_guard.security_events WHERE reason = 'quarterly report primary-$run';"
is "$(qr -c "$seen")" "platform_access|quarterly report primary-$run|ops-jane" "replica: the stored event has been replicated"
is "$(app r <<<"BEGIN;
SELECT tenant_guard.set_tenant('$admin_a') IS NOT NULL;
$seen
COMMIT;")|$(app r <<<"BEGIN;
SELECT tenant_guard.set_tenant('$tok_a') IS NOT NULL;
$seen
COMMIT;")" "t|platform_access|quarterly report primary-$run|ops-jane|t" \
   "replica: tenant A's admin (roles: tenant_admin) reads it; A's plain token does not"

# --- 7. a suspension on the primary reaches an open session on the replica ----------------------------
coproc APP { psql -X -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -h "$R_SOCKET" -p "$R_PORT" -U ro_app -d "$DB" 2>&1; }
ask() {
    echo "$1" >&"${APP[1]}"; echo "SELECT 'end-of-answer';" >&"${APP[1]}"
    local line out=""
    while read -r -t 10 line <&"${APP[0]}"; do
        [ "$line" = end-of-answer ] && break
        [[ "$line" =~ ^(LOCATION|CONTEXT|DETAIL|HINT): ]] && continue
        out+="${out:+|}$line"
    done
    echo "$out"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
is "$(ask "SELECT tenant_guard.set_tenant('$tok_a', false) = '$A';")|$(ask "SELECT count(*) FROM students;")" "t|1200" \
   "replica: an app session holds A's context at session scope and reads A's 1,200 rows"
mark_suspend=$(log_lines)
refused=0   # the statements refused under the suspension (each one a tenant_suspended event)
# The second command runs in the same session after the first one's commit: its clock is the commit's
# (the servers and this script share the machine's clock).
server_ms="SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
issued=$(now_ms)
suspended_out=$(qp -c "SELECT tenant_guard.suspend_tenant('$A', 'replica test $run')" -c "$server_ms")
committed=${suspended_out##*$'\n'}
suspended_out=${suspended_out%$'\n'*}
answer=""
while [ "$(now_ms)" -lt $((issued + 5000)) ]; do   # gives up after 5 s
    answer=$(ask "SELECT count(*) FROM students;")
    [ "$answer" != 1200 ] && break
    sleep 0.01
done
reached=$(now_ms)
[[ "$answer" =~ 28T02 ]] && refused=$((refused + 1))
delay=$((reached - committed))
echo "# suspension reached the replica in $delay ms (from the primary's commit; $((reached - issued)) ms from starting psql for suspend_tenant())"
like "$suspended_out|$answer" "^\|ERROR:  28T02: tenant $A is suspended$" \
   "the replica's open session gets 28T02 (tenant is suspended) at its next statement"
ok "$( [[ "$committed" =~ ^[0-9]+$ ]] && [ "$answer" != 1200 ] && [ "$delay" -lt 2000 ] && echo fast)" \
   "the suspension reached the replica's open session within 2 s ($delay ms)"
answer=$(ask "SELECT count(*) FROM students WHERE name LIKE 'north%';")
[[ "$answer" =~ 28T02 ]] && refused=$((refused + 1))
out=$(app r <<<"SELECT tenant_guard.set_tenant('$tok_a');")
[[ "$out" =~ 28T02 ]] && refused=$((refused + 1))
is "$answer|$out" "ERROR:  28T02: tenant $A is suspended|ERROR:  28T02: tenant $A is suspended" \
   "replica: the session's next query is refused too, and so is a new set_tenant() for A (28T02)"

issued=$(now_ms)
committed=$(qp -c "SELECT tenant_guard.resume_tenant('$A')" -c "$server_ms" | tail -1)
while [ "$(now_ms)" -lt $((issued + 5000)) ]; do
    answer=$(ask "SELECT count(*) FROM students;")
    [ "$answer" = 1200 ] && break
    [[ "$answer" =~ 28T02 ]] && refused=$((refused + 1))
    sleep 0.01
done
reached=$(now_ms)
echo "# resumption reached the replica in $((reached - committed)) ms"
is "$answer|$(( reached - committed < 2000 ))" "1200|1" \
   "resumed on the primary: the same replica session reads A's rows again within 2 s ($((reached - committed)) ms)"
is "$(tenant_view "$tok_a" | cut -d'|' -f1-2)" "t|1200" "replica: a new session of A works again"
is "$(log_since "$mark_suspend" | grep -F 'tenant_guard security event: ' | grep -c '"reason":"tenant_suspended"')" "$refused" \
   "replica: each of the $refused refusals under the suspension is logged as a tenant_suspended event on the replica"
echo '\q' >&"${APP[1]}"; wait "$APP_PID" 2>/dev/null; APP_PID=""

# --- 8. a tenant query plans the same on the replica as on the primary ---------------------------------
explain() {
    app "$1" <<SQL
BEGIN;
SELECT tenant_guard.set_tenant('$tok_a') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT * FROM students WHERE id = 5;
COMMIT;
SQL
}
plan_p=$(explain p)
plan_r=$(explain r)
is "$plan_r" "$plan_p" "EXPLAIN of a tenant query on the replica is identical to the primary's"
like "$plan_r" "^t\|Index (Only )?Scan using students_pkey on students\|  Index Cond: \(\(tenant_id = tenant_guard\.policy_tenant\(\)\) AND \(id = 5\)\)$" \
   "the plan is an index scan on the primary key, led by tenant_id = policy_tenant()"
ok "$( [[ ! "$plan_r" =~ (OR|platform|Filter) ]] && echo clean)" "no OR, no platform check, no filter in the tenant's plan"

# --- across the whole run ----------------------------------------------------------------------------
grep -F 'tenant_guard security event: ' "$R_LOG" >"$R_DIR/event_lines.log"
is "$(events_on_standby)" "$(wc -l <"$R_DIR/event_lines.log")" \
   "replica: events_logged_on_standby equals the number of event lines in its log ($(wc -l <"$R_DIR/event_lines.log"))"
is "$(qr -c "SELECT coalesce(sum(value), 0) FROM tenant_guard.stats WHERE counter IN ('events_queued', 'events_recorded', 'events_dropped')")" "0" \
   "replica: nothing was queued for a worker there (no worker can store on a standby)"
secrets=("$tok_a" "$tok_b" "$admin_a" "$platform" "$no_claim" "$forged" "$r_token" "$forged_sig" "${tok_a##*.}" "${platform##*.}")
leaks=0
for s in "${secrets[@]}"; do grep -qF -- "$s" "$R_LOG" && leaks=$((leaks + 1)); done
is "$leaks" "0" "the replica's log holds no token and no signature (${#secrets[@]} looked for)"
is "$(grep -cE "$readonly_errors" "$R_LOG")" "0" \
   "the replica's log has no read-only-transaction / recovery errors at all (the platform write was refused by tenant_guard first)"
ok "$(grep -qE 'terminated by signal|PANIC' "$R_LOG" "$TG_DIR/server.log" || echo clean)" "no process crashed on either server"
