-- Automatic row-level security: which tables the event trigger protects, what protection means
-- for a tenant's reads and writes, and protect_table() / unprotect_table().
CREATE EXTENSION IF NOT EXISTS tenant_guard;
\set VERBOSITY terse

CREATE ROLE tg_rls_owner;
CREATE ROLE tg_rls_app;
GRANT CREATE ON SCHEMA public TO tg_rls_owner;

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_b
\gset

-- What protection looks like: forced RLS, two policies, the default, a tenant-led index.
SET ROLE tg_rls_owner;
CREATE TABLE students (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
                       created_at timestamptz NOT NULL DEFAULT now());
\d students
SELECT table_name, tenant_column, policies, rls_enabled, rls_forced, tenant_index, protected
  FROM tenant_guard.protected_tables;
GRANT SELECT, INSERT, UPDATE, DELETE ON students TO tg_rls_app;
GRANT USAGE ON SEQUENCE students_id_seq TO tg_rls_app;

-- Every way to make a table with a tenant column gets the same protection.
CREATE TABLE attendance (tenant_id uuid NOT NULL, day date NOT NULL, present boolean) PARTITION BY RANGE (day);
CREATE TABLE attendance_2026 PARTITION OF attendance FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE attendance_2027 (LIKE attendance);
ALTER TABLE attendance ATTACH PARTITION attendance_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE attendance_late PARTITION OF attendance FOR VALUES FROM ('2028-01-01') TO ('2030-01-01')
  PARTITION BY RANGE (day);
CREATE TABLE attendance_2028 PARTITION OF attendance_late FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
CREATE TABLE legacy_grades (student_id bigint, grade text);
ALTER TABLE legacy_grades ADD COLUMN tenant_id uuid;
CREATE TABLE legacy_notes (student_id bigint, owner uuid);
ALTER TABLE legacy_notes RENAME COLUMN owner TO tenant_id;
CREATE TABLE students_copy AS SELECT * FROM students;
SELECT * INTO students_snapshot FROM students;
RESET ROLE;
CREATE SCHEMA reporting CREATE TABLE reporting.enrolment (tenant_id uuid, course text);
SET ROLE tg_rls_owner;
CREATE TEMPORARY TABLE scratch (tenant_id uuid, note text);
-- Tables without the tenant column are none of tenant_guard's business.
CREATE TABLE grade_levels (id int PRIMARY KEY, label text);
SELECT table_name, policies, rls_enabled, rls_forced, tenant_index, protected
  FROM tenant_guard.protected_tables ORDER BY table_name::text;
SELECT count(*) AS unprotected_tables FROM pg_class WHERE relname = 'grade_levels' AND relrowsecurity;

-- A tenant column of another type is an error that names table, column and type.
CREATE TABLE wrong_type (tenant_id text);
ALTER TABLE grade_levels ADD COLUMN tenant_id bigint;
RESET ROLE;

-- Isolation, as an application role with full DML rights.
SET ROLE tg_rls_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
-- The default fills the tenant column.
INSERT INTO students (name) VALUES ('Ada'), ('Alan'), ('Anita') RETURNING name, tenant_id;
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_b') IS NOT NULL AS context_b;
INSERT INTO students (name) VALUES ('Bea'), ('Bob');
SELECT name FROM students ORDER BY name;
-- Writing another tenant's row, or moving a row to another tenant, is refused.
SAVEPOINT s;
INSERT INTO students (tenant_id, name) VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'Mallory');
ROLLBACK TO SAVEPOINT s;
UPDATE students SET tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001' WHERE name = 'Bea';
ROLLBACK TO SAVEPOINT s;
INSERT INTO students (id, tenant_id, name) VALUES (1, 'bbbbbbbb-0000-4000-8000-000000000002', 'Clash')
  ON CONFLICT (id) DO UPDATE SET name = 'hijacked';
ROLLBACK TO SAVEPOINT s;
-- Other tenants' rows can be neither changed nor deleted: they are not there.
UPDATE students SET name = 'renamed' WHERE name = 'Ada';
DELETE FROM students WHERE name LIKE 'A%';
COMMIT;

-- No context: nothing visible, nothing written.
SELECT count(*) AS rows_without_context FROM students;
INSERT INTO students (name) VALUES ('nobody');
RESET ROLE;
SELECT tenant_id, string_agg(name, ',' ORDER BY name) AS names FROM students GROUP BY 1 ORDER BY 1;

-- tenant_guard.missing_context = error (superuser-only) turns "no rows" into an error.
SET tenant_guard.missing_context = error;
SET ROLE tg_rls_app;
SELECT count(*) FROM students;
INSERT INTO students (name) VALUES ('nobody');
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT count(*) AS rows_with_context FROM students;
COMMIT;
SET tenant_guard.missing_context = empty;  -- an application role cannot choose
RESET ROLE;
RESET tenant_guard.missing_context;

-- Partitions: the parent and each partition isolate, also when a partition is read directly.
SET ROLE tg_rls_owner;
GRANT SELECT, INSERT ON attendance, attendance_2026, attendance_2027, attendance_2028 TO tg_rls_app;
RESET ROLE;
INSERT INTO attendance VALUES ('aaaaaaaa-0000-4000-8000-000000000001', '2026-03-01', true),
                              ('bbbbbbbb-0000-4000-8000-000000000002', '2026-03-01', false),
                              ('aaaaaaaa-0000-4000-8000-000000000001', '2027-03-01', true),
                              ('bbbbbbbb-0000-4000-8000-000000000002', '2028-03-01', true);
SET ROLE tg_rls_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT day, present FROM attendance ORDER BY day;
SELECT count(*) AS direct_2026 FROM attendance_2026;
SELECT count(*) AS direct_2028 FROM attendance_2028;
INSERT INTO attendance_2026 VALUES ('bbbbbbbb-0000-4000-8000-000000000002', '2026-04-01', true);
ROLLBACK;
RESET ROLE;

-- Temporary tables are protected like any other (a pooled session may serve many tenants).
SET ROLE tg_rls_app;
CREATE TEMPORARY TABLE app_scratch (tenant_id uuid, note text);
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
INSERT INTO app_scratch (note) VALUES ('from a');
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_b') IS NOT NULL AS context_b;
SELECT count(*) AS b_sees_in_temp_table FROM app_scratch;
COMMIT;
DROP TABLE app_scratch;
RESET ROLE;

-- Registered tenant schemas fail closed.
CREATE SCHEMA district;
GRANT CREATE, USAGE ON SCHEMA district TO tg_rls_owner;
SELECT tenant_guard.register_schema('district');
SELECT schema_name FROM tenant_guard.tenant_schemas;
SET ROLE tg_rls_owner;
CREATE TABLE district.courses (tenant_id uuid NOT NULL, title text);
CREATE TABLE district.lookup (id int);
CREATE TABLE district.lookup_copy AS SELECT 1 AS id;
CREATE TABLE outside (id int);
ALTER TABLE outside SET SCHEMA district;
DROP TABLE outside;
SELECT table_name, protected FROM tenant_guard.protected_tables WHERE table_name::text LIKE 'district.%';
RESET ROLE;
SELECT tenant_guard.register_schema('no_such_schema');
SELECT tenant_guard.unregister_schema('district');
CREATE TABLE district.lookup (id int);
DROP TABLE district.lookup;

-- Tables made by another extension's script are that extension's business.
CREATE EXTENSION tenant_guard_test_fixture;
SELECT relrowsecurity FROM pg_class WHERE relname = 'fixture_lookup';
DROP EXTENSION tenant_guard_test_fixture;

-- auto_index = off: protection without the index.
SET tenant_guard.auto_index = off;
CREATE TABLE no_index (tenant_id uuid);
RESET tenant_guard.auto_index;
SELECT protected, tenant_index FROM tenant_guard.protected_tables WHERE table_name = 'no_index'::regclass;
DROP TABLE no_index;

-- A table that already has a tenant-led index gets no second one.
CREATE TABLE keyed (tenant_id uuid, id int, PRIMARY KEY (tenant_id, id));
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'keyed'::regclass;
DROP TABLE keyed;

-- protect_table() / unprotect_table() on an existing table and its partitions.
SET session_replication_role = replica;  -- event triggers do not fire: an unprotected tenant table
CREATE TABLE imported (tenant_id uuid, v int) PARTITION BY LIST (v);
CREATE TABLE imported_1 PARTITION OF imported FOR VALUES IN (1);
RESET session_replication_role;
SELECT table_name, protected FROM tenant_guard.protected_tables WHERE table_name::text LIKE 'imported%' ORDER BY table_name::text;
SELECT tenant_guard.protect_table('imported');
SELECT table_name, protected, tenant_index FROM tenant_guard.protected_tables WHERE table_name::text LIKE 'imported%' ORDER BY table_name::text;
SELECT tenant_guard.protect_table('imported');  -- idempotent
SELECT tenant_guard.unprotect_table('imported');
SELECT table_name, policies, rls_enabled, rls_forced, protected FROM tenant_guard.protected_tables
 WHERE table_name::text LIKE 'imported%' ORDER BY table_name::text;
SELECT pg_get_expr(adbin, adrelid) AS default_left FROM pg_attrdef WHERE adrelid = 'imported'::regclass;
-- Protection needs the tenant column, a table, and ownership.
SELECT tenant_guard.protect_table('grade_levels');
CREATE VIEW grade_view AS SELECT * FROM grade_levels;
SELECT tenant_guard.protect_table('grade_view');
DROP VIEW grade_view;
SET ROLE tg_rls_app;
SELECT tenant_guard.protect_table('imported');
SELECT tenant_guard.unprotect_table('students');
RESET ROLE;
DROP TABLE imported;

DROP SCHEMA reporting, district CASCADE;
DROP OWNED BY tg_rls_owner, tg_rls_app;
DROP ROLE tg_rls_owner, tg_rls_app;
