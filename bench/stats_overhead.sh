#!/usr/bin/env bash
# What `tenant_guard.track_tenant_stats = on` (the default) costs, measured side by side in one run on a
# throwaway cluster (not part of the pass/fail tests: these machines are shared and noisy, so it reports
# ratios between runs made back to back, the two variants interleaved round by round). The same set-up,
# shapes and rounds as bench/registry_overhead.sh; only the switch differs.
#
# One table, protected automatically by tenant_guard (it has a tenant_id uuid column):
#   students (id bigint identity primary key, tenant_id uuid, name text, created_at timestamptz),
#   100 tenants registered with tenant_guard.create_tenant() (their UUIDv7 ids are what the tokens
#   carry), 1000 rows each, index (tenant_id, created_at). The registry stays at its default.
# Variants: two login roles of the application role, bench_on and bench_off, with ALTER ROLE ... SET
# tenant_guard.track_tenant_stats = on / off (the setting is PGC_SUSET and the application role is not
# a superuser, so the superuser sets it per role; every pgbench run opens new connections, which pick
# it up at login - no reload and no wait between cells, so the cells of a pair run back to back):
#   off   the executor hooks still run (PG_TRY for the nesting level) but neither time the statement
#         nor gather the tenant's figures; nothing is added to the shared table at transaction end
#   on    top-level statements timed (INSTR_TIME around ExecutorRun/ExecutorFinish), rows counted by
#         command in ExecutorEnd into a backend-local entry of the context's tenant, added to the shared
#         hash (shared LWLock + atomic adds) when the transaction ends
# Shapes (pgbench -n -M prepared as an application role; each client acts for district client_id % 100):
#   top50    50 most recent rows of the tenant     } context set once per connection,
#   point    one row by primary key                } set_tenant(token, false)
#   insert   one row (tenant_id from the context)  }
#   switch   BEGIN; set_tenant(token, true); top50; COMMIT   (context set in every transaction)
# Every round runs the 8 cells (shape x variant) once, off and on adjacent, alternating which goes
# first; per cell the median tps over the rounds, and the median of the rounds' ratios on / off.
# Goal (from the issue): statistics cost at most 2%, i.e. on / off >= 0.98 for every shape.
# Sanity check: tenant_guard.tenant_stats is reset before the rounds; afterwards its figures for the
# benchmark tenants are compared with what pgbench did in the "on" cells (the "off" cells add nothing).
#
#   bash bench/stats_overhead.sh                      about 5 minutes on 2 cores
#   DURATION=2 ROUNDS=3 bash bench/stats_overhead.sh  quicker
#   SHAPES="point insert" ROUNDS=15 bash bench/stats_overhead.sh     only some shapes, more rounds
#   PERF=1 bash bench/stats_overhead.sh               also: perf profile of an extra run per variant of
#                                                     PERF_SHAPES (default: point insert; about 1 minute
#                                                     more), appended to the results file
# Writes bench/results/stats.md (OUT=file.md to write elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/students.sh
duration=${DURATION:-3}
rounds=${ROUNDS:-11}
students_start stats
grep -q 'tenant_guard.track_tenant_stats' "$so_file" ||
    { echo "the installed $so_file has no tenant_guard.track_tenant_stats setting" >&2; exit 1; }
bench_cluster_start 40
createdb bench
students_setup "CREATE ROLE bench_app NOLOGIN;
-- The two variants: the same application role, the statistics on and off at login.
CREATE ROLE bench_on LOGIN IN ROLE bench_app;
CREATE ROLE bench_off LOGIN IN ROLE bench_app;
ALTER ROLE bench_on SET tenant_guard.track_tenant_stats = on;
ALTER ROLE bench_off SET tenant_guard.track_tenant_stats = off;"

# --- The switch: the role -----------------------------------------------------------------------
for v in on off; do
    [ "$(q -U "bench_$v" -c 'SHOW tenant_guard.track_tenant_stats')" = $v ] ||
        { echo "a new connection of bench_$v does not have tenant_guard.track_tenant_stats = $v" >&2; exit 1; }
    [ "$(q -U "bench_$v" -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = f ] ||
        { echo "bench_$v is a superuser" >&2; exit 1; }
done

# --- pgbench scripts -------------------------------------------------------------------------
students_shape_scripts
shapes=(${SHAPES:-top50 point insert switch})
variants=(off on)
variant_role=([off]=bench_off [on]=bench_on)
# Rows each shape's transaction returns or inserts (the figures tenant_stats should count).
declare -A rows_read_per=([top50]=50 [point]=1 [insert]=0 [switch]=51)   # switch: set_tenant's row + 50
declare -A rows_inserted_per=([top50]=0 [point]=0 [insert]=1 [switch]=0)

# The benchmark tenants' figures, summed: transactions rows_read rows_inserted context_sets exec_time_ms
stats_of() {  # $1: SQL condition on bench_tokens.district
    q -F ' ' -c "SELECT coalesce(sum(transactions), 0), coalesce(sum(rows_read), 0), coalesce(sum(rows_inserted), 0),
                        coalesce(sum(context_sets), 0), round(coalesce(sum(exec_time_ms), 0)::numeric, 1)
                   FROM tenant_guard.tenant_stats s JOIN bench_tokens t ON t.tenant = s.tenant_id WHERE $1"
}

# --- Checks: the switch bites, the shapes do what they should (and warm up) ---------------------
echo "checking (${SECONDS}s) ..."
# District 7's session of three statements (set_tenant, a count, a point lookup) leaves no figures
# with the statistics off, and exactly its own with them on: 3 transactions, 3 rows read, 1 context set.
for v in "${variants[@]}"; do
    q -c "SELECT tenant_guard.stats_reset()" >/dev/null
    got=$(q -U "bench_$v" <<SQL
SELECT token FROM bench_tokens WHERE district = 7 \gset
SELECT tenant_guard.set_tenant(:'token', false);
SELECT count(*) FROM (${top50%;}) s;
SELECT count(*) FROM students WHERE id = 107;
SQL
)
    [ "$(tr '\n' ' ' <<<"$got")" = "$(q -c "SELECT tenant FROM bench_tokens WHERE district = 7") 50 1 " ] ||
        { echo "track_tenant_stats $v: unexpected results for district 7: $got" >&2; exit 1; }
    figures=$(stats_of "t.district = 7")
    expected="0 0 0 0"
    [ "$v" = on ] && expected="3 3 0 1"
    [ "${figures% *}" = "$expected" ] ||
        { echo "track_tenant_stats $v: district 7's tenant_stats (transactions rows_read rows_inserted context_sets) are '${figures% *}', expected '$expected'" >&2; exit 1; }
    students_check_shapes "track_tenant_stats $v" "bench_$v"
done

# --- Rounds -----------------------------------------------------------------------------------
# The benchmark tenants' figures start from zero: afterwards they should be the "on" cells' work.
q -c "SELECT tenant_guard.stats_reset()" >/dev/null
students_rounds

# --- Sanity check of the figures ----------------------------------------------------------------
# Expected from pgbench's counts of the "on" cells: one tenant transaction per pgbench transaction,
# plus, for the shapes that set the context once per connection, the set_tenant() transaction of
# each of the clients' connections (one row read, one context set); the switch shape sets the
# context in every transaction.
exp_xacts=0; exp_read=0; exp_inserted=0; exp_sets=0; on_seconds=0
for s in "${shapes[@]}"; do for r in $(seq "$rounds"); do
    n=${xacts[$s-on-$r]}
    exp_xacts=$((exp_xacts + n)); exp_read=$((exp_read + n * ${rows_read_per[$s]}))
    exp_inserted=$((exp_inserted + n * ${rows_inserted_per[$s]})); on_seconds=$((on_seconds + duration))
    if [ "$s" = switch ]; then exp_sets=$((exp_sets + n))
    else exp_xacts=$((exp_xacts + clients)); exp_read=$((exp_read + clients)); exp_sets=$((exp_sets + clients)); fi
done; done
figures=$(stats_of "t.district < $clients")
read -r got_xacts got_read got_inserted got_sets got_ms <<<"$figures"
others=$(q -c "SELECT count(*) FROM tenant_guard.tenant_stats s WHERE s.tenant_id NOT IN (SELECT tenant FROM bench_tokens WHERE district < $clients)")
stats_rows=$(q -c "SELECT '| d' || t.district || ' ' || s.tenant_id || ' | ' || s.context_sets || ' | ' || s.refusals || ' | '
                          || s.transactions || ' | ' || s.rows_read || ' | ' || s.rows_inserted || ' | ' || s.rows_updated
                          || ' | ' || s.rows_deleted || ' | ' || round(s.exec_time_ms::numeric, 1) || ' | '
                          || to_char(s.last_seen AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' |'
                     FROM tenant_guard.tenant_stats s LEFT JOIN bench_tokens t ON t.tenant = s.tenant_id ORDER BY t.district")
share() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "n/a"; else printf "%.4f", a / b}'; }

# --- Optional profile ---------------------------------------------------------------------------
# An extra run per variant of each of PERF_SHAPES, its backends sampled with DWARF call graphs (the
# postgres binary has no frame pointers). A sample is charged to the statistics when, walking from
# the sampled function towards main, the first frame that is one of the statistics' functions or one
# of the functions they pass through to (the next ExecutorRun hook, standard_Executor*) is one of the
# statistics' functions: their own code, what they call (clock_gettime, context_tenant, LWLocks,
# hash_search, GetCurrentTimestamp, sigsetjmp for PG_TRY) - not the statement they wrap.
perf_section=""
if [ "${PERF:-0}" = 1 ]; then
    perf_section=$work/perf.md
    : > "$perf_section"
    for ps in ${PERF_SHAPES:-point insert}; do for v in "${variants[@]}"; do
        echo "profiling $ps, track_tenant_stats $v ..."
        check_library
        [ "$ps" = insert ] && q -c "CHECKPOINT"
        students_profile_cell "$ps" "$v"
        [ "$ps" = insert ] && q -c "DELETE FROM students WHERE id > $rows" -c "VACUUM students"
        {
            echo "#### $ps, track_tenant_stats = $v ($(grep -oE 'tps = [0-9.]+' "$work/perf-pgbench.log" | head -1 | cut -d. -f1))"
            echo
            echo '```'
            perf script -i "$work/perf-$ps-$v.data" -F tid,ip,sym 2>/dev/null | perf_python -c '
import sys, collections
from perf_stacks import read_samples, busy_count
stats = ["run_with_statistics", "finish_with_statistics", "end_with_statistics", "add_elapsed", "pending_for",
         "add_pending_to_shared", "statistics_transaction_ended", "tenant_context_set"]
passes = ["run_and_record", "run_next", "standard_ExecutorRun", "standard_ExecutorFinish", "standard_ExecutorEnd",
          "end_execution", "clear_dead_context", "standard_ExecutorStart", "PostgresMain"]
samples = read_samples(sys.stdin)
total = max(len(samples), 1)
busy = busy_count(samples)
def name(f):
    f = f.replace("tenant_guard::pg::", "").replace("(anonymous namespace)::", "")
    return f.split("(")[0].split("+0x")[0].strip()[:50]
def owner(s):
    for k, f in enumerate(s):
        for m in stats:
            if m in f: return k, m
        if any(m in f for m in passes): return None
    return None
charged = collections.Counter()
callees = collections.Counter()
for s in samples:
    o = owner(s)
    if o:
        k, m = o
        charged[m] += 1
        # What the statistics function was doing: its own code, or the function it called, with
        # everything that one called (the postgres binary has no symbols for its static functions).
        callee = "(own code)" if k == 0 else name(s[k - 1]).replace("[unknown]", "(a static function)")
        callees[m + " -> " + callee] += 1
n = sum(charged.values())
print("%d samples, %d of them busy (not waiting for the client in WaitEventSetWait)" % (len(samples), busy))
open(sys.argv[1], "w").write("%.2f%% of the busy samples (%.2f%% of all)" % (100.0 * n / busy, 100.0 * n / total))
print("charged to the statistics: %.2f%% of all samples, %.2f%% of the busy ones" % (100.0 * n / total, 100.0 * n / busy))
print("  by statistics function (the first one met from the sampled function up):")
for m, c in charged.most_common(): print("  %6.2f%% of busy  %s" % (100.0 * c / busy, m))
print("  by what it was doing (its own code, or the function it called):")
for m, c in callees.most_common(12): print("  %6.2f%% of busy  %s" % (100.0 * c / busy, m))
' "$work/perf-$ps-$v.share"
            echo '```'
            echo
        } >> "$perf_section"
    done; done
fi

check_library

# --- Report -----------------------------------------------------------------------------------
{
    echo "# Per-tenant statistics overhead (tenant_guard.track_tenant_stats = on vs off)"
    echo
    report_run
    echo "unchanged during the run). Whole run ${SECONDS}s (the rounds ${rounds_seconds}s)."
    echo
    echo "Method: \`bench/stats_overhead.sh\`, the set-up and shapes of \`bench/registry_overhead.sh\`. One table"
    echo "students (id bigint identity primary key, tenant_id uuid, name text, created_at timestamptz), protected"
    echo "automatically by tenant_guard, $tenants tenants registered with \`tenant_guard.create_tenant()\`,"
    echo "$rows_per_tenant rows each, index (tenant_id, created_at). pgbench -n -M prepared as an application role"
    echo "(not a superuser), $clients clients, each acting for one district with an HS256 token. top50, point,"
    echo "insert: context set once per connection with \`set_tenant(token, false)\`; switch: \`BEGIN;"
    echo "set_tenant(token, true); top50; COMMIT\`. Variants: two login roles of the application role,"
    echo "\`ALTER ROLE bench_on|bench_off SET tenant_guard.track_tenant_stats = on|off\` (PGC_SUSET, so set by the"
    echo "superuser; every cell's pgbench opens new connections, which pick it up at login - no reload and no"
    echo "wait between the cells of a pair). $rounds rounds x ${duration}s per cell, off and on"
    echo "adjacent, alternating which goes first; each insert cell starts after a CHECKPOINT, and its rows are"
    echo "deleted (and vacuumed) after it. tps: median over the rounds; ratio: median of the per-round ratios"
    echo "on / off (min-max in brackets). Before the rounds the script checks that the setting bites: a"
    echo "three-statement session of district 7 leaves no figures in \`tenant_guard.tenant_stats\` with it off,"
    echo "and exactly 3 transactions, 3 rows read and 1 context set with it on."
    echo
    echo "Off still runs the statistics' executor hooks (ExecutorRun/ExecutorFinish with PG_TRY for the nesting"
    echo "level, ExecutorEnd) - it skips the timing, the per-tenant figures and the transaction-end addition to"
    echo "shared memory. So the ratio measures the accounting, not the mere presence of the hooks."
    echo
    students_report_table
    students_report_goal "statistics cost at most 2% (on / off >= 0.98 for every shape)" 0.98
    echo
    echo "## Sanity check: what tenant_guard.tenant_stats counted"
    echo
    echo "\`tenant_guard.stats_reset()\` before the rounds; afterwards the figures of the benchmark tenants"
    echo "(districts 0-$((clients - 1)), one per client) against what pgbench did in the \"on\" cells ($((rounds * ${#shapes[@]}))"
    echo "cells; the \"off\" cells must add nothing). Expected: one tenant transaction per pgbench transaction"
    echo "(rows read: top50 50, point 1, switch 51 with set_tenant()'s row; insert: 1 row inserted), plus for"
    echo "top50/point/insert the set_tenant() transaction of each connection (1 row read, 1 context set);"
    echo "switch sets the context in every transaction. pgbench counts only completed transactions, so a"
    echo "handful more may be counted (those cut off by the end of a cell)."
    echo
    echo "| figure | counted | expected from pgbench | counted / expected |"
    echo "|---|---|---|---|"
    echo "| transactions | $got_xacts | $exp_xacts | $(share "$got_xacts" "$exp_xacts") |"
    echo "| rows_read | $got_read | $exp_read | $(share "$got_read" "$exp_read") |"
    echo "| rows_inserted | $got_inserted | $exp_inserted | $(share "$got_inserted" "$exp_inserted") |"
    echo "| context_sets | $got_sets | $exp_sets | $(share "$got_sets" "$exp_sets") |"
    echo "| exec_time_ms | $got_ms | - | $(awk -v ms="$got_ms" -v s="$on_seconds" -v c="$clients" 'BEGIN {printf "%.1f%% of the on cells'"'"' client time (%d clients x %d s)", 100 * ms / (s * c * 1000), c, s}') |"
    echo
    echo "Other tenants in tenant_guard.tenant_stats after the rounds: $others. The rows (\`SELECT * FROM"
    echo "tenant_guard.tenant_stats\`, last_seen in UTC):"
    echo
    echo "| tenant | context_sets | refusals | transactions | rows_read | rows_inserted | rows_updated | rows_deleted | exec_time_ms | last_seen |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    echo "$stats_rows"
    if [ -n "$perf_section" ]; then
        echo
        echo "## Profile (PERF=1)"
        echo
        echo "perf record --call-graph dwarf -F 999 of the $clients backends of an extra run per shape and variant."
        echo "Charged to the statistics: samples whose nearest owning frame (walking from the sampled function up)"
        echo "is one of statistics.cpp's functions rather than the next hook or the executor: their own code and"
        echo "what they call, not the statement they wrap. Busy: not waiting for the client's next message."
        echo
        for ps in ${PERF_SHAPES:-point insert}; do for v in "${variants[@]}"; do
            echo "- $ps, $v: $(cat "$work/perf-$ps-$v.share")"
        done; done
        echo
        cat "$perf_section"
    fi
} > "$report_file"
cat "$report_file"
echo "wrote $report_file (${SECONDS}s)"
