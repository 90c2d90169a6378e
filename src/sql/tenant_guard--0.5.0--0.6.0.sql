-- tenant_guard 0.6.0: the schema security check.
-- The functions read the catalogs with the caller's rights; search_path is pinned, so every name in
-- their bodies resolves in pg_catalog.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.6.0'" to load this file. \quit

-- The tables check_schema() is about: ordinary and partitioned tables outside the system schemas
-- and tenant_guard's own, with what protect_table() gives a protected table. Partitions are reached
-- through their root (their policies and index come from it).
CREATE FUNCTION tenant_guard.schema_check_tables(tenant_column name)
RETURNS TABLE(relid oid, name text, tenant_attnum smallint, nullable boolean, guarded boolean, protected boolean,
              tenant_index boolean, extension_member boolean, is_partition boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid, c.oid::regclass::text, a.attnum, NOT a.attnotnull,
           EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname LIKE 'tenant\_guard\_%'),
           c.relrowsecurity AND c.relforcerowsecurity AND a.attnum IS NOT NULL
             AND (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid
                     AND p.polname IN ('tenant_guard_isolation', 'tenant_guard_tenant_rows')) = 2,
           EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum AND i.indpred IS NULL),
           EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'),
           c.relispartition
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = tenant_column AND NOT a.attisdropped
                              AND a.atttypid = 'uuid'::regtype
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenant_guard') AND n.nspname NOT LIKE 'pg\_toast%'
$$;
COMMENT ON FUNCTION tenant_guard.schema_check_tables(name) IS 'The tables tenant_guard.check_schema() looks at (internal).';

CREATE FUNCTION tenant_guard.check_schema()
RETURNS TABLE(severity text, object text, problem text, fix text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant_column name := current_setting('tenant_guard.tenant_column');
BEGIN
    -- A tenant column without protection: every tenant reads every row.
    RETURN QUERY
    SELECT CASE WHEN t.extension_member THEN 'info' ELSE 'error' END, 'table ' || t.name,
           CASE WHEN t.extension_member
                THEN 'has the tenant column but belongs to an extension, which tenant_guard leaves alone'
                ELSE 'has the tenant column but is not protected: every tenant reads every row' END,
           format('SELECT tenant_guard.protect_table(%L);', t.name)
      FROM tenant_guard.schema_check_tables(tenant_column) t
     WHERE t.tenant_attnum IS NOT NULL AND NOT t.protected AND NOT t.is_partition;

    RETURN QUERY
    SELECT 'warning', 'table ' || t.name, 'is protected but has no index led by the tenant column: every query scans all tenants',
           format('CREATE INDEX ON %s (%I);', t.name, tenant_column)
      FROM tenant_guard.schema_check_tables(tenant_column) t
     WHERE t.protected AND NOT t.tenant_index AND NOT t.is_partition;

    RETURN QUERY
    SELECT 'warning', 'column ' || t.name || '.' || quote_ident(tenant_column),
           'allows NULL: a row without tenant is nobody''s and invisible to all',
           format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL;', t.name, tenant_column)
      FROM tenant_guard.schema_check_tables(tenant_column) t
     WHERE t.protected AND t.nullable AND NOT t.is_partition;

    -- Uniqueness across tenants: a tenant learns that a value exists elsewhere (a failed insert).
    -- A primary key on one generated column (identity, serial) only reveals which ids exist.
    RETURN QUERY
    SELECT CASE WHEN k.contype = 'p' AND generated THEN 'warning' ELSE 'error' END,
           format('%s %I on %s', CASE k.contype WHEN 'p' THEN 'primary key' ELSE 'unique constraint' END, k.conname, t.name),
           CASE WHEN k.contype = 'p' AND generated
                THEN 'does not include the tenant column; its values are generated, so it only tells which ids exist'
                ELSE 'does not include the tenant column: one tenant can learn whether a value exists in another' END,
           format('Make it (%I, %s), or drop it if the values need not be unique across tenants.', tenant_column,
                  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord)
                     FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum))
      FROM tenant_guard.schema_check_tables(tenant_column) t
      JOIN pg_constraint k ON k.conrelid = t.relid AND k.contype IN ('p', 'u')
      CROSS JOIN LATERAL (
            SELECT array_length(k.conkey, 1) = 1 AND EXISTS (
                     SELECT FROM pg_attribute a
                      WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                        AND (a.attidentity <> '' OR pg_get_expr((SELECT d.adbin FROM pg_attrdef d
                              WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), a.attrelid) LIKE 'nextval(%')) AS generated) g
     WHERE t.protected AND NOT t.is_partition AND NOT (t.tenant_attnum = ANY (k.conkey));
    RETURN QUERY
    SELECT 'error', format('unique index %s on %s', i.indexrelid::regclass, t.name),
           'does not include the tenant column: one tenant can learn whether a value exists in another',
           format('Recreate it with %I as its first column.', tenant_column)
      FROM tenant_guard.schema_check_tables(tenant_column) t
      JOIN pg_index i ON i.indrelid = t.relid AND i.indisunique
     WHERE t.protected AND NOT t.is_partition AND NOT (t.tenant_attnum = ANY (i.indkey::smallint[]))
       AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid);

    -- A foreign key between tenant tables that leaves the tenant column out can point at another
    -- tenant's row (the key check runs without row-level security).
    RETURN QUERY
    SELECT 'error', format('foreign key %I on %s', k.conname, t.name),
           format('references %s without the tenant column: a row can point at another tenant''s row', r.name),
           format('Reference (%I, ...) on both sides: add %I to a unique key of %s and to this foreign key.',
                  tenant_column, tenant_column, r.name)
      FROM tenant_guard.schema_check_tables(tenant_column) t
      JOIN pg_constraint k ON k.conrelid = t.relid AND k.contype = 'f'
      JOIN tenant_guard.schema_check_tables(tenant_column) r ON r.relid = k.confrelid
     WHERE t.protected AND r.protected AND NOT t.is_partition AND k.conparentid = 0
       AND NOT EXISTS (SELECT FROM unnest(k.conkey, k.confkey) p(own, other)
                        WHERE p.own = t.tenant_attnum AND p.other = r.tenant_attnum);

    -- Policies of the table's own, besides tenant_guard's: tenant_guard_isolation is RESTRICTIVE,
    -- so they cannot cross tenants, but a PERMISSIVE one widens what a tenant's context sees.
    RETURN QUERY
    SELECT 'warning', format('policy %I on %s', p.polname, t.name),
           'is an extra permissive policy: it widens what tenant_guard_tenant_rows grants within a tenant (tenant_guard_isolation still applies)',
           'Make it AS RESTRICTIVE, or check that what it adds is meant to be seen by every role it applies to.'
      FROM tenant_guard.schema_check_tables(tenant_column) t
      JOIN pg_policy p ON p.polrelid = t.relid AND p.polpermissive AND p.polname NOT LIKE 'tenant\_guard\_%'
     WHERE t.protected;

    -- Readers with their owner's rights.
    RETURN QUERY
    SELECT 'error',
           CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || v.oid::regclass::text,
           CASE v.relkind WHEN 'm' THEN 'copies rows of protected tables (' || string_agg(DISTINCT t.name, ', ') || '): it has no row-level security'
                ELSE 'reads protected tables (' || string_agg(DISTINCT t.name, ', ') || ') with its owner''s rights' END,
           CASE v.relkind WHEN 'm' THEN format('DROP MATERIALIZED VIEW %s;', v.oid::regclass)
                ELSE format('ALTER VIEW %s SET (security_invoker = true);', v.oid::regclass) END
      FROM pg_rewrite rw
      JOIN pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm')
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
      JOIN tenant_guard.schema_check_tables(tenant_column) t ON t.relid = d.refobjid AND (t.protected OR t.guarded)
     WHERE d.refobjid <> v.oid
       AND (v.relkind = 'm' OR NOT coalesce(v.reloptions @> '{security_invoker=true}' OR v.reloptions @> '{security_invoker=on}', false))
     GROUP BY v.oid, v.relkind;

    -- SECURITY DEFINER functions run with their owner's rights: a superuser or BYPASSRLS owner reads
    -- every tenant's rows, whatever the caller's context.
    RETURN QUERY
    SELECT CASE WHEN reads.tables IS NOT NULL THEN 'error' ELSE 'warning' END,
           'function ' || f.oid::regprocedure::text,
           CASE WHEN reads.tables IS NOT NULL
                THEN format('is SECURITY DEFINER, owned by %I which bypasses row-level security, and reads protected tables (%s)',
                            o.rolname, reads.tables)
                ELSE format('is SECURITY DEFINER and owned by %I, which bypasses row-level security', o.rolname) END,
           format('ALTER FUNCTION %s SECURITY INVOKER; or give it an owner without BYPASSRLS (ALTER FUNCTION ... OWNER TO ...).',
                  f.oid::regprocedure)
      FROM pg_proc f
      JOIN pg_namespace n ON n.oid = f.pronamespace
      JOIN pg_roles o ON o.oid = f.proowner
      CROSS JOIN LATERAL (
            SELECT string_agg(t.name, ', ' ORDER BY t.name) AS tables
              FROM tenant_guard.schema_check_tables(tenant_column) t
             WHERE t.protected AND (
                   EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = f.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = t.relid)
                   OR f.prosrc ~* ('\m' || regexp_replace((SELECT c.relname FROM pg_class c WHERE c.oid = t.relid),
                                                           '([^A-Za-z0-9_])', '\\\1', 'g') || '\M'))) reads
     WHERE f.prosecdef AND (o.rolsuper OR o.rolbypassrls)
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenant_guard')
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = f.oid AND d.deptype = 'e');

    RETURN QUERY
    SELECT CASE WHEN r.rolsuper THEN 'warning' ELSE 'error' END, 'role ' || quote_ident(r.rolname),
           CASE WHEN r.rolsuper THEN 'is a superuser that can log in: it bypasses row-level security'
                ELSE 'can log in and has BYPASSRLS: it reads every tenant''s rows' END,
           CASE WHEN r.rolsuper THEN 'Keep superusers for administration; applications connect as ordinary roles.'
                ELSE format('ALTER ROLE %I NOBYPASSRLS;', r.rolname) END
      FROM pg_roles r
     WHERE r.rolcanlogin AND (r.rolbypassrls OR r.rolsuper);

    RETURN QUERY
    SELECT 'error', 'table ' || t.name,
           format('is in the tenant-scoped schema %I but has no tenant column %I (uuid)', s.schema_name, tenant_column),
           format('ALTER TABLE %s ADD COLUMN %I uuid NOT NULL; (then fill it), or move the table out of the schema.',
                  t.name, tenant_column)
      FROM tenant_guard.schema_check_tables(tenant_column) t
      JOIN pg_class c ON c.oid = t.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN tenant_guard.tenant_schemas s ON s.schema_name = n.nspname
     WHERE t.tenant_attnum IS NULL AND NOT t.is_partition;
END
$$;
COMMENT ON FUNCTION tenant_guard.check_schema() IS
    'Finds what makes this database''s tenant isolation unsafe: one row per finding (severity error, warning or info; fix: SQL or a sentence).';

CREATE FUNCTION tenant_guard.assert_schema_secure()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    findings text;
    found integer;
BEGIN
    SELECT count(*), string_agg(format('%s: %s (fix: %s)', c.object, c.problem, c.fix), E'\n' ORDER BY c.object)
      INTO found, findings
      FROM tenant_guard.check_schema() c
     WHERE c.severity = 'error';
    IF found > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'TG001',
            MESSAGE = format('the schema is not secure: %s error-level finding(s)', found),
            DETAIL = findings,
            HINT = 'SELECT * FROM tenant_guard.check_schema() lists every finding with its fix.';
    END IF;
END
$$;
COMMENT ON FUNCTION tenant_guard.assert_schema_secure() IS
    'Raises an error (SQLSTATE TG001) listing check_schema()''s error-level findings; for CI and migrations.';
