-- Nobody but a superuser can switch a protected table's isolation off: not the owner, not through
-- a view, not by shadowing what the event trigger calls.
CREATE EXTENSION IF NOT EXISTS tenant_guard;
\set VERBOSITY terse

CREATE ROLE tg_guard_owner;
CREATE ROLE tg_guard_app;
GRANT CREATE ON SCHEMA public TO tg_guard_owner;

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a
\gset

SET ROLE tg_guard_owner;
CREATE TABLE grades (tenant_id uuid NOT NULL, student text, grade text);
GRANT SELECT ON grades TO tg_guard_app;
RESET ROLE;
INSERT INTO grades VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'Ada', 'A'),
                          ('bbbbbbbb-0000-4000-8000-000000000002', 'Bob', 'B');

-- The owner is bound by FORCE ROW LEVEL SECURITY ...
SET ROLE tg_guard_owner;
SELECT count(*) AS owner_sees_without_context FROM grades;
-- ... and cannot take the protection apart.
ALTER TABLE grades DISABLE ROW LEVEL SECURITY;
ALTER TABLE grades NO FORCE ROW LEVEL SECURITY;
DROP POLICY tenant_guard_isolation ON grades;
DROP POLICY IF EXISTS tenant_guard_tenant_rows ON public.grades;
ALTER POLICY tenant_guard_isolation ON grades USING (true);
ALTER POLICY tenant_guard_tenant_rows ON grades TO tg_guard_app;
ALTER POLICY tenant_guard_isolation ON grades RENAME TO retired;
ALTER TABLE grades ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE grades ALTER COLUMN tenant_id SET DEFAULT 'bbbbbbbb-0000-4000-8000-000000000002';
ALTER TABLE grades DROP COLUMN tenant_id CASCADE;
ALTER TABLE grades RENAME COLUMN tenant_id TO district;
ALTER TABLE grades ADD COLUMN note text, DISABLE ROW LEVEL SECURITY;
-- Policy names beginning with tenant_guard_ are reserved.
CREATE POLICY tenant_guard_isolation2 ON grades USING (true);
CREATE POLICY teachers ON grades USING (true);
ALTER POLICY teachers ON grades RENAME TO tenant_guard_teachers;
-- A permissive policy of the owner's cannot widen what a tenant sees: isolation is RESTRICTIVE.
RESET ROLE;
SET ROLE tg_guard_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT student FROM grades;
COMMIT;
RESET ROLE;

-- Views run with their owner's rights: the trigger makes views over protected tables
-- security_invoker, also through other views, and the owner cannot turn that off.
SET ROLE tg_guard_owner;
CREATE VIEW grade_list AS SELECT student, grade FROM grades;
CREATE VIEW grade_summary AS SELECT count(*) AS n FROM grade_list;
CREATE VIEW unrelated AS SELECT 1 AS one;
SELECT relname, reloptions FROM pg_class WHERE relname IN ('grade_list', 'grade_summary', 'unrelated') ORDER BY relname;
ALTER VIEW grade_list SET (security_invoker = false);
ALTER VIEW grade_list RESET (security_invoker);
ALTER TABLE grade_summary SET (security_invoker = off);
ALTER VIEW grade_list SET (security_invoker = true, security_barrier = true);
CREATE OR REPLACE VIEW grade_list WITH (security_invoker = false) AS SELECT student, grade FROM grades;
SELECT reloptions FROM pg_class WHERE relname = 'grade_list';
GRANT SELECT ON grade_list, grade_summary TO tg_guard_app;
-- Materialized views have no row-level security at all: refused.
CREATE MATERIALIZED VIEW grade_cache AS SELECT * FROM grades;
CREATE MATERIALIZED VIEW summary_cache AS SELECT * FROM grade_summary;
RESET ROLE;
-- A superuser's view would see every tenant if it kept its owner's rights.
CREATE VIEW admin_grades AS SELECT * FROM grades;
GRANT SELECT ON admin_grades TO tg_guard_app;
CREATE MATERIALIZED VIEW admin_cache AS SELECT * FROM grades;
SET ROLE tg_guard_app;
SELECT count(*) AS via_view_without_context FROM grade_list;
SELECT n AS via_nested_view FROM grade_summary;
SELECT count(*) AS via_superuser_view FROM admin_grades;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT student FROM admin_grades;
COMMIT;
RESET ROLE;

-- A hostile search_path while creating a table: shadowing functions and an = operator that is
-- always true must not end up in the policies.
CREATE SCHEMA evil;
GRANT USAGE, CREATE ON SCHEMA evil TO tg_guard_owner;
SET ROLE tg_guard_owner;
CREATE FUNCTION evil.policy_tenant() RETURNS uuid LANGUAGE sql AS $$ SELECT 'bbbbbbbb-0000-4000-8000-000000000002'::uuid $$;
CREATE FUNCTION evil.always_equal(uuid, uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.always_equal);
CREATE FUNCTION evil.quote_ident(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$;
CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$;
SET search_path = evil, public, pg_catalog;
CREATE TABLE public.marks (tenant_id uuid, mark int);
RESET search_path;
SELECT polname, pg_get_expr(polqual, polrelid) AS using_expression,
       (SELECT oprcode FROM pg_operator o WHERE o.oid = (SELECT (regexp_match(polqual::text, ':opno (\d+)'))[1]::oid)) AS operator_function
  FROM pg_policy WHERE polrelid = 'public.marks'::regclass ORDER BY polname;
GRANT SELECT ON marks TO tg_guard_app;
RESET ROLE;
INSERT INTO marks VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 1), ('bbbbbbbb-0000-4000-8000-000000000002', 2);
SET ROLE tg_guard_app;
SET search_path = evil, public, pg_catalog;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
SELECT mark FROM marks;
COMMIT;
RESET search_path;
RESET ROLE;

-- Dropping what the policies depend on, with CASCADE, would take them along: refused too.
GRANT CREATE ON SCHEMA evil TO tg_guard_owner;
SET ROLE tg_guard_owner;
CREATE DOMAIN evil.district_id AS uuid;
CREATE TABLE by_domain (tenant_id evil.district_id, note text);
DROP DOMAIN evil.district_id CASCADE;
CREATE TYPE evil.typed_row AS (tenant_id uuid, note text);
CREATE TABLE typed_rows OF evil.typed_row;
ALTER TYPE evil.typed_row DROP ATTRIBUTE tenant_id CASCADE;
SELECT table_name, protected FROM tenant_guard.protected_tables
 WHERE table_name IN ('by_domain'::regclass, 'typed_rows'::regclass) ORDER BY table_name::text;
-- Dropping the whole table is fine.
DROP TABLE by_domain, typed_rows;
RESET ROLE;

-- Views and materialized views that exist before a table becomes protected.
SET ROLE tg_guard_owner;
CREATE TABLE roster (id int, note text);
CREATE VIEW roster_names AS SELECT id FROM roster;
ALTER TABLE roster ADD COLUMN tenant_id uuid;
SELECT reloptions FROM pg_class WHERE relname = 'roster_names';
RESET ROLE;
-- An unprotected tenant table (event triggers do not fire under session_replication_role = replica).
SET session_replication_role = replica;
CREATE TABLE cached (id int, tenant_id uuid);
RESET session_replication_role;
ALTER TABLE cached OWNER TO tg_guard_owner;
SET ROLE tg_guard_owner;
CREATE MATERIALIZED VIEW cached_copy AS SELECT * FROM cached;
SELECT tenant_guard.protect_table('cached');
DROP MATERIALIZED VIEW cached_copy;
RESET ROLE;
-- A view the caller does not own blocks protection until it is made security_invoker.
CREATE VIEW admin_roster AS SELECT * FROM cached;
SET ROLE tg_guard_owner;
SELECT tenant_guard.protect_table('cached');
RESET ROLE;
ALTER VIEW admin_roster SET (security_invoker = true);
SET ROLE tg_guard_owner;
SELECT tenant_guard.protect_table('cached');
SELECT table_name, protected FROM tenant_guard.protected_tables
 WHERE table_name IN ('roster'::regclass, 'cached'::regclass) ORDER BY table_name::text;
RESET ROLE;
DROP VIEW admin_roster;

-- A protected table cannot hide below an unprotected parent: a query on the parent applies only
-- the parent's policies, also to the child's rows.
SET ROLE tg_guard_owner;
CREATE TABLE spy_parent (student text, grade text);
ALTER TABLE grades INHERIT spy_parent;
CREATE TABLE spy_child (tenant_id uuid, student text, grade text) INHERITS (spy_parent);
-- Typed tables that gain the tenant column through their type are protected too.
CREATE TYPE evil.row_shape AS (student text, grade text);
CREATE TABLE spy_root OF evil.row_shape PARTITION BY LIST (student);
CREATE TABLE shaped OF evil.row_shape;
ALTER TYPE evil.row_shape ADD ATTRIBUTE tenant_id uuid CASCADE;
SELECT table_name, protected FROM tenant_guard.protected_tables
 WHERE table_name IN ('spy_root'::regclass, 'shaped'::regclass) ORDER BY table_name::text;
ALTER TYPE evil.row_shape RENAME ATTRIBUTE tenant_id TO district CASCADE;
DROP TABLE spy_root, shaped, spy_parent;
-- CREATE RULE "_RETURN" turns an empty table into a view: made security_invoker like any view.
CREATE TABLE grade_shadow (student text, grade text);
CREATE RULE "_RETURN" AS ON SELECT TO grade_shadow DO INSTEAD SELECT student, grade FROM grades;
SELECT relkind, reloptions FROM pg_class WHERE relname = 'grade_shadow';
DROP VIEW grade_shadow;
RESET ROLE;

-- A WITH HOLD cursor would outlive the transaction and its tenant (and be left on a pooled backend).
SET ROLE tg_guard_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS context_a;
DECLARE held CURSOR WITH HOLD FOR SELECT * FROM grades;
ROLLBACK;
BEGIN;
DECLARE plain_cursor CURSOR FOR SELECT 1;
CLOSE plain_cursor;
COMMIT;
RESET ROLE;

-- A registered schema keeps its name.
CREATE SCHEMA district AUTHORIZATION tg_guard_owner;
SELECT tenant_guard.register_schema('district');
SET ROLE tg_guard_owner;
ALTER SCHEMA district RENAME TO district_old;
RESET ROLE;
SELECT tenant_guard.unregister_schema('district');
DROP SCHEMA district;

-- A superuser may do all of it.
ALTER TABLE grades NO FORCE ROW LEVEL SECURITY;
ALTER TABLE grades FORCE ROW LEVEL SECURITY;
ALTER POLICY tenant_guard_tenant_rows ON grades TO PUBLIC;
SELECT tenant_guard.unprotect_table('grades');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'grades';
SELECT polname FROM pg_policy WHERE polrelid = 'grades'::regclass;

DROP SCHEMA evil CASCADE;
DROP VIEW admin_grades;
DROP OWNED BY tg_guard_owner, tg_guard_app;
DROP ROLE tg_guard_owner, tg_guard_app;
