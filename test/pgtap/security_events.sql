-- Security events and statistics as the catalog and a session see them: the table's contract,
-- who may read what, the settings, and counters that move as refusals happen.
BEGIN;
SELECT plan(26);

SELECT columns_are('tenant_guard', 'security_events',
  ARRAY['occurred_at', 'kind', 'reason', 'tenant_id', 'subject', 'role_name', 'application_name', 'client_addr',
        'backend_pid', 'detail'], 'security_events has the contract columns');
SELECT col_type_is('tenant_guard', 'security_events', 'client_addr', 'inet', 'client_addr is inet');
SELECT col_type_is('tenant_guard', 'security_events', 'detail', 'jsonb', 'detail is jsonb');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'tenant_guard.security_events'::regclass),
  'security_events has row-level security');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.security_events', 'INSERT,UPDATE,DELETE,TRUNCATE'),
  'nobody but its owner writes security_events');
SELECT ok(has_table_privilege('tenant_guard_admin', 'tenant_guard.security_events', 'SELECT'),
  'tenant_guard_admin reads security_events');
SELECT is((SELECT string_agg(polname || ':' || array_to_string(polroles::regrole[], ','), ' ' ORDER BY polname)
             FROM pg_policy WHERE polrelid = 'tenant_guard.security_events'::regclass),
  'platform_admins:tenant_guard_admin tenant_admins:-', 'two read policies: platform admins, tenant admins');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.stats', 'SELECT')
          AND NOT has_table_privilege('public', 'tenant_guard.tenant_stats', 'SELECT'),
  'PUBLIC cannot read the statistics');
SELECT ok(has_table_privilege('tenant_guard_admin', 'tenant_guard.stats', 'SELECT')
          AND has_table_privilege('tenant_guard_admin', 'tenant_guard.tenant_stats', 'SELECT')
          AND has_function_privilege('tenant_guard_admin', 'tenant_guard.stats_reset()', 'EXECUTE'),
  'tenant_guard_admin reads and resets the statistics');
SELECT ok(NOT has_function_privilege('public', 'tenant_guard.stats_reset()', 'EXECUTE')
          AND NOT has_function_privilege('public', 'tenant_guard.prune_security_events()', 'EXECUTE'),
  'PUBLIC can neither reset statistics nor prune events');
SELECT columns_are('tenant_guard', 'tenant_stats',
  ARRAY['tenant_id', 'context_sets', 'refusals', 'transactions', 'rows_read', 'rows_inserted', 'rows_updated',
        'rows_deleted', 'exec_time_ms', 'last_seen'], 'tenant_stats has the contract columns');
SELECT is((SELECT setting || '/' || context FROM pg_settings WHERE name = 'tenant_guard.security_events_queue_size'),
  '1024/postmaster', 'the event queue holds 1,024 events by default (server start)');
SELECT is((SELECT setting || unit || '/' || context FROM pg_settings WHERE name = 'tenant_guard.security_events_retention'),
  '129600min/sighup', 'events are kept 90 days by default (reload)');
SELECT is((SELECT setting || '/' || context FROM pg_settings WHERE name = 'tenant_guard.tenant_stats_size'),
  '10000/postmaster', 'tenant statistics hold 10,000 tenants by default (server start)');
SELECT is((SELECT setting || '/' || context FROM pg_settings WHERE name = 'tenant_guard.track_tenant_stats'),
  'on/superuser', 'per-tenant statistics are on by default; only a superuser turns them off');

-- Counters move at the moment of the refusal (the event itself is stored later, by the worker).
CREATE TEMP TABLE before AS SELECT counter, value FROM tenant_guard.stats;
SELECT throws_ok($$SELECT tenant_guard.set_tenant('eyJhbGciOiJIUzI1NiIsImtpZCI6ImRpc3RyaWN0LWhzMjU2In0.e30.AAAA')$$, '28000', NULL,
  'a forged token is refused');
SELECT is((SELECT value FROM tenant_guard.stats WHERE counter = 'refusals.context_refused.bad_signature')
          - coalesce((SELECT value FROM before WHERE counter = 'refusals.context_refused.bad_signature'), 0), 1::bigint,
  'refusals.context_refused.bad_signature counts it');
SELECT is((SELECT value FROM tenant_guard.stats WHERE counter = 'events_queued')
          - (SELECT value FROM before WHERE counter = 'events_queued'), 1::bigint, 'and its event is queued');
SELECT throws_ok($$SELECT set_config('tenant_guard.tenant_id', 'dddddddd-0000-4000-8000-00000000000d', true)$$, '42501',
  'tenant_guard.tenant_id can only be set by tenant_guard.set_tenant()', 'set_config of the context is refused');
SELECT is((SELECT value FROM tenant_guard.stats WHERE counter = 'refusals.context_tampering.set_config')
          - coalesce((SELECT value FROM before WHERE counter = 'refusals.context_tampering.set_config'), 0), 1::bigint,
  'refusals.context_tampering.set_config counts it');
SELECT lives_ok($$SELECT set_config('tenant_guard.tenant_id', '', true)$$, 'clearing the context by set_config is allowed');
SELECT is((SELECT value FROM tenant_guard.stats WHERE counter = 'tenant_stats_size'), 10000::bigint,
  'stats reports the size of the tenant statistics');

-- Clearing the context under a running statement (a function's RESET) would leave the statement's
-- rows and audit entries without their tenant: refused, and recorded.
CREATE TABLE pgtap_notes (id int, tenant_id uuid, body text);
SELECT tenant_guard.set_tenant(tenant_guard.sign_token(jsonb_build_object(
  'tenant_id', 'dddddddd-0000-4000-8000-00000000000d', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256'));
INSERT INTO pgtap_notes (id, body) VALUES (1, 'one');
CREATE FUNCTION pg_temp.reset_context() RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN RESET tenant_guard.tenant_id; RETURN true; END$$;
CREATE FUNCTION pg_temp.reset_all() RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RESET ALL; RETURN true; END$$;
SELECT throws_ok($$DELETE FROM pgtap_notes WHERE pg_temp.reset_context()$$, '0A000',
  'the tenant context cannot change inside a statement that writes or reads protected tables',
  'RESET of the context inside a writing statement is refused');
SELECT throws_ok($$DELETE FROM pgtap_notes WHERE pg_temp.reset_all()$$, '0A000', NULL,
  'RESET ALL inside a writing statement is refused');
SELECT is((SELECT value FROM tenant_guard.stats WHERE counter = 'refusals.context_refused.inside_statement')
          - coalesce((SELECT value FROM before WHERE counter = 'refusals.context_refused.inside_statement'), 0), 2::bigint,
  'both are recorded');
SELECT is(tenant_guard.current_tenant(), 'dddddddd-0000-4000-8000-00000000000d'::uuid,
  'and the context is still in force');

SELECT * FROM finish();
ROLLBACK;
