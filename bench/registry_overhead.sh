#!/usr/bin/env bash
# What `tenant_guard.registry = on` costs, measured side by side in one run on a throwaway cluster
# (not part of the pass/fail tests: these machines are shared and noisy, so it reports ratios between
# runs made back to back, the two variants interleaved round by round).
#
# One table, protected automatically by tenant_guard (it has a tenant_id uuid column):
#   students (id bigint identity primary key, tenant_id uuid, name text, created_at timestamptz),
#   100 tenants registered with tenant_guard.create_tenant() (their UUIDv7 ids are what the tokens
#   carry), 1000 rows each, index (tenant_id, created_at).
# Variants, switched with ALTER SYSTEM SET tenant_guard.registry + pg_reload_conf() (every pgbench run
# opens new connections, which see the new value; the script waits until a new connection does):
#   off   any tenant in a verified token is accepted
#   on    set_tenant() and policy_tenant() check the tenant's status in shared memory (once per statement)
# Shapes (pgbench -n -M prepared as an application role; each client acts for district client_id % 100):
#   top50    50 most recent rows of the tenant     } context set once per connection,
#   point    one row by primary key                } set_tenant(token, false)
#   insert   one row (tenant_id from the context)  }
#   switch   BEGIN; set_tenant(token, true); top50; COMMIT   (context set in every transaction)
# Every round runs the 8 cells (shape x variant) once, off and on adjacent, alternating which goes
# first; per cell the median tps over the rounds, and the median of the rounds' ratios on / off.
# Goal (from the issue): registry = on costs at most 1.05x, i.e. on / off >= 0.95 for every shape.
#
#   bash bench/registry_overhead.sh                      about 4 minutes on 2 cores
#   DURATION=2 ROUNDS=3 bash bench/registry_overhead.sh  quicker
#   PERF=1 bash bench/registry_overhead.sh               also: perf profile of an extra point and
#                                                        switch run per variant (about 1 minute more)
# Writes bench/results/registry.md (OUT=file.md to write elsewhere; with PERF=1 also registry-perf.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
clients=${CLIENTS:-2}
tenants=100
rows_per_tenant=${ROWS_PER_TENANT:-1000}
rows=$((tenants * rows_per_tenant))
results=$root/bench/results
report_file=${OUT:-$results/registry.md}
load_before=$(cut -d" " -f1-3 /proc/loadavg)
started=$(date -u '+%F %H:%M UTC')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain -- src 2>/dev/null)" ] && commit="$commit (src/ has uncommitted changes)"
mkdir -p "$results"

source test/lib/cluster.sh
[ -f "$(pg_config --pkglibdir)/tenant_guard.so" ] || make -s install >/dev/null
so_file=$(pg_config --pkglibdir)/tenant_guard.so
so_installed=$(date -u -r "$so_file" '+%F %H:%M UTC')
so_sum=$(sha256sum "$so_file" | cut -c1-12)
so_stat=$(stat -c '%i %s %Y' "$so_file")
# Others may reinstall the library while this runs (a shared machine): new connections would then
# load another build, and the results would mix two. Checked before every cell; the run stops.
check_library() {
    [ "$(stat -c '%i %s %Y' "$so_file")" = "$so_stat" ] && return 0
    echo "$so_file was reinstalled during the run ($(date -u -r "$so_file" '+%F %H:%M:%S UTC')): the results would mix two builds; run again" >&2
    exit 1
}
TG_MAX_CONNECTIONS=40 tg_cluster_start >/dev/null
trap tg_cluster_stop EXIT
work=$TG_DIR/bench
mkdir -p "$work"; chmod 777 "$work"

q() { psql -X -At -q -v ON_ERROR_STOP=1 -d bench "$@"; }
createdb bench

echo "setting up ($tenants tenants x $rows_per_tenant rows) ..."
q >/dev/null <<SQL
CREATE EXTENSION tenant_guard;
CREATE ROLE bench_app LOGIN;
-- Districts 0-99, registered in the tenant registry (active).
CREATE TABLE bench_tokens (district int PRIMARY KEY, tenant uuid NOT NULL, token text NOT NULL);
INSERT INTO bench_tokens
SELECT i, tenant_guard.create_tenant('d' || i, 'District ' || i), '' FROM generate_series(0, $tenants - 1) i;
UPDATE bench_tokens SET token = tenant_guard.sign_token(jsonb_build_object('tenant_id', tenant, 'sub', 'bench',
                                    'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256');
GRANT SELECT ON bench_tokens TO bench_app;
-- Protected automatically (tenant_id uuid): forced RLS, policies, column default. The index is the
-- seed's own, leading with tenant_id, so no automatic one.
SET tenant_guard.auto_index = off;
CREATE TABLE students (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
                       name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
-- Row id belongs to district id % 100.
INSERT INTO students (id, tenant_id, name, created_at) OVERRIDING SYSTEM VALUE
SELECT i, t.tenant, 'student ' || i, timestamptz '2020-01-01' + i * interval '5 minutes'
  FROM generate_series(1, $rows) i JOIN bench_tokens t ON t.district = i % $tenants;
SELECT setval(pg_get_serial_sequence('students', 'id'), $rows);
CREATE INDEX ON students (tenant_id, created_at);
-- No background vacuum in the middle of a measurement; the insert cells clean up after themselves.
ALTER TABLE students SET (autovacuum_enabled = off);
VACUUM ANALYZE students;
GRANT SELECT, INSERT ON students TO bench_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bench_app;
SQL
[ "$(q -c "SELECT count(*) FROM tenant_guard.protected_tables WHERE table_name = 'students'::regclass AND protected")" = 1 ] ||
    { echo "students is not protected by tenant_guard" >&2; exit 1; }
[ "$(q -c "SELECT count(*) FROM tenant_guard.tenants WHERE status = 'active'")" = $tenants ] ||
    { echo "expected $tenants active tenants in tenant_guard.tenants" >&2; exit 1; }

# --- The switch -------------------------------------------------------------------------------
current_registry=""
set_registry() {  # $1 on|off; returns once a new connection of the application role sees it
    [ "$current_registry" = "$1" ] && return 0
    psql -X -At -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET tenant_guard.registry = $1" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    local i
    for i in $(seq 50); do
        [ "$(q -U bench_app -c 'SHOW tenant_guard.registry')" = "$1" ] && { current_registry=$1; return 0; }
        sleep 0.1
    done
    echo "tenant_guard.registry = $1 was not visible to new connections after 5.5 s" >&2
    exit 1
}

# --- pgbench scripts -------------------------------------------------------------------------
# Each client looks up its district's token once (pgbench keeps a client's variables from one
# transaction to the next; -D ready=0 starts them).
prologue='\set district :client_id % 100
\if :ready = 0
SELECT tenant, token FROM bench_tokens WHERE district = :district \gset
CONTEXT
\set ready 1
\endif'
session_prologue=${prologue/CONTEXT/SELECT tenant_guard.set_tenant(:token, false);}
top50="SELECT id, name, created_at FROM students ORDER BY created_at DESC LIMIT 50;"
{ echo "$session_prologue"; echo "$top50"; } > "$work/top50.sql"
{ echo "$session_prologue"; echo "\\set id :district + $tenants * random(1, $((rows_per_tenant - 1)))"
  echo "SELECT id, name FROM students WHERE id = :id;"; } > "$work/point.sql"
{ echo "$session_prologue"; echo "INSERT INTO students (name) VALUES ('new student');"; } > "$work/insert.sql"
{ echo "${prologue/CONTEXT/}"; echo "BEGIN;"; echo "SELECT tenant_guard.set_tenant(:token, true);"
  echo "$top50"; echo "COMMIT;"; } > "$work/switch.sql"
shapes=(top50 point insert switch)
variants=(off on)

# --- Checks: the switch bites, the shapes do what they should (and warm up) ---------------------
echo "checking (${SECONDS}s) ..."
# A tenant that is not registered: accepted with the registry off, refused with it on.
stranger=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '00000000-0000-4000-8000-0000000000ff',
                     'sub', 'bench', 'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256')")
set_registry off
q -U bench_app -v token="$stranger" <<<"SELECT tenant_guard.set_tenant(:'token')" >/dev/null ||
    { echo "registry off: a token of an unregistered tenant was refused" >&2; exit 1; }
set_registry on
if q -U bench_app -v token="$stranger" <<<"SELECT tenant_guard.set_tenant(:'token')" >/dev/null 2>&1; then
    echo "registry on: a token of an unregistered tenant was accepted" >&2; exit 1
fi
# A suspension bites at the next statement of a session context set before it (then resumed).
suspended=$(q -c "SELECT tenant FROM bench_tokens WHERE district = 99")
out=$(q -U bench_app 2>&1 <<SQL || true
SELECT token FROM bench_tokens WHERE district = 99 \gset
SELECT tenant_guard.set_tenant(:'token', false);
SELECT count(*) FROM students;
\! psql -X -q -d bench -c "SELECT tenant_guard.suspend_tenant('$suspended')"
SELECT count(*) FROM students;
SQL
)
grep -q "is suspended" <<<"$out" || { echo "registry on: a suspension did not stop an open session:" >&2; echo "$out" >&2; exit 1; }
q -c "SELECT tenant_guard.resume_tenant('$suspended')" >/dev/null
# Each shape's query, for district 7: what it returns, and that it is refused for a suspended tenant.
for v in "${variants[@]}"; do
    set_registry "$v"
    got=$(q -U bench_app <<SQL
SELECT token FROM bench_tokens WHERE district = 7 \gset
SELECT tenant_guard.set_tenant(:'token', false);
SELECT count(*) FROM (${top50%;}) s;
SELECT count(*) FROM students WHERE id = 107;
SELECT count(*) FROM students WHERE id = 108;
SQL
)
    [ "$(tr '\n' ' ' <<<"$got")" = "$(q -c "SELECT tenant FROM bench_tokens WHERE district = 7") 50 1 0 " ] ||
        { echo "registry $v: unexpected results for district 7: $got" >&2; exit 1; }
    for s in "${shapes[@]}"; do
        pgbench -n -M prepared -U bench_app -D ready=0 -c "$clients" -j 2 -t 200 -f "$work/$s.sql" bench >"$work/check.log" 2>&1 ||
            { echo "registry $v: pgbench $s failed" >&2; cat "$work/check.log" >&2; exit 1; }
        grep -q 'aborted' "$work/check.log" && { echo "registry $v: pgbench $s aborted" >&2; cat "$work/check.log" >&2; exit 1; }
    done
    [ "$(q -c "SELECT count(*) FROM students WHERE id > $rows AND tenant_id IN (SELECT tenant FROM bench_tokens WHERE district < $clients)")" = $((200 * clients)) ] ||
        { echo "registry $v: the insert check did not add $((200 * clients)) rows of the clients' tenants" >&2; exit 1; }
    q -c "DELETE FROM students WHERE id > $rows" -c "VACUUM ANALYZE students"
done

# --- Rounds -----------------------------------------------------------------------------------
# One timed run; prints tps.
run_cell() {  # $1 shape
    local out
    out=$(pgbench -n -M prepared -U bench_app -D ready=0 -c "$clients" -j 2 -T "$duration" -f "$work/$1.sql" bench 2>&1) ||
        { echo "pgbench $1 failed:" >&2; echo "$out" >&2; exit 1; }
    grep -q 'aborted' <<<"$out" && { echo "pgbench $1 aborted:" >&2; echo "$out" >&2; exit 1; }
    grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | awk '{print $3}'
}
declare -A tps
echo "running: ${#shapes[@]} shapes x ${#variants[@]} variants x $rounds rounds x ${duration}s, $clients clients (${SECONDS}s) ..."
for round in $(seq "$rounds"); do
    for i in "${!shapes[@]}"; do
        s=${shapes[$i]}
        # Alternate which variant goes first (by round, and by shape within a round, so that one
        # switch of the setting serves two adjacent cells).
        order=(off on)
        (( (round + i) % 2 == 0 )) && order=(on off)
        for v in "${order[@]}"; do
            check_library
            set_registry "$v"
            # Each insert cell starts right after a checkpoint, so that neither variant gets the
            # timed checkpoint or the full-page writes after it.
            [ "$s" = insert ] && q -c "CHECKPOINT"
            tps[$s-$v-$round]=$(run_cell "$s")
            # Keep the table the same size for every cell.
            [ "$s" = insert ] && q -c "DELETE FROM students WHERE id > $rows" -c "VACUUM students"
        done
    done
    echo "  round $round (${SECONDS}s): $(for s in "${shapes[@]}"; do
        printf '%s %.3f; ' "$s" "$(awk -v a="${tps[$s-on-$round]}" -v b="${tps[$s-off-$round]}" 'BEGIN {print a / b}')"; done)"
done
check_library
load_after=$(cut -d" " -f1-3 /proc/loadavg)

# --- Optional profile ---------------------------------------------------------------------------
# An extra run per variant of each of PERF_SHAPES (default: point, the shortest transaction with a
# check, and switch, with two checks per transaction: set_tenant() and the policy), its backends
# sampled with DWARF call graphs (the postgres binary has no frame pointers). Reports the share of
# the samples with a registry function on the stack.
if [ "${PERF:-0}" = 1 ]; then
    perf_file=${report_file%.md}-perf.md
    {
        echo "# Where registry = on spends its time (bench/registry_overhead.sh, PERF=1, $(date -u '+%F %H:%M UTC'))"
        echo
        echo "perf record --call-graph dwarf -F 999 of the $clients backends of an extra run per shape and variant."
        echo "Percentages are of all the backends' samples, idle ones (waiting for the next message) included;"
        echo "the registry's share is also given of the busy samples. pgbench's own time is not included."
        echo
    } > "$perf_file"
    for ps in ${PERF_SHAPES:-point switch}; do for v in "${variants[@]}"; do
        echo "profiling $ps, registry $v ..."
        check_library
        set_registry "$v"
        pgbench -n -M prepared -U bench_app -D ready=0 -c "$clients" -j 2 -T $((duration + 3)) -f "$work/$ps.sql" bench \
            >"$work/perf-pgbench.log" 2>&1 &
        bench_pid=$!
        sleep 1.5
        backends=$(q -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'bench_app' AND datname = 'bench'")
        perf record --call-graph dwarf,8192 -F 999 -p "$backends" -o "$work/perf-$ps-$v.data" >"$work/perf-record.log" 2>&1 &
        perf_pid=$!
        sleep "$duration"
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true   # perf exits non-zero after SIGINT
        [ -s "$work/perf-$ps-$v.data" ] || { echo "perf record failed:" >&2; cat "$work/perf-record.log" >&2; exit 1; }
        wait "$bench_pid"
        {
            echo "## $ps, registry $v ($(grep -oE 'tps = [0-9.]+' "$work/perf-pgbench.log" | head -1)), ${duration}s"
            echo
            echo '```'
            perf script -i "$work/perf-$ps-$v.data" -F tid,ip,sym 2>/dev/null | python3 -c '
import sys
marks = ["check_context_tenant", "refuse_unless_active", "registry_status", "lookup", "tenants_relid",
         "try_load", "read_status_from_table", "LWLockAcquire", "LWLockRelease", "hash_search",
         "get_namespace_oid", "get_relname_relid", "GetCurrentStatementStartTimestamp"]
samples, frames = [], None
for line in sys.stdin:
    if not line.strip():
        if frames is not None: samples.append(frames)
        frames = None
    elif not line.startswith("\t"):
        frames = []
    elif frames is not None:
        parts = line.split(None, 1)
        frames.append(parts[1].strip() if len(parts) > 1 else "?")
if frames: samples.append(frames)
total = max(len(samples), 1)
registry = [s for s in samples if any("check_context_tenant" in f or "refuse_unless_active" in f for f in s)]
busy = max(sum(1 for s in samples if not any("WaitEventSetWait" in f for f in s)), 1)
print("%d samples, %d of them busy (not waiting for the client in WaitEventSetWait)" % (len(samples), busy))
open(sys.argv[1], "w").write("%.2f%% of the busy samples (%.2f%% of all)" % (100.0 * len(registry) / busy, 100.0 * len(registry) / total))
print("with check_context_tenant or refuse_unless_active on the stack: %.2f%% of all samples, %.2f%% of the busy ones"
      % (100.0 * len(registry) / total, 100.0 * len(registry) / busy))
for m in marks[2:]:
    n = sum(1 for s in registry if any(m in f for f in s))
    if n: print("  %6.2f%%  ... of which %s on the stack" % (100.0 * n / total, m))
' "$work/perf-$ps-$v.share"
            echo
            echo "Named symbols by inclusive time (children):"
            perf report -i "$work/perf-$ps-$v.data" --children --sort symbol --stdio -g none 2>/dev/null |
                grep -E '^ +[0-9]' | grep -v '0x0000' | head -40 | cut -c1-110 || true
            echo '```'
            echo
        } >> "$perf_file"
    done; done
fi

check_library

# --- Report -----------------------------------------------------------------------------------
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cell_tps() { for r in $(seq "$rounds"); do echo "${tps[$1-$r]}"; done | median; }
ratios() { for r in $(seq "$rounds"); do awk -v a="${tps[$1-on-$r]}" -v b="${tps[$1-off-$r]}" 'BEGIN {print a / b}'; done; }
worst=$(for s in "${shapes[@]}"; do ratios "$s" | median; done | sort -n | head -1)
{
    echo "# Tenant registry overhead (tenant_guard.registry = on vs off)"
    echo
    echo "Run of $started on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"
    echo "shared and noisy (load average before the run: $load_before, after: $load_after), PostgreSQL"
    echo "$(pg_config --version | awk '{print $2}'), fsync = off; pgbench on the same machine."
    echo "Repository at commit $commit; tenant_guard.so installed $so_installed (sha256 $so_sum...,"
    echo "unchanged during the run)."
    echo
    echo "Method: \`bench/registry_overhead.sh\`. One table students (id bigint identity primary key,"
    echo "tenant_id uuid, name text, created_at timestamptz), protected automatically by tenant_guard,"
    echo "$tenants tenants registered with \`tenant_guard.create_tenant()\`, $rows_per_tenant rows each, index"
    echo "(tenant_id, created_at). pgbench -n -M prepared as an application role, $clients clients, each acting"
    echo "for one district with an HS256 token (\`sign_token(..., 'district-hs256')\`). top50, point, insert:"
    echo "context set once per connection with \`set_tenant(token, false)\`; switch: \`BEGIN; set_tenant(token,"
    echo "true); top50; COMMIT\`. Variants switched with \`ALTER SYSTEM SET tenant_guard.registry = on|off;"
    echo "SELECT pg_reload_conf()\` (then waiting until a new connection sees it; every cell's pgbench opens new"
    echo "connections). $rounds rounds x ${duration}s per cell, off and on adjacent, alternating which goes first;"
    echo "each insert cell starts after a CHECKPOINT, and its rows are deleted (and vacuumed) after it."
    echo "tps: median over the rounds; ratio: median of the per-round ratios on / off (min-max in brackets)."
    echo "Before the rounds the script checks that the setting bites (an unregistered tenant's token is"
    echo "accepted off and refused on; a suspension stops an open session at its next statement)."
    echo
    echo "| shape | off tps | on tps | on / off | per-round on / off |"
    echo "|---|---|---|---|---|"
    for s in "${shapes[@]}"; do
        printf '| %s | %.0f | %.0f | **%.3f** (%.2f-%.2f) | %s |\n' "$s" "$(cell_tps "$s-off")" "$(cell_tps "$s-on")" \
            "$(ratios "$s" | median)" "$(ratios "$s" | sort -n | head -1)" "$(ratios "$s" | sort -n | tail -1)" \
            "$(ratios "$s" | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}')"
    done
    echo
    echo "(top50: the tenant's 50 most recent rows; point: one row by primary key; insert: one row, tenant_id"
    echo "from the context; switch: the context set in every transaction, then top50.)"
    echo
    echo "Goal: registry = on costs at most 1.05x (on / off >= 0.95 for every shape): worst shape"
    echo "$(awk -v r="$worst" 'BEGIN {printf "%.3f - %s", r, (r >= 0.95 ? "met" : "NOT met")}')."
    if [ "${PERF:-0}" = 1 ]; then
        echo
        echo "Profile (\`PERF=1\`, $(basename "${report_file%.md}-perf.md")): perf record --call-graph dwarf of the backends"
        echo "of an extra run per shape with registry = on; samples with check_context_tenant() or"
        echo "refuse_unless_active() on the stack (busy: not waiting for the client's next message):"
        for ps in ${PERF_SHAPES:-point switch}; do echo "$ps $(cat "$work/perf-$ps-on.share")"; done |
            awk '{printf "%s%s: %s", (NR > 1 ? ";\n" : ""), $1, substr($0, length($1) + 2)} END {print "."}'
    fi
} > "$report_file"
cat "$report_file"
[ "${PERF:-0}" = 1 ] && echo "profile: ${report_file%.md}-perf.md"
echo "wrote $report_file (${SECONDS}s)"
