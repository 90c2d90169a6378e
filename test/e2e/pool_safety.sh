#!/usr/bin/env bash
# Pool safety: pgbouncer in transaction and in session mode in front of the cluster, 16 concurrent
# clients each acting for its own tenant, thousands of transactions sharing a few server backends;
# then cancels and a killed backend in the middle of tenant transactions. No client may ever see or
# write another tenant's row, and a transaction or pooled session that sets no context sees nothing.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/pgbouncer.sh"
e2e_begin 16
trap 'tg_pgbouncer_stop transaction; tg_pgbouncer_stop session; tg_cluster_stop' EXIT

clients=${POOL_CLIENTS:-16}
transactions=${POOL_TRANSACTIONS:-1500}
session_connections=${POOL_SESSION_CONNECTIONS:-150}
q() { psql -X -At -v ON_ERROR_STOP=1 -d pooldb "$@" 2>&1; }
createdb pooldb
q -q -f "$here/pool/setup.sql" >/dev/null || { echo "Bail out! pool fixture failed"; exit 1; }
tg_pgbouncer_start transaction transaction pooldb 4 || { echo "Bail out! pgbouncer (transaction) did not start"; exit 1; }
transaction_port=$TG_BOUNCER_PORT
tg_pgbouncer_start session session pooldb 4 || { echo "Bail out! pgbouncer (session) did not start"; exit 1; }
session_port=$TG_BOUNCER_PORT

# pgbench through a pool as the application role. $1 port, $2 phase, the rest pgbench options.
through_pool() {
    local port=$1 phase=$2; shift 2
    pgbench -n -h 127.0.0.1 -p "$port" -U pool_app -M extended -D phase="$phase" "$@" pooldb 2>&1
}
leaks() { grep -c 'LEAK' <<<"$1"; }
# Rows whose tenant is not their client's: a write under another tenant's context.
misattributed() { q -c "SELECT count(*) FROM pool_rows r JOIN pool_tokens t USING (client_id) WHERE r.tenant_id <> t.tenant"; }

# --- Transaction mode -------------------------------------------------------------------------
out=$(through_pool "$transaction_port" transaction -c "$clients" -j 2 -t "$transactions" -f "$here/pool/transaction.sql")
rc=$?
is "$rc:$(leaks "$out")" "0:0" "transaction mode: $clients clients x $transactions transactions finish with no leak"
[ "$rc" = 0 ] || sed -n '1,15p' <<<"$out" | sed 's/^/#   /'
is "$(q -c "SELECT count(*) FILTER (WHERE n <> $transactions), count(*) FROM (SELECT client_id, count(*) n FROM pool_rows WHERE phase = 'transaction' GROUP BY 1) c")" \
   "0|$clients" "transaction mode: every client's rows are all there, exactly $transactions each"
is "$(misattributed)" "0" "transaction mode: every row carries its own client's tenant"
shared=$(q -c "SELECT count(DISTINCT backend_pid) || '|' || (SELECT count(*) FROM (SELECT backend_pid FROM pool_rows WHERE phase = 'transaction' GROUP BY 1 HAVING count(DISTINCT client_id) > 1) s) FROM pool_rows WHERE phase = 'transaction'")
ok "$(awk -F'|' -v c="$clients" '$1 <= 4 && $2 >= 1 {print "yes"}' <<<"$shared")" \
   "transaction mode: $clients clients shared at most 4 server backends (backends used | serving several tenants: $shared)"

# --- Session mode with DISCARD ALL ------------------------------------------------------------
out=$(through_pool "$session_port" session -C -c "$clients" -j 2 -t "$((session_connections / clients + 1))" -f "$here/pool/session.sql")
rc=$?
is "$rc:$(leaks "$out")" "0:0" "session mode: a new connection per client session, session contexts, no leak"
[ "$rc" = 0 ] || sed -n '1,15p' <<<"$out" | sed 's/^/#   /'
is "$(q -c "SELECT count(*) FILTER (WHERE n <> $((session_connections / clients + 1))), count(*) FROM (SELECT client_id, count(*) n FROM pool_rows WHERE phase = 'session' GROUP BY 1) c")" \
   "0|$clients" "session mode: every client's rows are all there"
is "$(misattributed)" "0" "session mode: every row carries its own client's tenant"
reused=$(q -c "SELECT count(*) FROM (SELECT backend_pid FROM pool_rows WHERE phase = 'session' GROUP BY 1 HAVING count(DISTINCT client_id) > 1) s")
ok "$([ "$reused" -ge 1 ] && echo yes)" "session mode: server connections were handed from tenant to tenant ($reused backends)"

# --- Faults: cancels in the middle of tenant transactions --------------------------------------
through_pool "$transaction_port" cancel -c "$clients" -j 2 -T 6 -f "$here/pool/slow_transaction.sql" >"$TG_DIR/cancel.out" &
bench=$!
cancelled=0
for _ in $(seq 40); do
    sleep 0.1
    n=$(psql -X -At -d pooldb -c "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity WHERE usename = 'pool_app' AND state = 'active' AND query LIKE '%pg_sleep%'" 2>/dev/null || echo 0)
    cancelled=$((cancelled + ${n:-0}))
done
wait "$bench"
out=$(cat "$TG_DIR/cancel.out")
ok "$([ "$cancelled" -ge 1 ] && grep -q 'canceling statement due to user request' <<<"$out" && echo yes)" \
   "faults: $cancelled queries cancelled in the middle of tenant transactions"
is "$(leaks "$out")" "0" "faults: no leak while queries were being cancelled"
out=$(through_pool "$transaction_port" after-cancel -c "$clients" -j 2 -t 200 -f "$here/pool/transaction.sql")
is "$?:$(leaks "$out")" "0:0" "faults: after the cancels the pool serves every tenant cleanly, no context left behind"

# --- Faults: a backend killed (SIGKILL) in the middle of a tenant transaction -----------------
through_pool "$transaction_port" kill -c "$clients" -j 2 -T 8 -f "$here/pool/slow_transaction.sql" >"$TG_DIR/kill.out" &
bench=$!
sleep 1
# Each sleep lasts 20 ms, so one look at pg_stat_activity can miss them all on a loaded machine:
# keep looking (up to 5 s, well inside the 8 s run).
victim=
for _ in $(seq 50); do
    victim=$(psql -X -At -d pooldb -c "SELECT pid FROM pg_stat_activity WHERE usename = 'pool_app' AND state = 'active' AND query LIKE '%pg_sleep%' LIMIT 1" 2>/dev/null)
    [ -n "$victim" ] && break
    sleep 0.1
done
ok "$victim" "faults: found a backend in the middle of a tenant transaction"
[ -n "$victim" ] && kill -9 "$victim"
wait "$bench"
for _ in $(seq 100); do pg_isready -q && break; sleep 0.2; done
ok "$(grep -q 'terminated by signal 9' "$TG_DIR/server.log" && echo yes)" "faults: the server saw the killed backend and restarted its backends"
out=$(through_pool "$transaction_port" after-kill -c "$clients" -j 2 -t 200 -f "$here/pool/transaction.sql")
rc=$?
is "$rc:$(leaks "$out")" "0:0" "faults: after the crash the pool recovers and serves every tenant cleanly"
[ "$rc" = 0 ] || sed -n '1,15p' <<<"$out" | sed 's/^/#   /'
is "$(q -c "SELECT count(*) FILTER (WHERE n <> 200), count(*) FROM (SELECT client_id, count(*) n FROM pool_rows WHERE phase = 'after-kill' GROUP BY 1) c")" \
   "0|$clients" "faults: after the crash every client's rows are all there"
is "$(misattributed)" "0" "faults: no row was ever written under another client's tenant"
