#!/usr/bin/env bash
# Security events end to end: every refusal is queued in shared memory before its error and the
# database's worker stores it in tenant_guard.security_events (plus one log line).
#   1. 1,000 forged tokens (bad signatures) from 4 concurrent clients: exactly 1,000 rows, each
#      with the claimed tenant and subject marked unverified, none holding a token or a signature
#      (nor do the log lines); nothing dropped.
#   2. Who reads them: a tenant admin sees its own tenant's verified events only, an app role
#      nothing, a member of tenant_guard_admin everything.
#   3. Retention: prune_security_events() deletes rows older than the retention, keeps the rest.
#   4. The worker killed with SIGKILL: after the crash restart a new worker runs, the stored
#      events are all still there, and a new refusal is recorded.
#   5. A flooding session (security_events_rate): what is over its rate is counted and summarised
#      in one events_suppressed event, not stored one by one.
#   6. A full queue (queue_size = 4, the worker blocked on a lock): refusals never wait, what does
#      not fit is dropped and counted, stored + dropped = refusals.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 30

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
run=$RANDOM                                      # marks this run's forged tokens and subjects
tenant_a=aaaaaaaa-0000-4000-8000-00000000000a
tenant_b=bbbbbbbb-0000-4000-8000-00000000000b
tenant_f=ffffffff-0000-4000-8000-00000000000f    # what the forged tokens of part 1 claim
label="CASE tenant_id WHEN '$tenant_a' THEN 'A' WHEN '$tenant_b' THEN 'B' WHEN '$tenant_f' THEN 'F' ELSE coalesce(tenant_id::text, '-') END"
events=tenant_guard.security_events
bad_signature="ERROR:  tenant token rejected: token signature is invalid"

q -q >"$TG_DIR/setup.log" <<'SQL' || { sed 's/^/# /' "$TG_DIR/setup.log"; echo "Bail out! setup failed"; exit 1; }
CREATE EXTENSION tenant_guard;
CREATE ROLE sec_app LOGIN;
CREATE ROLE sec_platform LOGIN IN ROLE tenant_guard_admin;
CREATE TABLE notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text);
GRANT SELECT, INSERT ON notes TO sec_app;
GRANT USAGE ON SEQUENCE notes_id_seq TO sec_app;
SQL
mint() {  # $1 tenant, $2 subject, $3 more claims (a JSON object, optional)
    local more=${3:-'{}'}
    q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '$1', 'sub', '$2',
            'exp', extract(epoch FROM now())::bigint + 600) || '$more'::jsonb, 'district-hs256')"
}
token_a=$(mint "$tenant_a" writer-a)
token_b=$(mint "$tenant_b" writer-b)
admin_a=$(mint "$tenant_a" admin-a '{"roles": ["tenant_admin"]}')
admin_b=$(mint "$tenant_b" admin-b '{"roles": ["tenant_admin"]}')
for t in "$token_a" "$token_b" "$admin_a" "$admin_b"; do
    [[ "$t" == ey*.*.* ]] || { echo "Bail out! could not mint tokens: $t"; exit 1; }
done
header=${token_a%%.*}  # a real header (HS256, kid district-hs256): the forgeries look like tokens

# Forged tokens as rows of table $1: the real header, a payload claiming tenant $2 for subject
# "$3<n>", and a 32-byte signature that spells "FORGEDr<run>$4<n>" (so it can be looked for), n = 1..$5.
forge() {
    q -q -c "CREATE TABLE $1 AS
        SELECT n, payload, signature, '$header.' || payload || '.' || signature AS token
          FROM (SELECT n, translate(rtrim(replace(encode(convert_to(jsonb_build_object('tenant_id', '$2',
                         'sub', '$3' || n, 'exp', extract(epoch FROM now())::bigint + 600)::text, 'UTF8'),
                         'base64'), E'\n', ''), '='), '+/', '-_') AS payload,
                       rpad('FORGEDr$run$4' || lpad(n::text, 4, '0') || 'x', 42, 'Q') || 'A' AS signature
                  FROM generate_series(1, $5) n) s"
}
# The queue's counters in tenant_guard.stats: "queued|recorded|dropped|discarded".
counters() {
    q -c "SELECT string_agg(coalesce(s.value, 0)::text, '|' ORDER BY c.o) FROM unnest(ARRAY['events_queued',
            'events_recorded', 'events_dropped', 'events_discarded']) WITH ORDINALITY c(name, o)
          LEFT JOIN tenant_guard.stats s ON s.counter = c.name"
}
# Waits (up to ~15 s) until the worker has stored everything queued and events_recorded stopped changing.
settle() {
    local last="" now queued recorded discarded
    for _ in $(seq 60); do
        now=$(counters)
        IFS='|' read -r queued recorded _ discarded <<<"$now"
        [ "$now" = "$last" ] && [ "$queued" = "$((recorded + discarded))" ] && return 0
        last=$now
        sleep 0.25
    done
    echo "# the worker did not settle: $now"
}
worker_pid() { q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'tenant_guard database worker' AND datname = 'postgres'"; }
wait_for_worker() {  # prints the pid of a database worker other than $1, waiting up to ~15 s
    local pid
    for _ in $(seq 75); do
        pid=$(worker_pid 2>/dev/null)
        [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" != "${1:-}" ] && { echo "$pid"; return; }
        sleep 0.2
    done
}

# --- 1. 1,000 forged tokens from 4 concurrent clients ---------------------------------------------
forge forged "$tenant_f" "forger-$run-" n 1000
q -c "COPY (SELECT n, token FROM forged ORDER BY n) TO STDOUT" >"$TG_DIR/forged.tsv"
# What must never appear in a row or a log line: every token, its payload and its signature.
q -c "COPY (SELECT token FROM forged UNION ALL SELECT payload FROM forged UNION ALL SELECT signature FROM forged) TO STDOUT" \
    >"$TG_DIR/secrets.txt"
before=$(counters)
for c in 1 2 3 4; do
    # Client c takes every fourth token; each attempt in its own transaction, rolled back.
    awk -F'\t' -v c="$c" '($1 - 1) % 4 == c - 1 { print "BEGIN;\nSELECT tenant_guard.set_tenant('\''" $2 "'\'');\nROLLBACK;" }' \
        "$TG_DIR/forged.tsv" >"$TG_DIR/forger$c.sql"
    psql -X -q -At -U sec_app -v ON_ERROR_STOP=0 -f "$TG_DIR/forger$c.sql" >"$TG_DIR/forger$c.out" 2>&1 &
done
wait
settle
after=$(counters)
is "$(cat "$TG_DIR"/forger?.out | grep -c "$bad_signature")|$(cat "$TG_DIR"/forger?.out | grep -vc "$bad_signature")" "1000|0" \
   "1,000 forged tokens from 4 clients: every set_tenant() is refused for its signature"
is "$(q -c "SELECT count(*) || '|' || count(DISTINCT subject) || '|' || count(DISTINCT backend_pid) || '|' ||
              string_agg(DISTINCT kind || '/' || reason || '/' || role_name, ',')
              FROM $events WHERE subject LIKE 'forger-$run-%'")" "1000|1000|4|context_refused/bad_signature/sec_app" \
   "exactly 1,000 rows, one per forged token, from 4 backends: context_refused, bad_signature, the app role"
is "$(q -c "SELECT claimed || '|' || count(*) FROM (SELECT $label || '|' || (detail->>'tenant_verified') AS claimed
              FROM $events WHERE subject LIKE 'forger-$run-%') e GROUP BY claimed")" "F|false|1000" \
   "each row holds the tenant the forged token claimed, marked tenant_verified = false"
q -c "SELECT e::text FROM $events e" >"$TG_DIR/event_rows.txt"
is "$(wc -l <"$TG_DIR/event_rows.txt")|$(grep -cFf "$TG_DIR/secrets.txt" "$TG_DIR/event_rows.txt")|$(
      grep -c "FORGEDr$run" "$TG_DIR/event_rows.txt")" "1000|0|0" \
   "no row holds a token, its payload or its signature (whole rows searched)"
grep -F 'tenant_guard security event:' "$TG_DIR/server.log" >"$TG_DIR/event_lines.log"
is "$(grep -c "\"subject\":\"forger-$run-" "$TG_DIR/event_lines.log")|$(grep -cFf "$TG_DIR/secrets.txt" "$TG_DIR/event_lines.log")|$(
      grep -c "FORGEDr$run" "$TG_DIR/event_lines.log")" "1000|0|0" \
   "1,000 'tenant_guard security event:' log lines, none with a token, payload or signature"
IFS='|' read -r q0 r0 d0 _ <<<"$before"
IFS='|' read -r q1 r1 d1 _ <<<"$after"
is "$((q1 - q0))|$((r1 - r0))|$((d1 - d0))" "1000|1000|0" "stats: 1,000 events queued and recorded, events_dropped stayed 0"

# --- 2. Who reads the events -----------------------------------------------------------------------
forge forged_a "$tenant_a" "forger-a-$run-" a 1
as_app() {  # $1 token ("" for none), $2 query: run as sec_app in a transaction with $1's context
    local set=""
    [ -n "$1" ] && set="SELECT tenant_guard.set_tenant('$1') AS ctx \\gset"
    psql -X -q -At -U sec_app -v ON_ERROR_STOP=0 2>&1 <<SQL
BEGIN;
$set
$2
ROLLBACK;
SQL
}
out=$(as_app "$token_a" "INSERT INTO notes (tenant_id, body) VALUES ('$tenant_b', 'a writes a row of b');")
out+="|"$(as_app "$token_a" "SET tenant_guard.tenant_id = '$tenant_b';")
out+="|"$(as_app "$token_b" "INSERT INTO notes (tenant_id, body) VALUES ('$tenant_a', 'b writes a row of a');")
out+="|"$(as_app "$(q -c "SELECT token FROM forged_a")" "")
like "$out" "^ERROR:  new row violates row-level security policy.*\|ERROR: .*tenant_guard.tenant_id.*\|ERROR:  new row violates row-level security policy.*\|$bad_signature$" \
   "refusals for tenants A and B: A and B each write a row of the other, A sets the context by hand, a forgery claims A"
settle
listing="SELECT string_agg(kind || '|' || reason || '|' || $label || '|' || (detail->>'tenant_verified') ||
                      coalesce('|' || (detail->>'object'), ''), E'\n' ORDER BY $label, kind)
           FROM $events WHERE tenant_id IN ('$tenant_a', '$tenant_b')"
expected_ab="context_refused|bad_signature|A|false
context_tampering|set_statement|A|true|tenant_guard.tenant_id
cross_tenant_write|row_of_another_tenant|A|true|public.notes
cross_tenant_write|row_of_another_tenant|B|true|public.notes"
is "$(q -c "$listing")" "$expected_ab" \
   "superuser: the four events, cross-tenant writes naming the table, the forgery marked unverified"
is "$(as_app "$admin_a" "$listing;")" "context_tampering|set_statement|A|true|tenant_guard.tenant_id
cross_tenant_write|row_of_another_tenant|A|true|public.notes" \
   "tenant admin of A: sees A's verified events, not the forgery claiming A, not B's"
is "$(as_app "$admin_a" "SELECT count(*) FROM $events WHERE tenant_id IS DISTINCT FROM '$tenant_a' OR detail->>'tenant_verified' <> 'true';")|$(
      as_app "$admin_a" "SELECT count(*) FROM $events;")" "0|2" "tenant admin of A: nothing else at all (2 rows in the whole table)"
is "$(as_app "$admin_b" "$listing;")" "cross_tenant_write|row_of_another_tenant|B|true|public.notes" \
   "tenant admin of B: sees B's event only"
is "$(as_app "$token_a" "SELECT count(*) FROM $events;")|$(as_app "" "SELECT count(*) FROM $events;")" "0|0" \
   "app role: with a token of A without the admin claim, and without a context, sees no rows"
all=$(q -c "SELECT count(*) FROM $events")
is "$(q -U sec_platform -c "SELECT count(*) FROM $events")|$(q -U sec_platform -c "$listing")" "$all|$expected_ab" \
   "member of tenant_guard_admin: sees every row ($all)"

# A platform administrator's look across tenants is recorded, and every tenant's admins see it.
platform=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('sub', 'ops-jane', 'roles', jsonb_build_array('platform_admin'),
                   'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256')")
psql -X -q -At -U sec_app -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL
BEGIN;
SELECT tenant_guard.begin_platform_access('$platform', 'ticket $run: enrolment report');
SELECT count(*) FROM notes;
COMMIT;
SQL
settle
platform_seen="SELECT string_agg(kind || '|' || reason || '|' || subject, ',') FROM $events WHERE kind = 'platform_access'"
is "$(as_app "$admin_a" "$platform_seen;")|$(as_app "$admin_b" "$platform_seen;")|$(as_app "$token_a" "$platform_seen;")" \
   "platform_access|ticket $run: enrolment report|ops-jane|platform_access|ticket $run: enrolment report|ops-jane|" \
   "a platform access is recorded with its reason and subject; both tenants' admins see it, the app role does not"

# --- 3. Retention --------------------------------------------------------------------------------
q -q -c "INSERT INTO $events (occurred_at, kind, reason) VALUES
           (now() - interval '100 days', 'retention_test', 'old'), (now() - interval '89 days', 'retention_test', 'recent')"
all=$(q -c "SELECT count(*) FROM $events")
like "$(q -U sec_app -v VERBOSITY=sqlstate -c "SELECT tenant_guard.prune_security_events()")" "42501" \
   "retention: an app role cannot prune"
is "$(q -U sec_platform -c "SELECT tenant_guard.prune_security_events()")|$(q -c "SELECT count(*) || '|' ||
        coalesce(string_agg(reason, ',') FILTER (WHERE kind = 'retention_test'), '') FROM $events")" "1|$((all - 1))|recent" \
   "retention (90 days): prune_security_events() by a tenant_guard_admin member deletes the 100-day-old row only"

# --- 4. The worker killed with SIGKILL ---------------------------------------------------------------
stored=$(q -c "SELECT count(*) FROM $events")
old_worker=$(wait_for_worker)
ready_lines=$(grep -c 'database system is ready to accept connections' "$TG_DIR/server.log")
[[ "$old_worker" =~ ^[0-9]+$ ]] && kill -9 "$old_worker"
for _ in $(seq 150); do  # the crash restart: every backend ends, the server initialises again
    [ "$(grep -c 'database system is ready to accept connections' "$TG_DIR/server.log")" -gt "$ready_lines" ] &&
        [ "$(q -c "SELECT 1" 2>/dev/null)" = 1 ] && break
    sleep 0.2
done
like "$(q -c "SELECT 1")|$(grep -E "terminated by signal 9" "$TG_DIR/server.log")" \
   "^1\|.*background worker \"tenant_guard database worker\" \(PID $old_worker\) was terminated by signal 9" \
   "SIGKILL of the database worker ($old_worker): the server restarts its processes and accepts connections again"
new_worker=$(wait_for_worker "$old_worker")
ok "$new_worker" "after the crash restart a new database worker runs within 15 s (pid ${new_worker:-none})"
is "$(q -c "SELECT count(*) FROM $events")" "$stored" "the $stored events stored before the kill are all still there"
forge forged_crash "$tenant_f" "after-crash-$run-" c 1
like "$(q -U sec_app -c "SELECT tenant_guard.set_tenant('$(q -c "SELECT token FROM forged_crash")')")" "$bad_signature" \
   "after the restart a forged token is refused"
settle
is "$(q -c "SELECT count(*) || '|' || string_agg(kind || '/' || reason, ',') FROM $events WHERE subject = 'after-crash-$run-1'")|$(
      q -c "SELECT count(*) FROM $events")" "1|context_refused/bad_signature|$((stored + 1))" \
   "and the new worker records it"

# --- 5. A flooding session is limited to its rate ---------------------------------------------------
q -q -c "ALTER SYSTEM SET tenant_guard.security_events_rate = 2" -c "SELECT pg_reload_conf()"
sleep 0.5
settle
IFS='|' read -r queued_before _ <<<"$(counters)"
suppressed_before=$(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'events_suppressed'")
# One session, 200 refusals as fast as it can: a burst of 20 (ten seconds' worth) goes through.
psql -X -At -U sec_app -v ON_ERROR_STOP=0 -c "DO \$\$ BEGIN FOR i IN 1..200 LOOP BEGIN
    PERFORM set_config('tenant_guard.tenant_id', '$tenant_a', true); EXCEPTION WHEN insufficient_privilege THEN NULL; END;
  END LOOP; END \$\$" >/dev/null 2>&1
settle
flood_pid_rows=$(q -c "SELECT count(*) FILTER (WHERE reason = 'set_config') || '|' || count(*) FILTER (WHERE kind = 'events_suppressed')
                         || '|' || coalesce(max(detail->>'message') FILTER (WHERE kind = 'events_suppressed'), '')
                    FROM $events WHERE role_name = 'sec_app' AND occurred_at > now() - interval '1 minute'
                      AND (reason = 'set_config' OR kind = 'events_suppressed')")
IFS='|' read -r flood_stored flood_summaries flood_message <<<"$flood_pid_rows"
suppressed=$(( $(q -c "SELECT value FROM tenant_guard.stats WHERE counter = 'events_suppressed'") - suppressed_before ))
is "$((flood_stored >= 20 && flood_stored <= 25))|$((flood_stored + suppressed))" "1|200" \
   "rate 2/s: about a burst of 20 events stored ($flood_stored), the rest counted as suppressed ($suppressed); together 200"
is "$flood_summaries" "1" "the session's end leaves one events_suppressed event"
like "$flood_message" "^$suppressed events of this session were not stored" "which says how many were not stored"
q -q -c "ALTER SYSTEM RESET tenant_guard.security_events_rate" -c "SELECT pg_reload_conf()"
sleep 0.5

# --- 6. A full queue: refusals never wait, what does not fit is dropped and counted -------------------
q -q -c "ALTER SYSTEM SET tenant_guard.security_events_queue_size = 4"
tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -w -t 60 restart -l "$TG_DIR/server.log" >/dev/null \
    || { tail -20 "$TG_DIR/server.log" | sed 's/^/# /'; echo "Bail out! the server did not restart"; exit 1; }
worker=$(wait_for_worker)
is "$(q -c "SHOW tenant_guard.security_events_queue_size")|${worker:+worker}" "4|worker" \
   "restarted with tenant_guard.security_events_queue_size = 4, a database worker runs"

forge flood "$tenant_f" "flood-$run-" f 20
q -c "SELECT 'SELECT tenant_guard.set_tenant(''' || token || ''');' FROM flood ORDER BY n" >"$TG_DIR/flood.sql"
rows0=$(q -c "SELECT count(*) FROM $events")
IFS='|' read -r _ _ dropped0 _ <<<"$(counters)"
# Another session holds the events table: the worker blocks on its INSERT with the events it claimed.
coproc LOCKER { psql -X -q -At -v ON_ERROR_STOP=1 2>&1; }
echo "BEGIN; LOCK TABLE $events IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"${LOCKER[1]}"
read -r -t 10 locked <&"${LOCKER[0]}"
[ "${locked:-}" = locked ] || { echo "Bail out! could not lock $events: ${locked:-}"; exit 1; }
start=$(date +%s%N)
timeout 20 psql -X -At -U sec_app -v ON_ERROR_STOP=0 -f "$TG_DIR/flood.sql" >"$TG_DIR/flood.out" 2>&1
status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$status|$(grep -c "$bad_signature" "$TG_DIR/flood.out")|$((elapsed_ms < 5000))" "0|20|1" \
   "queue full, worker blocked: all 20 refusals return at once (${elapsed_ms} ms, limit 5 s; a hang would time out at 20 s)"
blocked=""
for _ in $(seq 25); do
    blocked=$(q -c "SELECT wait_event_type FROM pg_stat_activity WHERE backend_type = 'tenant_guard database worker' AND datname = 'postgres'")
    [ "$blocked" = Lock ] && break
    sleep 0.2
done
IFS='|' read -r _ _ dropped_blocked _ <<<"$(counters)"
is "$blocked|$((dropped_blocked - dropped0 > 0))" "Lock|1" \
   "meanwhile the worker waits for the lock, and events_dropped went up"
echo "COMMIT;" >&"${LOCKER[1]}"
echo '\q' >&"${LOCKER[1]}"
wait "$LOCKER_PID" 2>/dev/null
settle
IFS='|' read -r _ _ dropped1 _ <<<"$(counters)"
stored=$(q -c "SELECT count(*) FROM $events WHERE subject LIKE 'flood-$run-%'")
dropped=$((dropped1 - dropped0))
is "$((stored + dropped))|$((dropped > 0))|$(q -c "SELECT count(*) FROM $events")" "20|1|$((rows0 + stored))" \
   "lock released: rows stored ($stored) + events_dropped ($dropped) = 20 refusals exactly, some dropped"
is "$(q -c "SELECT string_agg(subject, ',' ORDER BY occurred_at) FROM $events WHERE subject LIKE 'flood-$run-%'")" \
   "flood-$run-1,flood-$run-2,flood-$run-3,flood-$run-4" \
   "the 4 events that fit the queue (the oldest) are stored; the newer ones were dropped"

is "$(grep -cE 'terminated by signal|PANIC' "$TG_DIR/server.log")" "1" "no process crashed but the worker killed on purpose"
