-- Function flags and settings as the catalog shows them.
BEGIN;
SELECT plan(28);

SELECT volatility_is('tenant_guard', 'current_tenant', ARRAY[]::text[], 'stable', 'current_tenant() is STABLE');
SELECT volatility_is('tenant_guard', 'require_tenant', ARRAY[]::text[], 'stable', 'require_tenant() is STABLE');
SELECT volatility_is('tenant_guard', 'set_tenant', ARRAY['text', 'boolean', 'uuid'], 'volatile', 'set_tenant() is VOLATILE');
SELECT volatility_is('tenant_guard', 'reset_tenant', ARRAY[]::text[], 'volatile', 'reset_tenant() is VOLATILE');
SELECT volatility_is('tenant_guard', 'switch_tenant', ARRAY['uuid'], 'volatile', 'switch_tenant() is VOLATILE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.switch_tenant(uuid)'::regprocedure), 'u',
  'switch_tenant() is PARALLEL UNSAFE (it changes the context)');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.allowed_tenants()'::regprocedure), 'r',
  'allowed_tenants() is PARALLEL RESTRICTED (the list lives in the leader)');
SELECT function_returns('tenant_guard', 'allowed_tenants', ARRAY[]::text[], 'uuid[]', 'allowed_tenants() returns uuid[]');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'tenant_guard.token_cache_size'), '256',
  'the verification cache holds 256 tokens by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.require_jti'), 'superuser',
  'only a superuser can change tenant_guard.require_jti');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.current_tenant()'::regprocedure), 's',
  'current_tenant() is PARALLEL SAFE (usable in parallel plans)');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.require_tenant()'::regprocedure), 's',
  'require_tenant() is PARALLEL SAFE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.set_tenant(text, boolean, uuid)'::regprocedure), 'u',
  'set_tenant() is PARALLEL UNSAFE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'tenant_guard.current_claims()'::regprocedure), 'r',
  'current_claims() is PARALLEL RESTRICTED (claims live in the leader)');
SELECT ok((SELECT proleakproof FROM pg_proc WHERE oid = 'tenant_guard.current_tenant()'::regprocedure),
  'current_tenant() is LEAKPROOF');
SELECT ok(NOT (SELECT prosecdef FROM pg_proc WHERE oid = 'tenant_guard.set_tenant(text, boolean, uuid)'::regprocedure),
  'set_tenant() is not SECURITY DEFINER');
SELECT function_returns('tenant_guard', 'set_tenant', ARRAY['text', 'boolean', 'uuid'], 'uuid', 'set_tenant() returns uuid');
SELECT function_returns('tenant_guard', 'current_claims', ARRAY[]::text[], 'jsonb', 'current_claims() returns jsonb');

-- user: so that every attempt, by any role and any route, reaches the check hook that refuses it and
-- records a security event (a superuser-only setting would be refused earlier, unrecorded).
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.tenant_id'), 'user',
  'tenant_id: every attempt to SET it reaches the check hook');
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.jwks_file'), 'sighup',
  'jwks_file: changed by reload only');
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.allow_session_context'), 'superuser',
  'allow_session_context: superuser only');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'tenant_guard.tenant_claim'), 'tenant_id',
  'tenant_claim defaults to tenant_id');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'tenant_guard.require_exp'), 'on', 'require_exp defaults to on');
SELECT is((SELECT setting || unit FROM pg_settings WHERE name = 'tenant_guard.clock_skew'), '30s', 'clock_skew defaults to 30s');
SELECT throws_ok($$SET tenant_guard.no_such_setting = 1$$, '42602', NULL, 'the tenant_guard prefix is reserved');
SELECT is(current_setting('tenant_guard.tenant_id'), '', 'tenant_id is empty without a context');
SELECT ok(current_setting('shared_preload_libraries') ~ 'tenant_guard', 'the library is preloaded');
SELECT has_extension('tenant_guard', 'the extension is installed');

SELECT * FROM finish();
ROLLBACK;
