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
source bench/lib/students.sh
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
students_start registry
bench_cluster_start 40
createdb bench
students_setup "CREATE ROLE bench_app LOGIN;"

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
students_shape_scripts
shapes=(top50 point insert switch)
variants=(off on)
variant_role=([off]=bench_app [on]=bench_app)

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
    students_check_shapes "registry $v" bench_app
done

# --- Rounds -----------------------------------------------------------------------------------
students_rounds set_registry

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
        students_profile_cell "$ps" "$v"
        {
            echo "## $ps, registry $v ($(grep -oE 'tps = [0-9.]+' "$work/perf-pgbench.log" | head -1)), ${duration}s"
            echo
            echo '```'
            perf script -i "$work/perf-$ps-$v.data" -F tid,ip,sym 2>/dev/null | perf_python -c '
import sys
from perf_stacks import read_samples, busy_count
marks = ["check_context_tenant", "refuse_unless_active", "registry_status", "lookup", "tenants_relid",
         "try_load", "read_status_from_table", "LWLockAcquire", "LWLockRelease", "hash_search",
         "get_namespace_oid", "get_relname_relid", "GetCurrentStatementStartTimestamp"]
samples = read_samples(sys.stdin)
total = max(len(samples), 1)
registry = [s for s in samples if any("check_context_tenant" in f or "refuse_unless_active" in f for f in s)]
busy = busy_count(samples)
print("%d samples, %d of them busy (not waiting for the client in WaitEventSetWait)" % (len(samples), busy))
open(sys.argv[1], "w").write("%.2f%% of the busy samples (%.2f%% of all)" % (100.0 * len(registry) / busy, 100.0 * len(registry) / total))
print("with check_context_tenant or refuse_unless_active on the stack: %.2f%% of all samples, %.2f%% of the busy ones"
      % (100.0 * len(registry) / total, 100.0 * len(registry) / busy))
for m in marks[2:]:
    n = sum(1 for s in registry if any(m in f for f in s))
    if n: print("  %6.2f%%  ... of which %s on the stack" % (100.0 * n / total, m))
' "$work/perf-$ps-$v.share"
            echo
            perf_top_symbols "$work/perf-$ps-$v.data" 40 110
            echo '```'
            echo
        } >> "$perf_file"
    done; done
fi

check_library

# --- Report -----------------------------------------------------------------------------------
{
    echo "# Tenant registry overhead (tenant_guard.registry = on vs off)"
    echo
    report_run
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
    students_report_table
    students_report_goal "registry = on costs at most 1.05x (on / off >= 0.95 for every shape)" 0.95
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
