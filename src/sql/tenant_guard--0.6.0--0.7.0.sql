-- tenant_guard 0.7.0: platform access.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.7.0'" to load this file. \quit

-- The role platform access reads protected tables as. Nobody is a member of it and nobody logs in
-- as it: tenant_guard's parse-analysis hook names it as the checking role of protected tables in a
-- platform administrator's SELECTs. It holds SELECT on protected tables only.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tenant_guard_platform_reader') THEN
        CREATE ROLE tenant_guard_platform_reader NOLOGIN BYPASSRLS;
    END IF;
END
$$;
DO $$
DECLARE
    protected_table regclass;
BEGIN
    FOR protected_table IN SELECT p.table_name FROM tenant_guard.protected_tables p WHERE p.protected LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO tenant_guard_platform_reader', protected_table);
    END LOOP;
END
$$;

CREATE FUNCTION tenant_guard.begin_platform_access(token text, reason text)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'tg_begin_platform_access';
COMMENT ON FUNCTION tenant_guard.begin_platform_access(text, text) IS
    'Reads every tenant''s rows of protected tables, read-only, until the transaction ends; needs a token with '
    'platform_admin in the admin claim and a reason, and is recorded as a platform_access security event.';

CREATE FUNCTION tenant_guard.in_platform_access()
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'tg_in_platform_access';

-- Tenant administrators see platform access events next to their own.
ALTER POLICY tenant_admins ON tenant_guard.security_events
    USING ((SELECT tenant_guard.is_tenant_admin())
           AND ((tenant_id OPERATOR(pg_catalog.=) tenant_guard.current_tenant()
                 AND (detail OPERATOR(pg_catalog.->>) 'tenant_verified') OPERATOR(pg_catalog.=) 'true')
                OR kind OPERATOR(pg_catalog.=) 'platform_access'));
