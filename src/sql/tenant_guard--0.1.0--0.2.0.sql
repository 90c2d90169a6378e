-- tenant_guard 0.2.0: automatic row-level security for tenant tables.
-- Every object is schema-qualified. Functions that run DDL pin search_path to pg_catalog, pg_temp.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.2.0'" to load this file. \quit

-- The tenant that policies and column defaults compare against: current_tenant(), except that
-- without a context it raises an error when tenant_guard.missing_context = 'error'. The error does
-- not depend on any row, so the function is LEAKPROOF and may run before other quals.
CREATE FUNCTION tenant_guard.policy_tenant()
RETURNS uuid
LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
AS 'MODULE_PATHNAME', 'tg_policy_tenant';
COMMENT ON FUNCTION tenant_guard.policy_tenant() IS
  'Tenant compared by the row-level security policies of protected tables (NULL or an error without context)';

-- Schemas where every table must carry the tenant column. Keyed by name so that it survives
-- pg_dump / pg_restore (dumped as extension configuration).
CREATE TABLE tenant_guard.tenant_schemas (
    schema_name name PRIMARY KEY,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE tenant_guard.tenant_schemas IS
  'Schemas registered as tenant-scoped: a table there without the tenant column is refused';
SELECT pg_catalog.pg_extension_config_dump('tenant_guard.tenant_schemas', '');
GRANT SELECT ON tenant_guard.tenant_schemas TO PUBLIC;

-- Superuser only (EXECUTE revoked from PUBLIC): which schemas are tenant-scoped is a platform decision.
CREATE FUNCTION tenant_guard.register_schema(schema_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) register_schema.schema_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_schema_name',
            MESSAGE = pg_catalog.format('schema %I does not exist', schema_name);
    END IF;
    INSERT INTO tenant_guard.tenant_schemas AS s (schema_name) VALUES (register_schema.schema_name)
        ON CONFLICT ON CONSTRAINT tenant_schemas_pkey DO NOTHING;
    SELECT pg_catalog.string_agg(c.oid::pg_catalog.regclass::pg_catalog.text, ', ' ORDER BY c.relname)
      INTO missing
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE n.nspname OPERATOR(pg_catalog.=) register_schema.schema_name AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND NOT a.attisdropped
                          AND a.attname OPERATOR(pg_catalog.=) pg_catalog.current_setting('tenant_guard.tenant_column'));
    IF missing IS NOT NULL THEN
        RAISE WARNING 'tables already in schema % have no tenant column: %', schema_name, missing;
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_guard.register_schema(name) IS
  'Mark a schema as tenant-scoped: creating a table there without the tenant column is an error';
REVOKE ALL ON FUNCTION tenant_guard.register_schema(name) FROM PUBLIC;

CREATE FUNCTION tenant_guard.unregister_schema(schema_name name)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH removed AS (
        DELETE FROM tenant_guard.tenant_schemas s
         WHERE s.schema_name OPERATOR(pg_catalog.=) unregister_schema.schema_name RETURNING 1)
    SELECT EXISTS (SELECT FROM removed);
END;
COMMENT ON FUNCTION tenant_guard.unregister_schema(name) IS 'Undo register_schema(); true if the schema was registered';
REVOKE ALL ON FUNCTION tenant_guard.unregister_schema(name) FROM PUBLIC;

-- Runs as the caller, who must own the table (and its partitions).
CREATE FUNCTION tenant_guard.protect_table(target regclass)
RETURNS void
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_protect_table';
COMMENT ON FUNCTION tenant_guard.protect_table(regclass) IS
  'Protect an existing table and its partitions: forced row-level security, tenant policies, column default, index';

CREATE FUNCTION tenant_guard.unprotect_table(target regclass)
RETURNS void
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_unprotect_table';
COMMENT ON FUNCTION tenant_guard.unprotect_table(regclass) IS
  'Superuser only: remove tenant_guard''s policies (and row-level security if no other policy is left)';
REVOKE ALL ON FUNCTION tenant_guard.unprotect_table(regclass) FROM PUBLIC;

CREATE FUNCTION tenant_guard.on_ddl_command_end()
RETURNS event_trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_on_ddl_command_end';
COMMENT ON FUNCTION tenant_guard.on_ddl_command_end() IS
  'Event trigger: protects new tenant tables, secures views over them';

CREATE EVENT TRIGGER tenant_guard_protect_tables ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'CREATE SCHEMA',
                 'ALTER TYPE', 'ALTER POLICY', 'CREATE VIEW', 'ALTER VIEW', 'CREATE RULE',
                 'CREATE MATERIALIZED VIEW')
    EXECUTE FUNCTION tenant_guard.on_ddl_command_end();

CREATE FUNCTION tenant_guard.on_sql_drop()
RETURNS event_trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_on_sql_drop';
COMMENT ON FUNCTION tenant_guard.on_sql_drop() IS
  'Event trigger: refuses statements that would drop tenant_guard''s policies from a remaining table';

CREATE EVENT TRIGGER tenant_guard_keep_policies ON sql_drop
    EXECUTE FUNCTION tenant_guard.on_sql_drop();

-- Every table that has tenant_guard policies or the tenant column, and how protected it is.
CREATE VIEW tenant_guard.protected_tables AS
SELECT c.oid::pg_catalog.regclass AS table_name,
       a.attname AS tenant_column,
       pol.policies,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       EXISTS (SELECT FROM pg_catalog.pg_index i
                WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisvalid
                  AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum AND i.indpred IS NULL) AS tenant_index,
       (c.relrowsecurity AND c.relforcerowsecurity
        AND pol.policies OPERATOR(pg_catalog.@>) '{tenant_guard_isolation,tenant_guard_tenant_rows}'::pg_catalog.name[]
        AND a.attnum IS NOT NULL) AS protected
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  LEFT JOIN LATERAL (
        SELECT pg_catalog.array_agg(p.polname ORDER BY p.polname) AS policies,
               (SELECT pg_catalog.min(d.refobjsubid)
                  FROM pg_catalog.pg_depend d
                 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
                   AND d.objid OPERATOR(pg_catalog.=) pg_catalog.min(p.oid) FILTER (WHERE p.polname OPERATOR(pg_catalog.=) 'tenant_guard_isolation')
                   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                   AND d.refobjid OPERATOR(pg_catalog.=) c.oid AND d.refobjsubid OPERATOR(pg_catalog.>) 0) AS attnum
          FROM pg_catalog.pg_policy p
         WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid) pol ON true
  LEFT JOIN pg_catalog.pg_attribute a
    ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND NOT a.attisdropped
   AND (a.attnum OPERATOR(pg_catalog.=) pol.attnum
        OR (pol.attnum IS NULL
            AND a.attname OPERATOR(pg_catalog.=) pg_catalog.current_setting('tenant_guard.tenant_column')))
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[])
   AND (a.attnum IS NOT NULL
        OR pol.policies OPERATOR(pg_catalog.&&) '{tenant_guard_isolation,tenant_guard_tenant_rows}'::pg_catalog.name[]);
COMMENT ON VIEW tenant_guard.protected_tables IS
  'Tables with tenant_guard policies or a tenant column: policies, forced row-level security, tenant-led index';
GRANT SELECT ON tenant_guard.protected_tables TO PUBLIC;

-- Hits and misses of this backend's cache of verified tokens (tenant_guard.token_cache_size).
CREATE FUNCTION tenant_guard.token_cache_stats(OUT hits bigint, OUT misses bigint, OUT entries integer,
                                               OUT capacity integer)
RETURNS record
LANGUAGE c VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'tg_token_cache_stats';
COMMENT ON FUNCTION tenant_guard.token_cache_stats() IS
  'This backend''s cache of verified tokens: hits, misses, entries, capacity';

-- Tokens for several tenants: set_tenant() gains the tenant to act for (NULL: the token's own).
-- The old two-argument form goes, or calls with two arguments would be ambiguous.
DROP FUNCTION tenant_guard.set_tenant(text, boolean);
CREATE FUNCTION tenant_guard.set_tenant(token text, is_local boolean DEFAULT true, tenant uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'tg_set_tenant';
COMMENT ON FUNCTION tenant_guard.set_tenant(text, boolean, uuid) IS
  'Verify a signed tenant token and set the tenant context (is_local: until transaction end, else session; tenant: one of the token''s tenants)';

CREATE FUNCTION tenant_guard.switch_tenant(tenant uuid)
RETURNS uuid
LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'tg_switch_tenant';
COMMENT ON FUNCTION tenant_guard.switch_tenant(uuid) IS
  'Act for another tenant listed by the current context''s token, in the same scope';

CREATE FUNCTION tenant_guard.allowed_tenants()
RETURNS uuid[]
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'tg_allowed_tenants';
COMMENT ON FUNCTION tenant_guard.allowed_tenants() IS 'The tenants the current context''s token may act for, or NULL';
