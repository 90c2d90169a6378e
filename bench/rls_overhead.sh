#!/usr/bin/env bash
# What the automatic policies cost a query, measured side by side in one run on a throwaway cluster.
# The seed's scenario 9: students spread over 100 districts, an index on (tenant_id, created_at).
# Two copies of the same data: one protected by tenant_guard (queried as an application role with a
# tenant context), one without row-level security queried with a hand-written WHERE tenant_id = $1.
# Each query shape runs many times inside PL/pgSQL (cached plans, no client round trips), the two
# variants alternating, 7 rounds; medians are reported. Also prints EXPLAIN ANALYZE of the top-50
# query under the policy. Not part of the pass/fail tests: machines here are shared and noisy.
#   bash bench/rls_overhead.sh [students]        (default 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
students=${1:-500000}
loops=${LOOPS:-2000}
source test/lib/cluster.sh
bash scripts/install-deps.sh >/dev/null
bash scripts/build.sh >/dev/null
tg_cluster_start >/dev/null
trap tg_cluster_stop EXIT

q() { psql -X -At -q -v ON_ERROR_STOP=1 "$@"; }
q <<SQL
CREATE EXTENSION tenant_guard;
CREATE ROLE bench_app LOGIN;
SET tenant_guard.auto_index = off;   -- the seed's own index leads with tenant_id
CREATE TABLE students_guarded (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
                               created_at timestamptz NOT NULL);
CREATE TABLE students_plain (LIKE students_guarded INCLUDING ALL);
SELECT tenant_guard.unprotect_table('students_plain');
INSERT INTO students_guarded
SELECT i, ('00000000-0000-4000-8000-' || lpad((i % 100)::text, 12, '0'))::uuid, 'student ' || i,
       timestamptz '2020-01-01' + i * interval '5 minutes'
  FROM generate_series(1, $students) i;
INSERT INTO students_plain SELECT * FROM students_guarded;
CREATE INDEX ON students_guarded (tenant_id, created_at);
CREATE INDEX ON students_plain (tenant_id, created_at);
VACUUM ANALYZE students_guarded, students_plain;
GRANT SELECT ON students_guarded, students_plain TO bench_app;
SQL
tenant=00000000-0000-4000-8000-000000000042
token=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','$tenant','exp',extract(epoch from now())::bigint+3600), 'district-hs256')")
point_id=$(q -c "SELECT min(id) FROM students_plain WHERE tenant_id = '$tenant'")

# Milliseconds per query for one shape, one variant: $1 = SQL with \$1 standing for the tenant.
per_query_ms() {
    q -U bench_app -v token="$token" <<SQL | tail -1
SET max_parallel_workers_per_gather = 0;
BEGIN;
SELECT tenant_guard.set_tenant(:'token') AS tenant \gset
CREATE FUNCTION pg_temp.run(tenant uuid, n int) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE started timestamptz := clock_timestamp(); r record;
BEGIN
  FOR i IN 1..n LOOP
    FOR r IN $1 LOOP END LOOP;
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - started) * 1000 / n;
END \$f\$;
SELECT pg_temp.run('$tenant', 50);  -- warm up
SELECT round(pg_temp.run('$tenant', $loops)::numeric, 4);
COMMIT;
SQL
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A shapes_plain shapes_guarded
shapes_plain[top_50]="SELECT id, name, created_at FROM students_plain WHERE tenant_id = tenant ORDER BY created_at DESC LIMIT 50"
shapes_guarded[top_50]="SELECT id, name, created_at FROM students_guarded ORDER BY created_at DESC LIMIT 50"
shapes_plain[tenant_5000]="SELECT id, name, created_at FROM students_plain WHERE tenant_id = tenant"
shapes_guarded[tenant_5000]="SELECT id, name, created_at FROM students_guarded"
shapes_plain[point_lookup]="SELECT id, name FROM students_plain WHERE tenant_id = tenant AND id = $point_id"
shapes_guarded[point_lookup]="SELECT id, name FROM students_guarded WHERE id = $point_id"
shapes_plain[count]="SELECT count(*) FROM students_plain WHERE tenant_id = tenant"
shapes_guarded[count]="SELECT count(*) FROM students_guarded"

echo "# RLS overhead: $students students, 100 districts, $loops queries x 7 rounds per cell ($(date -u +%F), $(nproc) cores)"
echo
echo "| query shape | hand-written WHERE (ms/query) | tenant_guard policy (ms/query) | policy / hand-written |"
echo "|---|---|---|---|"
for shape in top_50 tenant_5000 point_lookup count; do
    plain=(); guarded=()
    for _ in 1 2 3 4 5 6 7; do
        plain+=("$(per_query_ms "${shapes_plain[$shape]}")")
        guarded+=("$(per_query_ms "${shapes_guarded[$shape]}")")
    done
    p=$(printf '%s\n' "${plain[@]}" | median)
    g=$(printf '%s\n' "${guarded[@]}" | median)
    echo "| $shape | $p | $g | $(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.3f", g / p}') |"
done

echo
echo "EXPLAIN ANALYZE of the top-50 query under the policy (application role, tenant context set):"
q -U bench_app -v token="$token" <<SQL
SET max_parallel_workers_per_gather = 0;
BEGIN;
SELECT tenant_guard.set_tenant(:'token') AS tenant \gset
EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT id, name, created_at FROM students_guarded ORDER BY created_at DESC LIMIT 50;
COMMIT;
SQL
echo
echo "The same query hand-written on the table without row-level security:"
q -U bench_app <<SQL
SET max_parallel_workers_per_gather = 0;
EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT id, name, created_at FROM students_plain
 WHERE tenant_id = '$tenant' ORDER BY created_at DESC LIMIT 50;
SQL
