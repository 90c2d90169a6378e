-- tenant_guard 0.4.0: the tenant registry.
-- Every object is schema-qualified; the SECURITY DEFINER functions pin search_path.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.4.0'" to load this file. \quit

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tenant_guard_admin') THEN
        CREATE ROLE tenant_guard_admin NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE tenant_guard_admin IS 'Manages the tenant registry (tenant_guard): create, suspend, resume, offboard';

-- Who is a tenant. With tenant_guard.registry = on, set_tenant() admits only active tenants, and a
-- suspension or offboarding bites at the next statement of every session (published in shared
-- memory at commit by the trigger below).
CREATE TABLE tenant_guard.tenants (
    id uuid PRIMARY KEY,
    slug text UNIQUE NOT NULL,
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'offboarded')),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    settings jsonb NOT NULL DEFAULT '{}',
    status_reason text
);
COMMENT ON TABLE tenant_guard.tenants IS 'The tenant registry: id, slug, name, status (active, suspended, offboarded)';
SELECT pg_catalog.pg_extension_config_dump('tenant_guard.tenants', '');
REVOKE ALL ON tenant_guard.tenants FROM PUBLIC;
GRANT SELECT ON tenant_guard.tenants TO tenant_guard_admin;

CREATE FUNCTION tenant_guard.registry_changed()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'tg_registry_changed';
COMMENT ON FUNCTION tenant_guard.registry_changed() IS
  'Trigger of tenant_guard.tenants: publishes status changes in shared memory when the transaction commits';
CREATE TRIGGER publish_status AFTER INSERT OR UPDATE OR DELETE ON tenant_guard.tenants
    FOR EACH ROW EXECUTE FUNCTION tenant_guard.registry_changed();
CREATE TRIGGER publish_truncate AFTER TRUNCATE ON tenant_guard.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_guard.registry_changed();
ALTER TABLE tenant_guard.tenants ENABLE ALWAYS TRIGGER publish_status;
ALTER TABLE tenant_guard.tenants ENABLE ALWAYS TRIGGER publish_truncate;

CREATE FUNCTION tenant_guard.uuid_v7()
RETURNS uuid
LANGUAGE c VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'tg_uuid_v7';
COMMENT ON FUNCTION tenant_guard.uuid_v7() IS 'A new UUIDv7 (time-ordered, RFC 9562)';

CREATE FUNCTION tenant_guard.tenant_status(tenant uuid)
RETURNS text
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'tg_tenant_status';
COMMENT ON FUNCTION tenant_guard.tenant_status(uuid) IS
  'The status set_tenant() sees for a tenant: active, suspended, offboarded, or unknown (shared memory)';
REVOKE ALL ON FUNCTION tenant_guard.tenant_status(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.tenant_status(uuid) TO tenant_guard_admin;

CREATE FUNCTION tenant_guard.create_tenant(slug text, name text, settings jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    INSERT INTO tenant_guard.tenants (id, slug, name, settings)
    VALUES (tenant_guard.uuid_v7(), create_tenant.slug, create_tenant.name, COALESCE(create_tenant.settings, '{}'))
    RETURNING id;
END;
COMMENT ON FUNCTION tenant_guard.create_tenant(text, text, jsonb) IS
  'Register a new tenant (active at once, no DDL needed); returns its id, a UUIDv7';

CREATE FUNCTION tenant_guard.suspend_tenant(tenant uuid, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE tenant_guard.tenants t SET status = 'suspended', status_reason = suspend_tenant.reason, updated_at = pg_catalog.now()
     WHERE t.id OPERATOR(pg_catalog.=) suspend_tenant.tenant AND t.status OPERATOR(pg_catalog.<>) 'offboarded';
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = pg_catalog.format('tenant %s is not registered or is offboarded', suspend_tenant.tenant);
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_guard.suspend_tenant(uuid, text) IS
  'Suspend a tenant: its contexts stop working at their next statement, new ones are refused';

CREATE FUNCTION tenant_guard.resume_tenant(tenant uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE tenant_guard.tenants t SET status = 'active', status_reason = NULL, updated_at = pg_catalog.now()
     WHERE t.id OPERATOR(pg_catalog.=) resume_tenant.tenant AND t.status OPERATOR(pg_catalog.=) 'suspended';
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = pg_catalog.format('tenant %s is not suspended', resume_tenant.tenant);
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_guard.resume_tenant(uuid) IS 'Lift a suspension';

-- Deletes the tenant's rows from every protected table, children before parents, then marks it
-- offboarded. One transaction: a failure leaves everything as it was.
CREATE FUNCTION tenant_guard.offboard_tenant(tenant uuid)
RETURNS TABLE(table_name text, rows_deleted bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target record;
    deleted bigint;
BEGIN
    PERFORM FROM tenant_guard.tenants t WHERE t.id OPERATOR(pg_catalog.=) offboard_tenant.tenant FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = pg_catalog.format('tenant %s is not registered', offboard_tenant.tenant);
    END IF;
    -- Top-level protected tables (a partitioned table's DELETE reaches its partitions), ordered so
    -- that a table comes after every protected table that references it (depth in the FK graph).
    FOR target IN
        WITH RECURSIVE tops AS (
            SELECT p.table_name::pg_catalog.regclass::pg_catalog.oid AS relid, p.tenant_column
              FROM tenant_guard.protected_tables p
             WHERE p.protected
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                                WHERE i.inhrelid OPERATOR(pg_catalog.=) p.table_name::pg_catalog.regclass::pg_catalog.oid)),
        refs AS (
            SELECT DISTINCT c.conrelid AS child, c.confrelid AS parent
              FROM pg_catalog.pg_constraint c
             WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conrelid OPERATOR(pg_catalog.<>) c.confrelid),
        depth(relid, level) AS (
            SELECT t.relid, 0 FROM tops t
            UNION ALL
            SELECT r.parent, d.level OPERATOR(pg_catalog.+) 1 FROM depth d JOIN refs r ON r.child OPERATOR(pg_catalog.=) d.relid
             WHERE d.level OPERATOR(pg_catalog.<) 64)
        SELECT t.relid, t.tenant_column, pg_catalog.max(d.level) AS level
          FROM tops t JOIN depth d ON d.relid OPERATOR(pg_catalog.=) t.relid
         GROUP BY t.relid, t.tenant_column
         ORDER BY pg_catalog.max(d.level), t.relid::pg_catalog.regclass::pg_catalog.text
    LOOP
        EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I OPERATOR(pg_catalog.=) $1',
                                  target.relid::pg_catalog.regclass, target.tenant_column)
          USING offboard_tenant.tenant;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        table_name := target.relid::pg_catalog.regclass::pg_catalog.text;
        rows_deleted := deleted;
        RETURN NEXT;
    END LOOP;
    UPDATE tenant_guard.tenants t SET status = 'offboarded', updated_at = pg_catalog.now()
     WHERE t.id OPERATOR(pg_catalog.=) offboard_tenant.tenant;
    IF NOT pg_catalog.current_setting('tenant_guard.registry')::boolean THEN
        RAISE WARNING 'tenant_guard.registry is off: tokens of the offboarded tenant are still accepted';
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_guard.offboard_tenant(uuid) IS
  'Delete a tenant''s rows from every protected table (children first) and mark it offboarded';

REVOKE ALL ON FUNCTION tenant_guard.create_tenant(text, text, jsonb), tenant_guard.suspend_tenant(uuid, text),
                       tenant_guard.resume_tenant(uuid), tenant_guard.offboard_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.create_tenant(text, text, jsonb), tenant_guard.suspend_tenant(uuid, text),
                          tenant_guard.resume_tenant(uuid), tenant_guard.offboard_tenant(uuid) TO tenant_guard_admin;
