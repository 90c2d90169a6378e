-- Platform access: a platform administrator's signed, read-only look across tenants for one
-- transaction; nothing else opens it, and tenant queries and their plans stay as they were.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse

SELECT value AS accesses_before FROM tenant_guard.stats WHERE counter = 'platform_accesses' \gset
CREATE ROLE tg_pa_app;
GRANT USAGE ON SCHEMA tenant_guard TO tg_pa_app;
CREATE TABLE pa_students (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text);
CREATE INDEX ON pa_students (tenant_id, id);
GRANT SELECT, INSERT, UPDATE, DELETE ON pa_students TO tg_pa_app;
CREATE TABLE pa_private (secret text);  -- the app role has no grant here
SELECT has_table_privilege('tenant_guard_platform_reader', 'pa_students', 'SELECT') AS reader_selects,
       has_table_privilege('tenant_guard_platform_reader', 'pa_students', 'INSERT,UPDATE,DELETE') AS reader_writes,
       (SELECT rolbypassrls AND NOT rolcanlogin FROM pg_roles WHERE rolname = 'tenant_guard_platform_reader') AS reader_role;

SELECT tenant_guard.sign_token('{"tenant_id":"aaaaaaaa-0000-4000-8000-00000000000a","exp":9999999999}', 'district-hs256') AS tenant_a \gset
SELECT tenant_guard.sign_token('{"tenant_id":"bbbbbbbb-0000-4000-8000-00000000000b","exp":9999999999}', 'district-hs256') AS tenant_b \gset
SELECT tenant_guard.sign_token('{"sub":"ops-jane","roles":["platform_admin"],"exp":9999999999}', 'district-hs256') AS platform \gset
SELECT tenant_guard.sign_token('{"sub":"ops-joe","roles":["support"],"exp":9999999999}', 'district-hs256') AS not_platform \gset
SELECT tenant_guard.sign_token('{"tenant_id":"aaaaaaaa-0000-4000-8000-00000000000a","roles":["platform_admin"],"exp":9999999999}', 'district-hs256') AS tenant_admin_claim \gset

-- As the application (SET SESSION AUTHORIZATION: SET ROLE would check the superuser's memberships).
SET SESSION AUTHORIZATION tg_pa_app;
BEGIN; SELECT tenant_guard.set_tenant(:'tenant_a') IS NOT NULL AS a; INSERT INTO pa_students VALUES (1, DEFAULT, 'ann'), (2, DEFAULT, 'al'); COMMIT;
BEGIN; SELECT tenant_guard.set_tenant(:'tenant_b') IS NOT NULL AS b; INSERT INTO pa_students VALUES (3, DEFAULT, 'bob'); COMMIT;

-- A tenant query and its plan, before any platform access.
BEGIN; SELECT tenant_guard.set_tenant(:'tenant_a') IS NOT NULL AS a;
EXPLAIN (COSTS OFF) SELECT name FROM pa_students WHERE id = 1;
SELECT name FROM pa_students ORDER BY id;
COMMIT;

-- Nothing else opens it.
BEGIN; SELECT tenant_guard.begin_platform_access(:'not_platform', 'report'); ROLLBACK;
BEGIN; SELECT tenant_guard.begin_platform_access(:'tenant_a', 'report'); ROLLBACK;
BEGIN; SELECT tenant_guard.begin_platform_access(:'tenant_admin_claim', 'report'); ROLLBACK;
BEGIN; SELECT tenant_guard.begin_platform_access(:'platform', '   '); ROLLBACK;
BEGIN; SELECT tenant_guard.begin_platform_access(:'platform' || 'x', 'report'); ROLLBACK;
SELECT tenant_guard.begin_platform_access(:'platform', 'outside a transaction block');
SET ROLE tenant_guard_platform_reader;
SELECT set_config('role', 'tenant_guard_platform_reader', false);
SELECT tenant_guard.in_platform_access() AS open, count(*) AS rows_seen FROM pa_students;

-- A function whose INSERT plan is cached before platform access begins.
CREATE FUNCTION pg_temp.add_student(i int) RETURNS void LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO pa_students (id, name) VALUES (i, 'new'); END$$;
BEGIN; SELECT tenant_guard.set_tenant(:'tenant_a') IS NOT NULL AS a; SELECT pg_temp.add_student(10); ROLLBACK;

-- Open: every tenant's rows, read-only, for this transaction.
BEGIN;
SELECT tenant_guard.begin_platform_access(:'platform', 'ticket 42: district sizes');
SELECT tenant_guard.in_platform_access() AS open;
SELECT tenant_id, count(*) FROM pa_students GROUP BY tenant_id ORDER BY tenant_id;
SELECT count(*) AS through_subqueries FROM pa_students s
 WHERE EXISTS (SELECT 1 FROM pa_students t WHERE t.id = s.id) AND s.id IN (SELECT id FROM pa_students);
SAVEPOINT s;
UPDATE pa_students SET name = 'x';
ROLLBACK TO s;
INSERT INTO pa_students VALUES (9, 'aaaaaaaa-0000-4000-8000-00000000000a', 'x');
ROLLBACK TO s;
WITH gone AS (DELETE FROM pa_students RETURNING 1) SELECT count(*) FROM gone;
ROLLBACK TO s;
SELECT * FROM pa_students FOR UPDATE;
ROLLBACK TO s;
CREATE TABLE pa_new (a int);
ROLLBACK TO s;
TRUNCATE pa_students;
ROLLBACK TO s;
SELECT tenant_guard.set_tenant(:'tenant_a') IS NOT NULL AS a;
SELECT pg_temp.add_student(11);   -- its cached plan writes: refused all the same
ROLLBACK TO s;
DECLARE kept CURSOR WITH HOLD FOR SELECT * FROM pa_students;   -- would outlive the transaction
ROLLBACK TO s;
SELECT * FROM pa_private;   -- the session's own privileges still apply elsewhere
ROLLBACK TO s;
SELECT tenant_guard.in_platform_access() AS still_open;
COMMIT;
SELECT tenant_guard.in_platform_access() AS open_after_commit, count(*) AS rows_seen FROM pa_students;

-- It ends with ROLLBACK, with reset_tenant(), and with the savepoint it was opened in.
BEGIN; SELECT tenant_guard.begin_platform_access(:'platform', 'ticket 43'); ROLLBACK;
SELECT tenant_guard.in_platform_access() AS open_after_rollback;
BEGIN; SELECT tenant_guard.begin_platform_access(:'platform', 'ticket 44');
SELECT tenant_guard.reset_tenant();
SELECT tenant_guard.in_platform_access() AS open_after_reset, count(*) AS rows_seen FROM pa_students;
COMMIT;
BEGIN; SAVEPOINT s; SELECT tenant_guard.begin_platform_access(:'platform', 'ticket 45'); ROLLBACK TO s;
SELECT tenant_guard.in_platform_access() AS open_after_rollback_to_savepoint;
COMMIT;

-- A statement prepared during platform access does not outlive it.
BEGIN; SELECT tenant_guard.begin_platform_access(:'platform', 'ticket 46');
PREPARE pa_count AS SELECT count(*) FROM pa_students;
EXECUTE pa_count;
COMMIT;
EXECUTE pa_count;
DEALLOCATE pa_count;

-- The tenant's query and plan afterwards: the same.
BEGIN; SELECT tenant_guard.set_tenant(:'tenant_a') IS NOT NULL AS a;
EXPLAIN (COSTS OFF) SELECT name FROM pa_students WHERE id = 1;
SELECT name FROM pa_students ORDER BY id;
COMMIT;
RESET SESSION AUTHORIZATION;

SELECT value - :accesses_before AS accesses_counted FROM tenant_guard.stats WHERE counter = 'platform_accesses';
DROP TABLE pa_students, pa_private;
DROP OWNED BY tg_pa_app;
DROP ROLE tg_pa_app;
