-- The tenant registry as the catalog shows it: who may manage it, and how its functions are declared.
BEGIN;
SELECT plan(14);

SELECT has_role('tenant_guard_admin', 'the extension creates role tenant_guard_admin');
SELECT ok(NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tenant_guard_admin'), 'tenant_guard_admin cannot log in');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.tenants', 'SELECT'), 'PUBLIC cannot read the registry');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.tenants', 'INSERT,UPDATE,DELETE,TRUNCATE'),
  'PUBLIC cannot write the registry');
SELECT ok(has_table_privilege('tenant_guard_admin', 'tenant_guard.tenants', 'SELECT'), 'tenant_guard_admin reads the registry');
SELECT ok(NOT has_table_privilege('tenant_guard_admin', 'tenant_guard.tenants', 'INSERT,UPDATE,DELETE'),
  'tenant_guard_admin writes only through the functions');
SELECT ok((SELECT bool_and(NOT has_function_privilege('public', p.oid, 'EXECUTE')) FROM pg_proc p
            WHERE p.pronamespace = 'tenant_guard'::regnamespace
              AND p.proname IN ('create_tenant', 'suspend_tenant', 'resume_tenant', 'offboard_tenant', 'tenant_status')),
  'PUBLIC cannot call the registry functions');
SELECT ok((SELECT bool_and(has_function_privilege('tenant_guard_admin', p.oid, 'EXECUTE')) FROM pg_proc p
            WHERE p.pronamespace = 'tenant_guard'::regnamespace
              AND p.proname IN ('create_tenant', 'suspend_tenant', 'resume_tenant', 'offboard_tenant', 'tenant_status')),
  'tenant_guard_admin may call them');
SELECT ok((SELECT bool_and(p.prosecdef AND p.proconfig @> '{"search_path=pg_catalog, pg_temp"}') FROM pg_proc p
            WHERE p.pronamespace = 'tenant_guard'::regnamespace
              AND p.proname IN ('create_tenant', 'suspend_tenant', 'resume_tenant', 'offboard_tenant')),
  'the management functions are SECURITY DEFINER with search_path pinned');
SELECT is((SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
            WHERE tgrelid = 'tenant_guard.tenants'::regclass AND NOT tgisinternal),
  'publish_status:A,publish_truncate:A', 'the registry publishes its changes through ALWAYS triggers');
SELECT is((SELECT setting || '/' || context FROM pg_settings WHERE name = 'tenant_guard.registry'), 'off/sighup',
  'tenant_guard.registry is off by default and changes on reload');
SELECT is((SELECT setting || '/' || context FROM pg_settings WHERE name = 'tenant_guard.registry_size'), '10000/postmaster',
  'the shared registry holds 10,000 tenants by default (server start)');
SELECT matches(tenant_guard.uuid_v7()::text, '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
  'uuid_v7() returns a version 7, RFC-variant UUID');
SELECT is(tenant_guard.tenant_status('dddddddd-0000-4000-8000-00000000000d'), 'unknown', 'an unregistered tenant is unknown');

SELECT * FROM finish();
ROLLBACK;
