-- The policies stay index-friendly: a tenant query uses the tenant-led index exactly like a
-- hand-written WHERE tenant_id = $1, and never falls back to a sequential scan.
CREATE EXTENSION IF NOT EXISTS tenant_guard;
\set VERBOSITY terse
SET max_parallel_workers_per_gather = 0;

CREATE ROLE tg_plan_app;
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '00000000-0000-4000-8000-000000000007',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_7
\gset

-- The seed's scenario 9 in small: 100 districts, students, an index on (tenant_id, created_at).
-- That index leads with the tenant column, so no automatic index is needed.
SET tenant_guard.auto_index = off;
CREATE TABLE students (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
                       created_at timestamptz NOT NULL);
RESET tenant_guard.auto_index;
CREATE INDEX students_tenant_recent ON students (tenant_id, created_at);
INSERT INTO students
SELECT i, ('00000000-0000-4000-8000-' || lpad((i % 100)::text, 12, '0'))::uuid, 'student ' || i,
       timestamptz '2026-01-01' + i * interval '1 minute'
  FROM generate_series(1, 30000) i;
-- A second table that relies on the automatic index.
CREATE TABLE enrolments (tenant_id uuid NOT NULL, student_id bigint NOT NULL, course text NOT NULL);
INSERT INTO enrolments SELECT tenant_id, id, 'course ' || (id % 7) FROM students;
VACUUM ANALYZE students, enrolments;
GRANT SELECT ON students, enrolments TO tg_plan_app;
SELECT table_name, protected, tenant_index FROM tenant_guard.protected_tables ORDER BY table_name::text;

SET ROLE tg_plan_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_7') IS NOT NULL AS context_7;
-- Top 50 most recent of the tenant: a backward scan of (tenant_id, created_at), no sort.
EXPLAIN (COSTS OFF) SELECT id, name, created_at FROM students ORDER BY created_at DESC LIMIT 50;
SELECT count(*) AS top_50, min(tenant_id::text) = max(tenant_id::text) AS one_tenant
  FROM (SELECT * FROM students ORDER BY created_at DESC LIMIT 50) recent;
-- All of the tenant's rows.
EXPLAIN (COSTS OFF) SELECT * FROM students;
SELECT count(*) AS tenant_rows FROM students;
-- Point lookup by primary key: the key index, with the tenant check on the one row.
EXPLAIN (COSTS OFF) SELECT * FROM students WHERE id = 107;
SELECT name FROM students WHERE id = 107;
SELECT count(*) AS other_tenants_row FROM students WHERE id = 108;
-- Counting: an index-only scan.
EXPLAIN (COSTS OFF) SELECT count(*) FROM students;
-- The automatic (tenant_id) index serves the other table, also in a join.
EXPLAIN (COSTS OFF) SELECT count(*) FROM enrolments;
EXPLAIN (COSTS OFF) SELECT s.name, e.course FROM students s JOIN enrolments e ON e.student_id = s.id
 WHERE s.created_at > timestamptz '2026-01-21';
-- A prepared statement's generic plan keeps the index: policy_tenant() is evaluated at run time.
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE recent(int) AS SELECT id FROM students ORDER BY created_at DESC LIMIT $1;
EXPLAIN (COSTS OFF) EXECUTE recent(50);
DEALLOCATE recent;
COMMIT;
RESET ROLE;

-- The hand-written filter, for comparison (as a superuser, who bypasses row-level security): same index.
EXPLAIN (COSTS OFF) SELECT id, name, created_at FROM students
 WHERE tenant_id = '00000000-0000-4000-8000-000000000007' ORDER BY created_at DESC LIMIT 50;

-- Without a context the query still plans on the index, and finds nothing.
SET ROLE tg_plan_app;
EXPLAIN (COSTS OFF) SELECT id, name, created_at FROM students ORDER BY created_at DESC LIMIT 50;
SELECT count(*) AS rows_without_context FROM students;
RESET ROLE;

DROP TABLE students, enrolments;
DROP OWNED BY tg_plan_app;
DROP ROLE tg_plan_app;
