#!/usr/bin/env bash
# What tenant_guard's Citus routing buys, measured side by side in one run on a throwaway Citus
# cluster (coordinator + 2 workers on 127.0.0.1, 32 shards). Not part of the pass/fail tests: these
# machines are shared and noisy, so it reports ratios of cells run back to back, interleaved.
#
# Data: $TENANTS tenants x $STUDENTS_PER_TENANT students, twice:
#   students        tenant_id uuid: protected by tenant_guard's event trigger, distributed by tenant_id
#   students_plain  the same rows, district_id uuid (a column tenant_guard leaves alone), distributed by
#                   it, with a hand-written policy USING (district_id = current_setting('app.tenant')::uuid)
# Variants (pgbench -M prepared through the coordinator, as the non-superuser login role bench_app; a
# random tenant in every transaction, so the routed plans are re-planned for each new tenant):
#   explicit  BEGIN; set_tenant(token, true); the query WITH `tenant_id = :tenant`; COMMIT
#             (the planner hook leaves a query that names its tenant as written: Citus routes it)
#   routed    BEGIN; set_tenant(token, true); the query without a tenant predicate; COMMIT
#             (tenant_guard's planner hook adds it, and Citus sends the query to one shard)
#   plain     BEGIN; SET LOCAL app.tenant = '<tenant>'; the query on students_plain; COMMIT
#             (citus.propagate_set_commands = local; the policy alone: Citus asks every shard)
# Shapes: top50 (the tenant's first 50 students by id), point (one student by id).
# Every round runs the 6 cells (shape x variant) once, explicit and routed adjacent, the order of a
# shape's three cells reversed every other time, then per shape a mixed cell: explicit and routed
# transactions drawn at random in one pgbench run (immune to the bursts of load on a shared machine).
# Per cell the median tps over the rounds, and the median of the per-round ratios.
# Goal: routing costs at most 1.05x next to the hand-written predicate: routed / explicit >= 0.95.
#
#   bash bench/citus_routing.sh                        5 rounds x 5 s: about 4 minutes on 2 cores
#   DURATION=2 ROUNDS=3 bash bench/citus_routing.sh    quicker
# Also: CLIENTS (2), TENANTS (20), STUDENTS_PER_TENANT (5000), OUT (bench/results/citus_routing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/common.sh
source test/lib/citus_cluster.sh
if ! tg_citus_available; then
    echo "skipped: Citus is not installed (scripts/build-citus.sh)"
    exit 0
fi
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
clients=${CLIENTS:-2}
tenants=${TENANTS:-20}
per_tenant=${STUDENTS_PER_TENANT:-5000}
bench_start
report_file=${OUT:-$results/citus_routing.md}
so_file=$(pg_config --pkglibdir)/tenant_guard.so
[ -f "$so_file" ] || { echo "tenant_guard is not installed (make install)" >&2; exit 1; }
so_installed=$(date -u -r "$so_file" '+%F %H:%M UTC')
so_sum=$(sha256sum "$so_file" | cut -c1-12)

# The trap before the start: a half-started cluster is stopped too.
trap tg_citus_stop EXIT
tg_citus_start "$(mktemp -d /tmp/tenant_guard_citus.XXXXXX)"
shard_count=${TG_CITUS_SHARD_COUNT:-32}   # what tg_citus_start configured
work=$TG_CITUS_DIR/bench
mkdir -p "$work"
q() { psql -X -At -q -v ON_ERROR_STOP=1 "$@"; }

echo "setting up ($tenants tenants x $per_tenant students, coordinator on port $PGPORT) ..."
q >/dev/null <<SQL
CREATE EXTENSION tenant_guard;   -- Citus creates it on the workers too
CREATE ROLE bench_app LOGIN;
-- Deterministic tenant ids: the same shards (and shard sharing) from one run to the next. The tokens
-- outlive the longest run these settings can make.
CREATE TABLE bench_tokens (n int PRIMARY KEY, tenant uuid NOT NULL, token text NOT NULL);
INSERT INTO bench_tokens
SELECT i, t, tenant_guard.sign_token(jsonb_build_object('tenant_id', t,
           'exp', extract(epoch FROM now())::bigint + 3600 + 10 * $rounds * $duration), 'district-hs256')
  FROM (SELECT i, md5('district ' || i)::uuid AS t FROM generate_series(0, $tenants - 1) i) d;
-- Citus wants the distribution column in the primary key; leading with it makes the key the
-- tenant's index for both shapes.
CREATE TABLE students (id bigint NOT NULL, tenant_id uuid NOT NULL, name text NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('students', 'tenant_id');
CREATE TABLE students_plain (id bigint NOT NULL, district_id uuid NOT NULL, name text NOT NULL,
                             PRIMARY KEY (district_id, id));
SELECT create_distributed_table('students_plain', 'district_id');
ALTER TABLE students_plain ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY district_rows ON students_plain USING (district_id = current_setting('app.tenant')::uuid);
-- Student i belongs to tenant i % $tenants. The superuser bypasses row-level security.
INSERT INTO students SELECT i, t.tenant, 'student ' || i
  FROM generate_series(1, $tenants * $per_tenant) i JOIN bench_tokens t ON t.n = i % $tenants;
INSERT INTO students_plain SELECT * FROM students;
VACUUM ANALYZE students, students_plain;
GRANT SELECT ON bench_tokens, students, students_plain TO bench_app;
SQL
[ "$(q -c "SELECT string_agg(table_name::text, ',') FROM tenant_guard.protected_tables WHERE protected")" = students ] ||
    { echo "expected tenant_guard to protect students and nothing else" >&2; exit 1; }

# --- The cells' pgbench scripts ------------------------------------------------------------------
shapes=(top50 point)
variants=(explicit routed plain)
declare -A query tps mixed
query[top50-explicit]="SELECT id, name FROM students WHERE tenant_id = :tenant ORDER BY id LIMIT 50;"
query[top50-routed]="SELECT id, name FROM students ORDER BY id LIMIT 50;"
query[top50-plain]="SELECT id, name FROM students_plain ORDER BY id LIMIT 50;"
query[point-explicit]="SELECT name FROM students WHERE tenant_id = :tenant AND id = :id;"
query[point-routed]="SELECT name FROM students WHERE id = :id;"
query[point-plain]="SELECT name FROM students_plain WHERE id = :id;"
# Looking the token up and setting the context in one statement: one round trip, like plain's SET LOCAL.
guard_context='SELECT tenant_guard.set_tenant(token, true), tenant FROM bench_tokens WHERE n = :n \gset'
# pgbench sends variables as parameters, which SET cannot take: one literal SET LOCAL per tenant.
plain_context=$(q -c "SELECT format(E'\\\\%s :n = %s\nSET LOCAL app.tenant = %L;',
                                    CASE n WHEN 0 THEN 'if' ELSE 'elif' END, n, tenant) FROM bench_tokens ORDER BY n")$'\n\\endif'
for s in "${shapes[@]}"; do for v in "${variants[@]}"; do
    context=$guard_context
    [ "$v" = plain ] && context=$plain_context
    printf '%s\n' "\\set n random(0, $((tenants - 1)))" "\\set id :n + $tenants * random(1, $((per_tenant - 1)))" \
        BEGIN\; "$context" "${query[$s-$v]}" COMMIT\; > "$work/$s-$v.sql"
done; done

# Citus repeats SET LOCAL on the workers only with this setting; tenant_guard turns it on by itself.
as_variant() {  # $1 variant, then a command
    if [ "$1" = plain ]; then PGOPTIONS="-c citus.propagate_set_commands=local" "${@:2}"; else "${@:2}"; fi
}

# One transaction of a cell in psql, for tenant number $2 (and its student $2 + 7 * tenants); $3
# goes before the query (EXPLAIN, or nothing).
psql_cell() {  # $1 shape-variant, $2 tenant number, $3 prefix
    local context=$guard_context sql=${query[$1]//:tenant/:\'tenant\'}
    [ "${1#*-}" = plain ] && context='SELECT tenant FROM bench_tokens WHERE n = :n \gset
SET LOCAL app.tenant = :'"'tenant';"
    as_variant "${1#*-}" psql -X -At -q -v ON_ERROR_STOP=1 -U bench_app -v n="$2" -v id=$(($2 + 7 * tenants)) <<SQL
BEGIN;
$context
$3 $sql
COMMIT;
SQL
}

pgbench_run() {  # $1 variant (its environment), then pgbench's options; prints pgbench's output
    local out
    out=$(as_variant "$1" pgbench -n -M prepared -U bench_app -c "$clients" -j "$clients" "${@:2}" 2>&1) ||
        { echo "pgbench ${*:2} failed:" >&2; echo "$out" >&2; exit 1; }
    grep -q aborted <<<"$out" && { echo "pgbench ${*:2} aborted:" >&2; echo "$out" >&2; exit 1; }
    echo "$out"
}

pgbench_cell() {  # $1 shape-variant, then pgbench's run options; prints tps
    pgbench_run "${1#*-}" "${@:2}" -f "$work/$1.sql" | grep -oE 'tps = [0-9.]+' | head -1 | awk '{print $3}'
}

# Separate cells measure each variant under whatever load the other users of this machine put on it
# during those seconds. Here explicit and routed transactions are drawn at random within one pgbench
# run, so both see the same load; and the median transaction, not the mean, so that a few stalls of
# hundreds of milliseconds do not decide. routed / explicit = explicit's median latency / routed's.
mixed_ratio() {  # $1 shape
    local explicit routed
    rm -f "$work"/mixed.*
    pgbench_run routed -T "$duration" -l --log-prefix="$work/mixed" \
        -f "$work/$1-explicit.sql" -f "$work/$1-routed.sql" >/dev/null
    # Log columns: client, transaction, latency (us), script (0: the first -f), ...
    explicit=$(cat "$work"/mixed.* | awk '$4 == 0 {print $3}' | median)
    routed=$(cat "$work"/mixed.* | awk '$4 == 1 {print $3}' | median)
    awk -v e="$explicit" -v r="$routed" 'BEGIN {print e / r}'
}

# --- Checks: same rows from every variant, the fan-out as expected, every cell runs (warm-up) ------
echo "checking (${SECONDS}s) ..."
explain_lines=()
for s in "${shapes[@]}"; do
    expected=$(psql_cell "$s-explicit" 3 "")
    [ "$(wc -l <<<"$expected")" = "$([ "$s" = top50 ] && echo 50 || echo 1)" ] ||
        { echo "$s explicit: unexpected rows for tenant 3: $expected" >&2; exit 1; }
    for v in "${variants[@]}"; do
        [ "$(psql_cell "$s-$v" 3 "")" = "$expected" ] || { echo "$s $v: other rows than explicit for tenant 3" >&2; exit 1; }
        plan=$(psql_cell "$s-$v" 3 "EXPLAIN (VERBOSE)")
        tasks=$(grep -oE 'Task Count: [0-9]+' <<<"$plan")
        [ "$tasks" = "Task Count: $([ "$v" = plain ] && echo "$shard_count" || echo 1)" ] ||
            { echo "$s $v: EXPLAIN shows ${tasks:-no Task Count}" >&2; exit 1; }
        # One tenant predicate each in the shard query: the hand-written one (explicit), tenant_guard's
        # (routed); none for plain.
        predicates=$(awk '/Query:/ {print gsub(/(tenant|district)_id OPERATOR/, ""); exit}' <<<"$plan")
        explain_lines+=("$s $v: $tasks; tenant predicates in the shard query: $predicates")
        pgbench_cell "$s-$v" -t 200 >/dev/null
    done
done
printf '  %s\n' "${explain_lines[@]}"

# --- Rounds ----------------------------------------------------------------------------------------
echo "running: ${#shapes[@]} shapes x ${#variants[@]} variants x $rounds rounds x ${duration}s, $clients clients (${SECONDS}s) ..."
rounds_started=$SECONDS
for round in $(seq "$rounds"); do
    for i in "${!shapes[@]}"; do
        s=${shapes[$i]}
        # explicit and routed always adjacent (their ratio is the point, and the load here comes in
        # bursts); the order reversed every other cell.
        order=(explicit routed plain)
        (( (round + i) % 2 == 0 )) && order=(plain routed explicit)
        for v in "${order[@]}"; do
            tps[$s-$v-$round]=$(pgbench_cell "$s-$v" -T "$duration")
        done
        mixed[$s-$round]=$(mixed_ratio "$s")
    done
    echo "  round $round (${SECONDS}s): $(for s in "${shapes[@]}"; do printf '%s routed/explicit %.3f (mixed %.3f), routed/plain %.1f; ' \
        "$s" "$(tps_ratio "$s-routed-$round" "$s-explicit-$round")" "${mixed[$s-$round]}" "$(tps_ratio "$s-routed-$round" "$s-plain-$round")"; done)"
done
rounds_seconds=$((SECONDS - rounds_started))
load_after=$(cut -d" " -f1-3 /proc/loadavg)

# --- Report ----------------------------------------------------------------------------------------
ratio_cell() {  # $1 printf format; the per-round ratios on stdin
    local r
    r=$(cat)
    # shellcheck disable=SC2059  # the format is the caller's
    printf "**$1** ($1-$1)" "$(median <<<"$r")" "$(sort -n <<<"$r" | head -1)" "$(sort -n <<<"$r" | tail -1)"
}
mixed_ratios() { local r; for r in $(seq "$rounds"); do echo "${mixed[$1-$r]}"; done; }
worst_separate=$(for s in "${shapes[@]}"; do round_ratios "$s-routed" "$s-explicit" | median; done | sort -n | head -1)
worst_mixed=$(for s in "${shapes[@]}"; do mixed_ratios "$s" | median; done | sort -n | head -1)
verdict() { awk -v r="$1" 'BEGIN {printf "%.3f - %s", r, (r >= 0.95 ? "met" : "NOT met")}'; }
{
    echo "# Citus: tenant_guard's routing vs a hand-written tenant predicate vs a plain policy"
    echo
    report_run
    echo "preloaded on every node from the start of the cluster). Citus $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"),"
    echo "coordinator + 2 workers on 127.0.0.1, $shard_count shards. $rounds rounds x ${duration}s per cell (${rounds_seconds}s of rounds)."
    echo
    echo "Method: \`bench/citus_routing.sh\`. $tenants tenants x $per_tenant students, twice: \`students\` (tenant_id,"
    echo "protected by tenant_guard, distributed by tenant_id) and \`students_plain\` (district_id, distributed by"
    echo "it, hand-written policy \`USING (district_id = current_setting('app.tenant')::uuid)\`); both with the"
    echo "primary key (tenant column, id). pgbench -n -M prepared through the coordinator as a non-superuser role,"
    echo "$clients clients, a random tenant in every transaction. explicit: \`BEGIN; set_tenant(token, true);\`"
    echo "the query with \`WHERE tenant_id = \$1\`; \`COMMIT\`. routed: the same without the predicate (tenant_guard's"
    echo "planner hook adds it). plain: \`BEGIN; SET LOCAL app.tenant = '...';\` the query on students_plain; \`COMMIT\`"
    echo "(citus.propagate_set_commands = local). Each round runs every cell once, a shape's cells in the order"
    echo "explicit, routed, plain or the reverse, alternately. tps: median over the rounds; ratios: median of"
    echo "the per-round ratios (min-max in brackets)."
    echo
    echo "Mixed: one more pgbench run per shape and round in which every transaction is explicit or routed at"
    echo "random (\`-f explicit.sql -f routed.sql\`), so that both see the same load: explicit's median"
    echo "transaction latency / routed's (the median: a few stalls of hundreds of ms caused by other users of"
    echo "the machine do not decide)."
    echo
    echo "| shape | explicit tps | routed tps | plain policy tps | routed / explicit | routed / explicit, mixed | routed / plain policy |"
    echo "|---|---|---|---|---|---|---|"
    for s in "${shapes[@]}"; do
        printf '| %s | %.0f | %.0f | %.0f | %s | %s | %s |\n' "$s" "$(cell_tps "$s-explicit")" "$(cell_tps "$s-routed")" \
            "$(cell_tps "$s-plain")" "$(round_ratios "$s-routed" "$s-explicit" | ratio_cell %.3f)" \
            "$(mixed_ratios "$s" | ratio_cell %.3f)" "$(round_ratios "$s-routed" "$s-plain" | ratio_cell %.1f)"
    done
    echo
    echo "(top50: \`SELECT id, name FROM students [WHERE tenant_id = \$1] ORDER BY id LIMIT 50\`; point:"
    echo "\`SELECT name FROM students WHERE [tenant_id = \$1 AND] id = \$2\`, a random student of the tenant.)"
    echo
    echo "EXPLAIN (VERBOSE) as the application role, tenant context set (Task Count checked by the script)."
    echo "tenant_guard leaves explicit's query as written (it names its tenant: Citus routes it by \`tenant_id = \$1\`,"
    echo "and its generic plan serves every tenant); routed's plan names the current tenant and is re-planned"
    echo "whenever another tenant becomes current, which with a random tenant per transaction is almost every time."
    echo
    printf -- '- %s\n' "${explain_lines[@]}"
    echo
    echo "Goal: routing costs at most 1.05x next to the hand-written predicate (routed / explicit >= 0.95):"
    echo "worst shape, separate cells: $(verdict "$worst_separate"); mixed: $(verdict "$worst_mixed")."
} > "$report_file"
cat "$report_file"
echo "wrote $report_file (${SECONDS}s)"
