#!/usr/bin/env bash
# Cost of the context core, measured side by side in one run on a throwaway cluster:
#  1. one set_tenant() with an HS256 token vs one set_config() of an unsigned GUC;
#  2. current_tenant() per row in a policy-style filter vs a constant and vs current_setting().
# Not part of the pass/fail tests (machines here are shared and noisy): it prints ratios.
#   bash bench/context_cost.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-2000000}
calls=${CALLS:-200000}
source test/lib/cluster.sh
bash scripts/install-deps.sh >/dev/null
bash scripts/build.sh >/dev/null
tg_cluster_start >/dev/null
trap tg_cluster_stop EXIT

q() { psql -X -At -q "$@"; }
q -c "CREATE EXTENSION tenant_guard" -c "SET max_parallel_workers_per_gather = 0" \
  -c "CREATE TABLE bench_rows AS SELECT CASE WHEN i % 100 = 0 THEN 'aaaaaaaa-0000-4000-8000-000000000001'::uuid
                                             ELSE gen_random_uuid() END AS tenant_id, i FROM generate_series(1, $rows) i" \
  -c "VACUUM ANALYZE bench_rows"
token=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','aaaaaaaa-0000-4000-8000-000000000001','sub','bench','exp',extract(epoch from now())::bigint+3600), 'district-hs256')")

# Median of 7 runs of one statement, in milliseconds (server-side, EXPLAIN ANALYZE-free: \timing).
median_ms() {
    local sql=$1 i times=()
    for i in 1 2 3 4 5 6 7; do
        times+=("$(q -v token="$token" <<SQL | grep -oE 'Time: [0-9.]+' | awk '{print $2}'
SET max_parallel_workers_per_gather = 0;
BEGIN;
SELECT tenant_guard.set_tenant(:'token');
SELECT set_config('app.current_tenant', 'aaaaaaaa-0000-4000-8000-000000000001', true);
\timing on
$sql
\timing off
COMMIT;
SQL
)")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 4p
}

set_tenant_ms=$(median_ms "SELECT count(tenant_guard.set_tenant(:'token')) FROM generate_series(1, $calls);")
set_config_ms=$(median_ms "SELECT count(set_config('app.current_tenant', 'aaaaaaaa-0000-4000-8000-000000000001', true)) FROM generate_series(1, $calls);")
loop_ms=$(median_ms "SELECT count(*) FROM generate_series(1, $calls);")

const_ms=$(median_ms "SELECT count(*) FROM bench_rows WHERE tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001'::uuid;")
func_ms=$(median_ms "SELECT count(*) FROM bench_rows WHERE tenant_id = tenant_guard.current_tenant();")
setting_ms=$(median_ms "SELECT count(*) FROM bench_rows WHERE tenant_id = current_setting('app.current_tenant')::uuid;")

awk -v st="$set_tenant_ms" -v sc="$set_config_ms" -v lp="$loop_ms" -v n="$calls" \
    -v c="$const_ms" -v f="$func_ms" -v s="$setting_ms" -v r="$rows" 'BEGIN {
  printf "set_tenant(HS256)          %7.2f us/call   (set_config: %.2f us/call, ratio %.2f)\n", (st-lp)*1000/n, (sc-lp)*1000/n, (st-lp)/(sc-lp)
  printf "current_tenant() per row   %7.1f ns/row    (seq scan of %d rows: %.0f ms vs %.0f ms with a constant, ratio %.3f)\n", (f-c)*1e6/r, r, f, c, f/c
  printf "current_setting()::uuid    %7.1f ns/row    (%.0f ms, ratio %.3f vs constant)\n", (s-c)*1e6/r, s, s/c
}'
