-- The audit ledger as the catalog shows it: who may do what, and how the objects are declared.
BEGIN;
SELECT plan(24);

SELECT has_role('tenant_guard_auditor', 'the extension creates role tenant_guard_auditor');
SELECT ok(NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tenant_guard_auditor'), 'tenant_guard_auditor cannot log in');
SELECT ok(NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'tenant_guard_auditor'), 'tenant_guard_auditor does not bypass RLS');
SELECT ok((SELECT bool_and(relrowsecurity) FROM pg_class
            WHERE oid IN ('tenant_guard.audit_log'::regclass, 'tenant_guard.audit_blocks'::regclass,
                          'tenant_guard.audit_pruned_blocks'::regclass)),
  'row-level security is enabled on the ledger tables');
SELECT is((SELECT array_agg(DISTINCT cmd ORDER BY cmd) FROM pg_policies WHERE schemaname = 'tenant_guard'),
  ARRAY['SELECT']::text[], 'the ledger has SELECT policies only');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.audit_log', 'INSERT'), 'PUBLIC cannot INSERT into audit_log');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.audit_log', 'UPDATE'), 'PUBLIC cannot UPDATE audit_log');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.audit_log', 'DELETE'), 'PUBLIC cannot DELETE from audit_log');
SELECT ok(NOT has_table_privilege('public', 'tenant_guard.audit_blocks', 'INSERT'), 'PUBLIC cannot INSERT into audit_blocks');
SELECT ok(NOT has_sequence_privilege('public', 'tenant_guard.audit_entry_seq', 'USAGE'), 'PUBLIC cannot use the entry sequence');
SELECT ok(NOT has_function_privilege('public', 'tenant_guard.unaudit_table(regclass)', 'EXECUTE'), 'unaudit_table() is not for PUBLIC');
SELECT ok(NOT has_function_privilege('public', 'tenant_guard.prune_audit(timestamptz)', 'EXECUTE'), 'prune_audit() is not for PUBLIC');
SELECT ok(NOT has_function_privilege('public', 'tenant_guard.seal_audit()', 'EXECUTE'), 'seal_audit() is not for PUBLIC');
SELECT ok(has_function_privilege('tenant_guard_auditor', 'tenant_guard.seal_audit()', 'EXECUTE'), 'auditors may seal');
SELECT ok((SELECT bool_and(NOT prosecdef) FROM pg_proc WHERE pronamespace = 'tenant_guard'::regnamespace
            AND proname IN ('audit_table', 'unaudit_table', 'seal_audit', 'verify_audit', 'audit_digest', 'prune_audit')),
  'no ledger function is SECURITY DEFINER (the C code switches to the ledger owner only for its own writes)');
SELECT ok((SELECT bool_and(proconfig @> '{"search_path=pg_catalog, pg_temp"}') FROM pg_proc
            WHERE pronamespace = 'tenant_guard'::regnamespace
              AND proname IN ('audit_table', 'unaudit_table', 'seal_audit', 'verify_audit', 'audit_digest', 'prune_audit')),
  'the ledger functions pin search_path');
SELECT volatility_is('tenant_guard', 'is_tenant_admin', ARRAY[]::text[], 'stable', 'is_tenant_admin() is STABLE');
SELECT is(tenant_guard.is_tenant_admin(), false, 'without a context nobody is a tenant administrator');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'tenant_guard.admin_claim'), 'roles', 'admin_claim defaults to roles');
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.admin_claim'), 'superuser', 'only a superuser sets admin_claim');
SELECT is((SELECT setting || unit FROM pg_settings WHERE name = 'tenant_guard.audit_seal_interval'), '1000ms',
  'the sealer runs every second by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'tenant_guard.audit_seal_interval'), 'sighup',
  'audit_seal_interval changes on reload');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'tenant_guard.audit_new_tables'), 'off', 'audit_new_tables is off by default');
SELECT ok(EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'tenant_guard launcher'),
  'the launcher runs (the library is preloaded)');

SELECT * FROM finish();
ROLLBACK;
