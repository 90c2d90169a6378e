-- Row-level security on the tenant context gives the same rows when parallel workers do the scanning:
-- workers get the leader's tenant, and never a context the leader has lost.
CREATE EXTENSION IF NOT EXISTS tenant_guard;
\set VERBOSITY terse

CREATE ROLE tg_parallel_app LOGIN;
-- tenant_guard protects the table when it is created. Without the automatic tenant index the
-- tenant's rows come from a sequential scan, which is what the workers share.
SET tenant_guard.auto_index = off;
CREATE TABLE parallel_students (tenant_id uuid NOT NULL, id int NOT NULL, name text);
RESET tenant_guard.auto_index;
INSERT INTO parallel_students
SELECT CASE WHEN i % 3 = 0 THEN 'aaaaaaaa-0000-4000-8000-000000000001'::uuid
            ELSE 'bbbbbbbb-0000-4000-8000-000000000002'::uuid END, i, 'student ' || i
FROM generate_series(1, 30000) i;
-- A hand-written policy on current_tenant() as well: the same holds for it.
CREATE POLICY tenant_isolation ON parallel_students USING (tenant_id = tenant_guard.current_tenant());
GRANT SELECT ON parallel_students TO tg_parallel_app;
ANALYZE parallel_students;

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_b
\gset

-- Runs the scan with workers doing all of it (leader participation is off) and reports the rows
-- the workers returned through Gather, how many workers ran, and whether the plan was parallel.
CREATE FUNCTION parallel_count(OUT row_count bigint, OUT workers_launched int, OUT plan_is_parallel boolean)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM parallel_students'
    INTO plan;
  plan_is_parallel := jsonb_path_exists(plan, '$.** ? (@."Node Type" == "Gather")');
  IF plan_is_parallel THEN
    row_count := (jsonb_path_query_first(plan, '$.** ? (@."Node Type" == "Gather")."Actual Rows"'))::bigint;
  ELSE
    row_count := (jsonb_path_query_first(plan, '$[0]."Plan"."Actual Rows"'))::bigint;
  END IF;
  workers_launched := coalesce((jsonb_path_query_first(plan, '$.**."Workers Launched"'))::int, 0);
END $$;
GRANT EXECUTE ON FUNCTION parallel_count() TO tg_parallel_app;

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;

SET ROLE tg_parallel_app;
-- No context: nothing, in parallel too.
SELECT row_count, workers_launched > 0 AS workers_ran, plan_is_parallel FROM parallel_count();

BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT row_count, workers_launched > 0 AS workers_ran, plan_is_parallel FROM parallel_count();
COMMIT;

BEGIN;
SELECT tenant_guard.set_tenant(:'token_b') IS NOT NULL AS context_b;
SELECT row_count, workers_launched > 0 AS workers_ran, plan_is_parallel FROM parallel_count();
COMMIT;

-- The same counts without parallelism.
SET max_parallel_workers_per_gather = 0;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT row_count, plan_is_parallel FROM parallel_count();
COMMIT;
SET max_parallel_workers_per_gather = 2;

-- Session context, then a refused token: the leader has no context, and workers must not revive
-- the old one from the GUC value they copy.
SELECT tenant_guard.set_tenant(:'token_a', false) IS NOT NULL AS session_a;
SELECT row_count, workers_launched > 0 AS workers_ran FROM parallel_count();
BEGIN;
SELECT tenant_guard.set_tenant('forged.token.value', false);
ROLLBACK;
SELECT row_count, workers_launched > 0 AS workers_ran FROM parallel_count();

RESET ROLE;
RESET ALL;
DROP FUNCTION parallel_count();
DROP TABLE parallel_students;
DROP ROLE tg_parallel_app;
