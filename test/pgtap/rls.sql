-- Automatic row-level security (0.2.0): what the event trigger attaches to a tenant table, tenant
-- isolation as ordinary roles (the owner included), the guards against weakening a protected table,
-- protect/unprotect_table, partitions, registered schemas and search_path tricks.
-- Run by pg_prove as a superuser.
BEGIN;
SELECT plan(83);

-- Roles: tg_rls_owner owns the tables, tg_rls_app only has DML grants.
CREATE ROLE tg_rls_owner;
CREATE ROLE tg_rls_app;
GRANT USAGE, CREATE ON SCHEMA public TO tg_rls_owner, tg_rls_app;
SELECT current_database() AS dbname \gset
GRANT CREATE ON DATABASE :"dbname" TO tg_rls_owner;

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a \gset
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_b \gset
CREATE TEMP TABLE token_store (tenant text PRIMARY KEY, token text NOT NULL);
INSERT INTO token_store VALUES ('a', :'token_a'), ('b', :'token_b');
GRANT SELECT ON token_store TO tg_rls_owner, tg_rls_app;
-- Procedures print nothing; the context they install lasts until the transaction ends or is replaced.
CREATE PROCEDURE pg_temp.use_tenant(which text) LANGUAGE sql
  AS $$ SELECT tenant_guard.set_tenant((SELECT s.token FROM pg_temp.token_store s WHERE s.tenant = which)) $$;
CREATE PROCEDURE pg_temp.no_tenant() LANGUAGE sql AS $$ SELECT tenant_guard.reset_tenant() $$;

------------------------------------------------------------------------------------------------
-- The machinery in the catalog.
------------------------------------------------------------------------------------------------
SELECT results_eq(
  $$SELECT evtevent::text COLLATE "default", evtenabled::text, evtfoid::regprocedure::text FROM pg_event_trigger
     WHERE evtname = 'tenant_guard_protect_tables'$$,
  $$VALUES ('ddl_command_end', 'O', 'tenant_guard.on_ddl_command_end()')$$,
  'event trigger tenant_guard_protect_tables is enabled on ddl_command_end');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'tenant_guard.on_ddl_command_end()'::regprocedure),
  ARRAY['search_path=pg_catalog, pg_temp'], 'the event trigger function pins search_path');
SELECT volatility_is('tenant_guard', 'policy_tenant', ARRAY[]::text[], 'stable', 'policy_tenant() is STABLE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.policy_tenant()'::regprocedure), 's',
  'policy_tenant() is PARALLEL SAFE');
SELECT ok((SELECT proleakproof FROM pg_proc WHERE oid = 'tenant_guard.policy_tenant()'::regprocedure),
  'policy_tenant() is LEAKPROOF');
SELECT ok(NOT has_function_privilege('tg_rls_owner', 'tenant_guard.unprotect_table(regclass)', 'EXECUTE'),
  'unprotect_table is not executable by ordinary roles');
SELECT ok(NOT has_function_privilege('tg_rls_owner', 'tenant_guard.register_schema(name)', 'EXECUTE'),
  'register_schema is not executable by ordinary roles');
SELECT ok(NOT has_function_privilege('tg_rls_owner', 'tenant_guard.unregister_schema(name)', 'EXECUTE'),
  'unregister_schema is not executable by ordinary roles');
SELECT ok(has_function_privilege('tg_rls_owner', 'tenant_guard.protect_table(regclass)', 'EXECUTE'),
  'protect_table is executable by ordinary roles (ownership is checked inside)');

------------------------------------------------------------------------------------------------
-- A new tenant table, created by an ordinary role, is protected on creation.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
CREATE TABLE public.rls_t (id int PRIMARY KEY, tenant_id uuid NOT NULL, v text);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.rls_t TO tg_rls_app;
-- Its tenant column already leads an index: no second one.
CREATE TABLE public.rls_led (tenant_id uuid NOT NULL, id int, PRIMARY KEY (tenant_id, id));
RESET ROLE;

SELECT policies_are('public', 'rls_t', ARRAY['tenant_guard_isolation', 'tenant_guard_tenant_rows'],
  'rls_t has exactly the two tenant_guard policies');
SELECT policy_cmd_is('public', 'rls_t', 'tenant_guard_isolation'::name, 'all', 'tenant_guard_isolation is FOR ALL');
SELECT policy_cmd_is('public', 'rls_t', 'tenant_guard_tenant_rows'::name, 'all', 'tenant_guard_tenant_rows is FOR ALL');
-- pgTAP 1.2 lists only named roles, so an empty list means "TO PUBLIC and nobody else".
SELECT policy_roles_are('public', 'rls_t', 'tenant_guard_isolation', ARRAY[]::name[],
  'tenant_guard_isolation names no particular role');
SELECT results_eq(
  $$SELECT policyname::text COLLATE "default", permissive, roles::text COLLATE "default", cmd,
           qual COLLATE "default", with_check COLLATE "default" FROM pg_policies
     WHERE schemaname = 'public' AND tablename = 'rls_t' ORDER BY policyname$$,
  $$VALUES ('tenant_guard_isolation', 'RESTRICTIVE', '{public}', 'ALL',
            '(tenant_id = tenant_guard.policy_tenant())', '(tenant_id = tenant_guard.policy_tenant())'),
           ('tenant_guard_tenant_rows', 'PERMISSIVE', '{public}', 'ALL',
            '(tenant_id = tenant_guard.policy_tenant())', '(tenant_id = tenant_guard.policy_tenant())')$$,
  'policies: restrictive + permissive, TO PUBLIC, USING and WITH CHECK compare with policy_tenant()');
SELECT results_eq(
  $$SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.rls_t'::regclass$$,
  $$VALUES (true, true)$$, 'row-level security is enabled and forced');
SELECT col_default_is('public', 'rls_t', 'tenant_id', 'tenant_guard.policy_tenant()'::text,
  'the tenant column defaults to policy_tenant()');
SELECT is_indexed('public', 'rls_t', ARRAY['tenant_id'], 'an index on (tenant_id) was created');
SELECT is((SELECT count(*) FROM pg_index WHERE indrelid = 'public.rls_led'::regclass), 1::bigint,
  'no extra index when one already leads with the tenant column');
SELECT results_eq(
  $$SELECT tenant_column::text COLLATE "default", policies::text[] COLLATE "default", rls_enabled, rls_forced, tenant_index, protected
      FROM tenant_guard.protected_tables WHERE table_name = 'public.rls_t'::regclass$$,
  $$VALUES ('tenant_id', ARRAY['tenant_guard_isolation', 'tenant_guard_tenant_rows'], true, true, true, true)$$,
  'protected_tables reports rls_t as protected');
SET ROLE tg_rls_owner;
SELECT throws_ok($$CREATE TABLE public.rls_text (id int, tenant_id text)$$, '42804',
  'tenant column "tenant_id" of table public.rls_text has type text, but tenant_guard needs uuid',
  'a tenant column that is not uuid is refused');
RESET ROLE;

------------------------------------------------------------------------------------------------
-- Isolation for the application role.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_app;
CALL pg_temp.use_tenant('a');
INSERT INTO public.rls_t (id, v) VALUES (1, 'a1'), (2, 'a2');
SELECT is((SELECT tenant_id FROM public.rls_t WHERE id = 1), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
  'app: INSERT without tenant_id gets the context tenant');
CALL pg_temp.use_tenant('b');
INSERT INTO public.rls_t (id, v) VALUES (3, 'b1'), (5, 'b2');
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[3, 5], 'app as B: sees only B''s rows');
CALL pg_temp.use_tenant('a');
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[1, 2], 'app as A: sees only A''s rows');
SELECT is((SELECT count(*) FROM public.rls_t WHERE tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'), 0::bigint,
  'app as A: asking for B''s rows by tenant_id finds none');
SELECT throws_ok($$INSERT INTO public.rls_t VALUES (4, 'bbbbbbbb-0000-4000-8000-000000000002', 'x')$$, '42501',
  'new row violates row-level security policy for table "rls_t"', 'app as A: cannot insert a row for B');
SELECT throws_ok($$UPDATE public.rls_t SET tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002' WHERE id = 1$$, '42501',
  'new row violates row-level security policy for table "rls_t"', 'app as A: cannot move a row to B');
UPDATE public.rls_t SET v = 'changed by A' WHERE id = 3;
CALL pg_temp.use_tenant('b');
SELECT is((SELECT v FROM public.rls_t WHERE id = 3), 'b1', 'app as A: an UPDATE of B''s row changed nothing');
DELETE FROM public.rls_t WHERE id IN (1, 2, 5);
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[3], 'app as B: DELETE removed B''s row 5');
CALL pg_temp.use_tenant('a');
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[1, 2], 'app as B: DELETE left A''s rows alone');

CALL pg_temp.no_tenant();
SELECT is(tenant_guard.policy_tenant(), NULL, 'policy_tenant() is NULL without a context');
SELECT is((SELECT count(*) FROM public.rls_t), 0::bigint, 'app without context: no rows');
SELECT throws_ok($$INSERT INTO public.rls_t VALUES (6, 'aaaaaaaa-0000-4000-8000-000000000001', 'x')$$, '42501',
  'new row violates row-level security policy for table "rls_t"', 'app without context: INSERT is refused');
SELECT throws_ok($$SET tenant_guard.missing_context = 'empty'$$, '42501',
  'permission denied to set parameter "tenant_guard.missing_context"', 'app: cannot change missing_context');
RESET ROLE;
SET LOCAL tenant_guard.missing_context = 'error';
SET ROLE tg_rls_app;
SELECT throws_ok('SELECT count(*) FROM public.rls_t', '28000', 'no tenant context is set',
  'missing_context = error: a query without context fails');
SELECT throws_ok('SELECT tenant_guard.policy_tenant()', '28000', 'no tenant context is set',
  'missing_context = error: policy_tenant() raises');
RESET ROLE;
SET LOCAL tenant_guard.missing_context = 'empty';

------------------------------------------------------------------------------------------------
-- The owner is bound too (FORCE), and a permissive policy of its own cannot widen access.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
CALL pg_temp.use_tenant('b');
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[3], 'owner as B: sees only B''s rows');
CALL pg_temp.no_tenant();
SELECT is((SELECT count(*) FROM public.rls_t), 0::bigint, 'owner without context: no rows');
CREATE POLICY rls_t_open ON public.rls_t AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
SET ROLE tg_rls_app;
CALL pg_temp.use_tenant('a');
SELECT results_eq('SELECT id FROM public.rls_t ORDER BY id', ARRAY[1, 2],
  'a permissive USING (true) policy does not show other tenants'' rows');
SELECT throws_ok($$INSERT INTO public.rls_t VALUES (7, 'bbbbbbbb-0000-4000-8000-000000000002', 'x')$$, '42501',
  'new row violates row-level security policy "tenant_guard_isolation" for table "rls_t"',
  'a permissive WITH CHECK (true) policy does not let A write B''s rows');
CALL pg_temp.no_tenant();
SELECT is((SELECT count(*) FROM public.rls_t), 0::bigint, 'a permissive USING (true) policy does not open the table without context');

------------------------------------------------------------------------------------------------
-- Guards: the owner cannot weaken the protection.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
SELECT throws_ok('ALTER TABLE public.rls_t DISABLE ROW LEVEL SECURITY', '42501',
  'cannot disable row level security: table public.rls_t is protected by tenant_guard', 'owner: DISABLE ROW LEVEL SECURITY is refused');
SELECT throws_ok('ALTER TABLE public.rls_t NO FORCE ROW LEVEL SECURITY', '42501',
  'cannot remove FORCE ROW LEVEL SECURITY: table public.rls_t is protected by tenant_guard', 'owner: NO FORCE ROW LEVEL SECURITY is refused');
SELECT throws_ok('DROP POLICY tenant_guard_isolation ON public.rls_t', '42501',
  'cannot drop policy "tenant_guard_isolation": table public.rls_t is protected by tenant_guard', 'owner: DROP POLICY tenant_guard_isolation is refused');
SELECT throws_ok('DROP POLICY tenant_guard_tenant_rows ON public.rls_t', '42501',
  'cannot drop policy "tenant_guard_tenant_rows": table public.rls_t is protected by tenant_guard', 'owner: DROP POLICY tenant_guard_tenant_rows is refused');
SELECT throws_ok('ALTER POLICY tenant_guard_isolation ON public.rls_t USING (true)', '42501',
  'cannot alter policy "tenant_guard_isolation": table public.rls_t is protected by tenant_guard', 'owner: ALTER POLICY is refused');
SELECT throws_ok('ALTER POLICY tenant_guard_isolation ON public.rls_t RENAME TO mine', '42501',
  'cannot rename policy "tenant_guard_isolation": table public.rls_t is protected by tenant_guard', 'owner: ALTER POLICY ... RENAME is refused');
SELECT throws_ok('ALTER TABLE public.rls_t ALTER COLUMN tenant_id DROP DEFAULT', '42501',
  'cannot change the default of the tenant column: table public.rls_t is protected by tenant_guard', 'owner: DROP DEFAULT on the tenant column is refused');
SELECT throws_ok($$ALTER TABLE public.rls_t ALTER COLUMN tenant_id SET DEFAULT 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501',
  'cannot change the default of the tenant column: table public.rls_t is protected by tenant_guard', 'owner: SET DEFAULT on the tenant column is refused');
SELECT throws_ok('ALTER TABLE public.rls_t DROP COLUMN tenant_id', '42501',
  'cannot drop the tenant column: table public.rls_t is protected by tenant_guard', 'owner: DROP COLUMN tenant_id is refused');
SELECT throws_ok('ALTER TABLE public.rls_t DROP COLUMN tenant_id CASCADE', '42501',
  'cannot drop the tenant column: table public.rls_t is protected by tenant_guard', 'owner: DROP COLUMN tenant_id CASCADE is refused');
SELECT throws_ok('ALTER TABLE public.rls_t RENAME COLUMN tenant_id TO old_tenant', '42501',
  'cannot rename the tenant column: table public.rls_t is protected by tenant_guard', 'owner: RENAME COLUMN tenant_id is refused');
SELECT throws_ok('CREATE POLICY tenant_guard_x ON public.rls_t USING (true)', '42939',
  'policy name "tenant_guard_x" is reserved for tenant_guard', 'owner: a tenant_guard_ policy name is reserved');
SELECT throws_ok('ALTER POLICY rls_t_open ON public.rls_t RENAME TO tenant_guard_x', '42939',
  'policy name "tenant_guard_x" is reserved for tenant_guard', 'owner: renaming a policy to a tenant_guard_ name is refused');

-- Views over protected tables run as the invoker, also through other views (the NOTICE is muted).
SET LOCAL client_min_messages = warning;
CREATE VIEW public.rls_v AS SELECT id, v FROM public.rls_t;
CREATE VIEW public.rls_vv AS SELECT id FROM public.rls_v;
RESET client_min_messages;
SELECT results_eq(
  $$SELECT relname::text COLLATE "default", reloptions::text[] COLLATE "default" FROM pg_class WHERE oid IN ('public.rls_v'::regclass, 'public.rls_vv'::regclass) ORDER BY 1$$,
  $$VALUES ('rls_v', ARRAY['security_invoker=true']), ('rls_vv', ARRAY['security_invoker=true'])$$,
  'views reading a protected table (directly or through a view) are made security_invoker');
SELECT throws_ok('ALTER VIEW public.rls_v SET (security_invoker = false)', '42501',
  'cannot turn off security_invoker: view public.rls_v reads tables protected by tenant_guard', 'owner: SET (security_invoker = false) is refused');
SELECT throws_ok('ALTER VIEW public.rls_vv RESET (security_invoker)', '42501',
  'cannot turn off security_invoker: view public.rls_vv reads tables protected by tenant_guard', 'owner: RESET (security_invoker) on a view over a view is refused');
SELECT throws_ok('CREATE MATERIALIZED VIEW public.rls_mv AS SELECT * FROM public.rls_t', '0A000',
  'materialized view public.rls_mv would copy rows of tables protected by tenant_guard', 'owner: a materialized view over a protected table is refused');
RESET ROLE;
SELECT throws_ok('CREATE MATERIALIZED VIEW public.rls_mv AS SELECT * FROM public.rls_vv', '0A000',
  'materialized view public.rls_mv would copy rows of tables protected by tenant_guard', 'superuser: a materialized view over a protected view is refused too');

------------------------------------------------------------------------------------------------
-- protect_table / unprotect_table.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
SELECT throws_ok($$SELECT tenant_guard.unprotect_table('public.rls_t')$$, '42501',
  'permission denied for function unprotect_table', 'owner: cannot call unprotect_table');
SELECT throws_ok($$SELECT tenant_guard.register_schema('public')$$, '42501',
  'permission denied for function register_schema', 'owner: cannot call register_schema');
SELECT throws_ok($$SELECT tenant_guard.unregister_schema('public')$$, '42501',
  'permission denied for function unregister_schema', 'owner: cannot call unregister_schema');
SELECT throws_ok($$SELECT tenant_guard.protect_table('public.rls_v')$$, '42809', 'public.rls_v is not a table',
  'protect_table refuses a view');
CREATE TABLE public.rls_plain (id int);
SELECT throws_ok($$SELECT tenant_guard.protect_table('public.rls_plain')$$, '42703',
  'table public.rls_plain has no tenant column "tenant_id"', 'protect_table refuses a table without the tenant column');
CREATE TABLE public.rls_rt (id int, tenant_id uuid);
SET ROLE tg_rls_app;
SELECT throws_ok($$SELECT tenant_guard.protect_table('public.rls_rt')$$, '42501', 'must be owner of table rls_rt',
  'protect_table requires ownership');
RESET ROLE;

SELECT lives_ok($$SELECT tenant_guard.unprotect_table('public.rls_t')$$, 'superuser: unprotect_table works');
SELECT results_eq(
  $$SELECT policies::text[] COLLATE "default", rls_enabled, rls_forced, protected FROM tenant_guard.protected_tables
     WHERE table_name = 'public.rls_t'::regclass$$,
  $$VALUES (ARRAY['rls_t_open'], true, true, false)$$,
  'unprotect_table drops only tenant_guard''s policies; with another policy left, RLS stays on and forced');
SELECT col_hasnt_default('public', 'rls_t', 'tenant_id', 'unprotect_table drops the policy_tenant() default');

DO $$ BEGIN PERFORM tenant_guard.unprotect_table('public.rls_rt'); END $$;
SELECT results_eq(
  $$SELECT policies IS NULL, rls_enabled, rls_forced, protected FROM tenant_guard.protected_tables
     WHERE table_name = 'public.rls_rt'::regclass$$,
  $$VALUES (true, false, false, false)$$,
  'unprotect_table on a table without other policies: no policies, RLS disabled, not forced');
SET ROLE tg_rls_owner;
SELECT lives_ok($$SELECT tenant_guard.protect_table('public.rls_rt')$$, 'owner: protect_table on its own table works');
RESET ROLE;
SELECT results_eq(
  $$SELECT policies::text[] COLLATE "default", rls_enabled, rls_forced, protected FROM tenant_guard.protected_tables
     WHERE table_name = 'public.rls_rt'::regclass$$,
  $$VALUES (ARRAY['tenant_guard_isolation', 'tenant_guard_tenant_rows'], true, true, true)$$,
  'protect_table restores the protection');

------------------------------------------------------------------------------------------------
-- Partitioned tables: every partition is protected.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
CREATE TABLE public.rls_part (id int NOT NULL, tenant_id uuid NOT NULL, v text) PARTITION BY RANGE (id);
CREATE TABLE public.rls_part_1 PARTITION OF public.rls_part FOR VALUES FROM (0) TO (100);
CREATE TABLE public.rls_part_2 PARTITION OF public.rls_part FOR VALUES FROM (100) TO (200);
GRANT SELECT, INSERT ON public.rls_part, public.rls_part_1, public.rls_part_2 TO tg_rls_app;
RESET ROLE;
SELECT results_eq(
  $$SELECT table_name::text, protected FROM tenant_guard.protected_tables
     WHERE table_name::text LIKE 'rls\_part%' ORDER BY 1$$,
  $$VALUES ('rls_part', true), ('rls_part_1', true), ('rls_part_2', true)$$,
  'the partitioned table and its partitions are protected');
SET ROLE tg_rls_app;
CALL pg_temp.use_tenant('a');
INSERT INTO public.rls_part (id, v) VALUES (1, 'a'), (101, 'a');
CALL pg_temp.use_tenant('b');
INSERT INTO public.rls_part (id, v) VALUES (2, 'b'), (102, 'b');
CALL pg_temp.use_tenant('a');
SELECT results_eq('SELECT id FROM public.rls_part ORDER BY id', ARRAY[1, 101], 'app as A: the partitioned table shows A''s rows');
SELECT results_eq('SELECT id FROM public.rls_part_1 ORDER BY id', ARRAY[1], 'app as A: a partition read directly shows A''s rows only');
RESET ROLE;
DO $$ BEGIN PERFORM tenant_guard.unprotect_table('public.rls_part'); END $$;
SELECT results_eq(
  $$SELECT table_name::text, protected, rls_enabled FROM tenant_guard.protected_tables
     WHERE table_name::text LIKE 'rls\_part%' ORDER BY 1$$,
  $$VALUES ('rls_part', false, false), ('rls_part_1', false, false), ('rls_part_2', false, false)$$,
  'unprotect_table covers the partitions');
SET ROLE tg_rls_owner;
DO $$ BEGIN PERFORM tenant_guard.protect_table('public.rls_part'); END $$;
RESET ROLE;
SELECT results_eq(
  $$SELECT table_name::text, protected FROM tenant_guard.protected_tables
     WHERE table_name::text LIKE 'rls\_part%' ORDER BY 1$$,
  $$VALUES ('rls_part', true), ('rls_part_1', true), ('rls_part_2', true)$$,
  'protect_table covers the partitions');

------------------------------------------------------------------------------------------------
-- Registered schemas: every table there needs the tenant column.
------------------------------------------------------------------------------------------------
CREATE SCHEMA rls_tenants AUTHORIZATION tg_rls_owner;
DO $$ BEGIN PERFORM tenant_guard.register_schema('rls_tenants'); END $$;
SET ROLE tg_rls_owner;
SELECT throws_ok('CREATE TABLE rls_tenants.no_tenant (id int)', '42P16',
  'table rls_tenants.no_tenant has no tenant column "tenant_id"', 'registered schema: a table without the tenant column is refused');
CREATE TABLE rls_tenants.with_tenant (id int, tenant_id uuid);
SELECT is((SELECT protected FROM tenant_guard.protected_tables WHERE table_name = 'rls_tenants.with_tenant'::regclass), true,
  'registered schema: a tenant table is created and protected');
RESET ROLE;
SELECT is(tenant_guard.unregister_schema('rls_tenants'), true, 'unregister_schema reports the schema was registered');
SET ROLE tg_rls_owner;
SELECT lives_ok('CREATE TABLE rls_tenants.no_tenant (id int)', 'after unregister_schema a table without tenant column is allowed');
RESET ROLE;

------------------------------------------------------------------------------------------------
-- search_path: look-alike functions and operators do not end up in the policies.
------------------------------------------------------------------------------------------------
SET ROLE tg_rls_owner;
CREATE SCHEMA rls_evil;
CREATE FUNCTION rls_evil.policy_tenant() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT 'bbbbbbbb-0000-4000-8000-000000000002'::uuid $$;
CREATE FUNCTION rls_evil.always(uuid, uuid) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE OPERATOR rls_evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = rls_evil.always);
SET LOCAL search_path = rls_evil, public, pg_catalog;
CREATE TABLE public.rls_hijack (id int, tenant_id uuid NOT NULL);
GRANT SELECT ON public.rls_hijack TO tg_rls_app;
CALL pg_temp.use_tenant('a');
INSERT INTO public.rls_hijack (id) VALUES (1);
CALL pg_temp.use_tenant('b');
INSERT INTO public.rls_hijack (id) VALUES (2);
SET LOCAL search_path TO DEFAULT;
RESET ROLE;
SELECT results_eq(
  $$SELECT polname::text COLLATE "default", pg_get_expr(polqual, polrelid) COLLATE "default",
           pg_get_expr(polwithcheck, polrelid) COLLATE "default"
      FROM pg_policy WHERE polrelid = 'public.rls_hijack'::regclass ORDER BY 1$$,
  $$VALUES ('tenant_guard_isolation', '(tenant_id = tenant_guard.policy_tenant())', '(tenant_id = tenant_guard.policy_tenant())'),
           ('tenant_guard_tenant_rows', '(tenant_id = tenant_guard.policy_tenant())', '(tenant_id = tenant_guard.policy_tenant())')$$,
  'hijacked search_path: the policies read the same as usual');
SELECT results_eq(
  format($$SELECT polname::text COLLATE "default", polqual::text ~ ':opno %s ' AND polqual::text ~ ':funcid %s ',
                 polwithcheck::text ~ ':opno %s ' AND polwithcheck::text ~ ':funcid %s '
            FROM pg_policy WHERE polrelid = 'public.rls_hijack'::regclass ORDER BY 1$$,
         'pg_catalog.=(uuid,uuid)'::regoperator::oid, 'tenant_guard.policy_tenant()'::regprocedure::oid,
         'pg_catalog.=(uuid,uuid)'::regoperator::oid, 'tenant_guard.policy_tenant()'::regprocedure::oid),
  $$VALUES ('tenant_guard_isolation', true, true), ('tenant_guard_tenant_rows', true, true)$$,
  'hijacked search_path: the policies use pg_catalog''s uuid = and tenant_guard.policy_tenant()');
SELECT col_default_is('public', 'rls_hijack', 'tenant_id', 'tenant_guard.policy_tenant()'::text,
  'hijacked search_path: the default is tenant_guard.policy_tenant()');
SET ROLE tg_rls_app;
SET LOCAL search_path = rls_evil, public, pg_catalog;
CALL pg_temp.use_tenant('a');
SELECT results_eq('SELECT id, tenant_id FROM public.rls_hijack',
  $$VALUES (1, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid)$$,
  'hijacked search_path: A sees its own row, stamped with A, and not B''s');
SET LOCAL search_path TO DEFAULT;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
