-- Only set_tenant() changes the context; nobody reads key material. Run by pg_prove as a superuser.
BEGIN;
SELECT plan(24);

CREATE ROLE tg_app LOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO tg_app;
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a \gset
CREATE TEMP TABLE token_store AS SELECT :'token_a'::text AS token;
GRANT SELECT ON token_store TO tg_app;

-- The superuser cannot set a tenant by hand either.
SELECT throws_ok($$SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501',
  'tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()', 'superuser: SET is refused');
SELECT throws_ok($$SELECT set_config('tenant_guard.tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', true)$$, '42501',
  'tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()', 'superuser: set_config is refused');
SELECT throws_ok($$ALTER ROLE tg_app SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501',
  NULL, 'superuser: ALTER ROLE ... SET is refused');
SELECT throws_ok($$ALTER DATABASE postgres SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501',
  NULL, 'superuser: ALTER DATABASE ... SET is refused');
SELECT throws_ok($$CREATE FUNCTION pg_temp.as_tenant() RETURNS int LANGUAGE sql
                   SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002' AS 'SELECT 1'$$, '42501',
  NULL, 'superuser: a function SET clause cannot carry a tenant');
-- Even a grant of the parameter does not open it (PG15 GRANT SET ON PARAMETER).
GRANT SET ON PARAMETER tenant_guard.tenant_id TO tg_app;

SET ROLE tg_app;
SELECT throws_ok($$SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501', NULL,
  'app: SET is refused');
SELECT throws_ok($$SET LOCAL tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501', NULL,
  'app: SET LOCAL is refused');
SELECT throws_ok($$SELECT set_config('tenant_guard.tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', false)$$, '42501',
  NULL, 'app: set_config(session) is refused');
SELECT throws_ok($$SELECT set_config('tenant_guard.tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', true)$$, '42501',
  NULL, 'app: set_config(local) is refused');
SELECT throws_ok($$ALTER ROLE tg_app SET tenant_guard.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002'$$, '42501',
  NULL, 'app: ALTER ROLE ... SET is refused');
SELECT is(tenant_guard.current_tenant(), NULL, 'app: still no context after the attempts');

-- With a real token the app gets its tenant, and still cannot switch by hand.
SELECT is(tenant_guard.set_tenant((SELECT token FROM token_store)), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
  'app: set_tenant with a signed token works');
SELECT is(current_setting('tenant_guard.tenant_id'), 'aaaaaaaa-0000-4000-8000-000000000001',
  'app: the read-only setting mirrors the context');
SELECT throws_ok($$SELECT set_config('tenant_guard.tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', true)$$, '42501',
  NULL, 'app: cannot switch tenant with set_config');
SELECT is(tenant_guard.current_tenant(), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
  'app: a refused switch leaves the verified tenant in place');

-- search_path tricks: a look-alike function does not replace the schema-qualified one.
CREATE FUNCTION public.current_tenant() RETURNS uuid LANGUAGE sql AS $$ SELECT 'bbbbbbbb-0000-4000-8000-000000000002'::uuid $$;
SET LOCAL search_path = public, tenant_guard;
SELECT is(tenant_guard.current_tenant(), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
  'app: a shadowing function on search_path changes nothing for tenant_guard.current_tenant()');
RESET search_path;

-- Keys and signing are out of reach.
SELECT throws_ok($$SELECT tenant_guard.sign_token('{"tenant_id":"bbbbbbbb-0000-4000-8000-000000000002"}')$$, '42501',
  NULL, 'app: cannot mint tokens');
SELECT throws_ok($$SHOW tenant_guard.jwks_file$$, '42501', NULL, 'app: cannot SHOW the key file setting');
SELECT throws_ok($$SELECT current_setting('tenant_guard.jwks_file')$$, '42501', NULL,
  'app: cannot read the key file setting with current_setting');
SELECT is((SELECT count(*) FROM pg_settings WHERE name = 'tenant_guard.jwks_file'), 0::bigint,
  'app: pg_settings hides the key file setting');
SELECT throws_ok($$SELECT pg_read_file('postgresql.conf')$$, '42501', NULL, 'app: cannot read server files');
RESET ROLE;

-- The superuser can (it administers the keys).
SELECT isnt(current_setting('tenant_guard.jwks_file'), '', 'superuser: sees the key file setting');
SELECT ok(tenant_guard.sign_token('{"tenant_id":"bbbbbbbb-0000-4000-8000-000000000002","exp":4102444800}', 'district-hs256') ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$',
  'superuser: sign_token mints a compact JWS');
-- Function privileges: sign_token is not granted to PUBLIC.
SELECT ok(NOT has_function_privilege('tg_app', 'tenant_guard.sign_token(jsonb, text)', 'EXECUTE'),
  'sign_token is not executable by ordinary roles');

SELECT * FROM finish();
ROLLBACK;
