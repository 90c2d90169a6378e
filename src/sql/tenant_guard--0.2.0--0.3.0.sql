-- tenant_guard 0.3.0: the tamper-evident audit ledger.
-- Every object is schema-qualified. The ledger tables are append-only: the extension's executor,
-- utility and object-access hooks refuse UPDATE, DELETE, TRUNCATE, ALTER and DROP of them for
-- every role, superusers included; only DROP EXTENSION removes them. Entries are written by the
-- C trigger tenant_guard.audit_trigger(), blocks by the sealer (background worker or seal_audit()).

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.3.0'" to load this file. \quit

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tenant_guard_auditor') THEN
        CREATE ROLE tenant_guard_auditor NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE tenant_guard_auditor IS 'Reads every tenant''s audit ledger (tenant_guard)';

-- Order of entries within a transaction; gaps are normal (cached values, rolled-back writes).
CREATE SEQUENCE tenant_guard.audit_entry_seq AS bigint CACHE 64;

-- One row per audited change. tenant_id is the changed row's tenant (the nil uuid for entries about
-- the ledger itself: audit_table, unaudit_table, TRUNCATE, prune). entry_hash is SHA-256 over the
-- canonical encoding documented in the README.
CREATE TABLE tenant_guard.audit_log (
    tenant_id uuid NOT NULL,
    entry_seq bigint NOT NULL,
    xact_id pg_catalog.xid8 NOT NULL,
    logged_at timestamptz NOT NULL,
    subject text,
    role_name text,
    action text NOT NULL,
    entity_type text,
    entity_id text,
    changed_columns text[],
    old_values jsonb,
    new_values jsonb,
    entry_hash bytea NOT NULL
);
COMMENT ON TABLE tenant_guard.audit_log IS
  'Audit ledger entries, append-only, gathered per tenant into hash-chained blocks (audit_blocks)';
-- The one index: each tenant's trail in order. The sealer walks it tenant by tenant (one index
-- descent per tenant per pass), which costs less than a second index on every write.
CREATE INDEX audit_log_tenant_xact ON tenant_guard.audit_log (tenant_id, xact_id, entry_seq);

-- A block holds the tenant's entries with xact_lo <= xact_id < xact_hi, ordered by (xact_id,
-- entry_seq); merkle_root is over their entry hashes, block_hash over the block's canonical encoding
-- including prev_hash, the tenant's previous block hash.
CREATE TABLE tenant_guard.audit_blocks (
    tenant_id uuid NOT NULL,
    block_no bigint NOT NULL,
    xact_lo pg_catalog.xid8 NOT NULL,
    xact_hi pg_catalog.xid8 NOT NULL,
    entry_count bigint NOT NULL,
    merkle_root bytea NOT NULL,
    prev_hash bytea,
    block_hash bytea NOT NULL,
    sealed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, block_no)
);
COMMENT ON TABLE tenant_guard.audit_blocks IS 'Sealed blocks of the audit ledger, one hash chain per tenant';

-- Blocks removed by prune_audit(): their headers stay, so the chain still verifies from the start.
CREATE TABLE tenant_guard.audit_pruned_blocks (
    LIKE tenant_guard.audit_blocks,
    pruned_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, block_no)
);
COMMENT ON TABLE tenant_guard.audit_pruned_blocks IS
  'Headers of audit blocks whose entries prune_audit() removed: anchors for verification';

-- Every entry with xact_id below sealed_below is in a block (or pruned): the sealer's horizon.
CREATE TABLE tenant_guard.audit_seal_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sealed_below pg_catalog.xid8 NOT NULL,
    sealed_at timestamptz
);
INSERT INTO tenant_guard.audit_seal_state (sealed_below) VALUES ('1'::pg_catalog.xid8);
COMMENT ON TABLE tenant_guard.audit_seal_state IS 'The audit sealer''s horizon: entries below it are sealed';

-- Is the current context's token a tenant administrator? (claim tenant_guard.admin_claim holds
-- tenant_admin.) Used once per query by the ledger's policies, as an initplan.
CREATE FUNCTION tenant_guard.is_tenant_admin()
RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'tg_is_tenant_admin';
COMMENT ON FUNCTION tenant_guard.is_tenant_admin() IS
  'True when the current context''s token lists tenant_admin in the claim named by tenant_guard.admin_claim';

-- Who reads the ledger: tenant administrators their own tenant, tenant_guard_auditor everything.
-- The ledger's own entries (nil tenant) are for auditors only, whatever tenant a token claims.
-- Nobody writes it through SQL (no INSERT/UPDATE/DELETE privilege, and the hooks refuse anyway).
ALTER TABLE tenant_guard.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_guard.audit_blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_guard.audit_pruned_blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_admins ON tenant_guard.audit_log FOR SELECT TO PUBLIC
    USING (tenant_id OPERATOR(pg_catalog.=) tenant_guard.current_tenant() AND (SELECT tenant_guard.is_tenant_admin())
           AND tenant_id OPERATOR(pg_catalog.<>) '00000000-0000-0000-0000-000000000000'::uuid);
CREATE POLICY auditors ON tenant_guard.audit_log FOR SELECT TO tenant_guard_auditor USING (true);
CREATE POLICY tenant_admins ON tenant_guard.audit_blocks FOR SELECT TO PUBLIC
    USING (tenant_id OPERATOR(pg_catalog.=) tenant_guard.current_tenant() AND (SELECT tenant_guard.is_tenant_admin())
           AND tenant_id OPERATOR(pg_catalog.<>) '00000000-0000-0000-0000-000000000000'::uuid);
CREATE POLICY auditors ON tenant_guard.audit_blocks FOR SELECT TO tenant_guard_auditor USING (true);
CREATE POLICY tenant_admins ON tenant_guard.audit_pruned_blocks FOR SELECT TO PUBLIC
    USING (tenant_id OPERATOR(pg_catalog.=) tenant_guard.current_tenant() AND (SELECT tenant_guard.is_tenant_admin())
           AND tenant_id OPERATOR(pg_catalog.<>) '00000000-0000-0000-0000-000000000000'::uuid);
CREATE POLICY auditors ON tenant_guard.audit_pruned_blocks FOR SELECT TO tenant_guard_auditor USING (true);
REVOKE ALL ON tenant_guard.audit_log, tenant_guard.audit_blocks, tenant_guard.audit_pruned_blocks,
              tenant_guard.audit_seal_state, tenant_guard.audit_entry_seq FROM PUBLIC;
GRANT SELECT ON tenant_guard.audit_log, tenant_guard.audit_blocks, tenant_guard.audit_pruned_blocks,
                tenant_guard.audit_seal_state TO PUBLIC;

CREATE FUNCTION tenant_guard.audit_trigger()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'tg_audit_trigger';
COMMENT ON FUNCTION tenant_guard.audit_trigger() IS
  'Row trigger of audited tables: writes the change to tenant_guard.audit_log (arguments: excluded columns)';

-- Runs as the caller, who must own the table.
CREATE FUNCTION tenant_guard.audit_table(tbl regclass, exclude_columns text[] DEFAULT '{}')
RETURNS void
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_audit_table';
COMMENT ON FUNCTION tenant_guard.audit_table(regclass, text[]) IS
  'Record every INSERT, UPDATE and DELETE of a protected table in the audit ledger; excluded columns are never stored';

CREATE FUNCTION tenant_guard.unaudit_table(tbl regclass)
RETURNS void
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_unaudit_table';
COMMENT ON FUNCTION tenant_guard.unaudit_table(regclass) IS
  'Superuser only: stop auditing a table (recorded in the ledger)';
REVOKE ALL ON FUNCTION tenant_guard.unaudit_table(regclass) FROM PUBLIC;

CREATE FUNCTION tenant_guard.seal_audit()
RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_seal_audit';
COMMENT ON FUNCTION tenant_guard.seal_audit() IS
  'Seal the finished open audit entries into blocks now; returns the number of blocks written';
REVOKE ALL ON FUNCTION tenant_guard.seal_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.seal_audit() TO tenant_guard_auditor;

CREATE FUNCTION tenant_guard.verify_audit(tenant uuid DEFAULT NULL)
RETURNS TABLE(tenant_id uuid, problem text, detail text)
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_verify_audit';
COMMENT ON FUNCTION tenant_guard.verify_audit(uuid) IS
  'Recompute every entry hash, Merkle root and block hash of the ledger (one tenant or all); one row per problem';

-- The newest block of every chain the caller may read (row-level security applies), to be kept
-- outside the database: a later verify_audit(tenant, digest) proves the chains still extend it.
CREATE FUNCTION tenant_guard.audit_digest()
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_build_object(
        'format', 'tenant_guard.audit_digest.v1',
        'database', pg_catalog.current_database(),
        'generated_at', pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'sealed_below', (SELECT s.sealed_below::text FROM tenant_guard.audit_seal_state s),
        'chains', COALESCE((
            SELECT pg_catalog.jsonb_object_agg(newest.tenant_id::text,
                       pg_catalog.jsonb_build_object('block_no', newest.block_no,
                                                     'block_hash', pg_catalog.encode(newest.block_hash, 'hex')))
              FROM (SELECT DISTINCT ON (b.tenant_id) b.tenant_id, b.block_no, b.block_hash
                      FROM (SELECT tenant_id, block_no, block_hash FROM tenant_guard.audit_blocks
                            UNION ALL
                            SELECT tenant_id, block_no, block_hash FROM tenant_guard.audit_pruned_blocks) b
                     ORDER BY b.tenant_id, b.block_no DESC) newest), '{}'::jsonb));
END;
COMMENT ON FUNCTION tenant_guard.audit_digest() IS
  'The newest block hash of every tenant chain, to be kept outside the database';

CREATE FUNCTION tenant_guard.verify_audit(tenant uuid, digest jsonb)
RETURNS TABLE(tenant_id uuid, problem text, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF digest IS NULL OR pg_catalog.jsonb_typeof(digest OPERATOR(pg_catalog.->) 'chains') IS DISTINCT FROM 'object'
       OR digest OPERATOR(pg_catalog.->>) 'format' IS DISTINCT FROM 'tenant_guard.audit_digest.v1' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'not a tenant_guard audit digest',
            HINT = 'Pass the jsonb returned by tenant_guard.audit_digest().';
    END IF;
    RETURN QUERY SELECT v.tenant_id, v.problem, v.detail FROM tenant_guard.verify_audit(verify_audit.tenant) v;
    RETURN QUERY
    SELECT d.key::uuid,
           CASE WHEN b.block_hash IS NULL THEN 'digest_block_missing' ELSE 'digest_mismatch' END,
           pg_catalog.format('block %s of the digest %s', d.value OPERATOR(pg_catalog.->>) 'block_no',
                             CASE WHEN b.block_hash IS NULL THEN 'is no longer in the ledger'
                                  ELSE 'has a different hash in the ledger: history was rewritten' END)
      FROM pg_catalog.jsonb_each(digest OPERATOR(pg_catalog.->) 'chains') d
      LEFT JOIN (SELECT x.tenant_id, x.block_no, x.block_hash FROM tenant_guard.audit_blocks x
                 UNION ALL
                 SELECT y.tenant_id, y.block_no, y.block_hash FROM tenant_guard.audit_pruned_blocks y) b
        ON b.tenant_id OPERATOR(pg_catalog.=) d.key::uuid
       AND b.block_no OPERATOR(pg_catalog.=) (d.value OPERATOR(pg_catalog.->>) 'block_no')::bigint
     WHERE (verify_audit.tenant IS NULL OR d.key::uuid OPERATOR(pg_catalog.=) verify_audit.tenant)
       AND b.block_hash IS DISTINCT FROM pg_catalog.decode(d.value OPERATOR(pg_catalog.->>) 'block_hash', 'hex');
END
$$;
COMMENT ON FUNCTION tenant_guard.verify_audit(uuid, jsonb) IS
  'verify_audit(), and prove that each chain still extends the blocks named by a digest from audit_digest()';

CREATE FUNCTION tenant_guard.prune_audit(before timestamptz)
RETURNS bigint
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_prune_audit';
COMMENT ON FUNCTION tenant_guard.prune_audit(timestamptz) IS
  'Superuser only: remove whole blocks sealed before a time and their entries, keeping the block headers';
REVOKE ALL ON FUNCTION tenant_guard.prune_audit(timestamptz) FROM PUBLIC;

-- Audited tables and the columns they never store.
CREATE VIEW tenant_guard.audited_tables AS
SELECT t.tgrelid::pg_catalog.regclass AS table_name,
       CASE WHEN t.tgnargs OPERATOR(pg_catalog.=) 0 THEN '{}'::text[]
            ELSE pg_catalog.string_to_array(
                     pg_catalog.regexp_replace(pg_catalog.encode(t.tgargs, 'escape'), '\\000$', ''), '\000')
       END AS excluded_columns,
       t.tgenabled OPERATOR(pg_catalog.=) 'A' AS enabled_always
  FROM pg_catalog.pg_trigger t
 WHERE t.tgname OPERATOR(pg_catalog.=) 'tenant_guard_audit' AND NOT t.tgisinternal;
COMMENT ON VIEW tenant_guard.audited_tables IS 'Tables whose changes go to the audit ledger, and their excluded columns';
GRANT SELECT ON tenant_guard.audited_tables TO PUBLIC;

-- The ledger's own tables carry a tenant column but are not tenant tables: the view leaves
-- tenant_guard's schema out.
CREATE OR REPLACE VIEW tenant_guard.protected_tables AS
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
   AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema,tenant_guard}'::pg_catalog.name[])
   AND (a.attnum IS NOT NULL
        OR pol.policies OPERATOR(pg_catalog.&&) '{tenant_guard_isolation,tenant_guard_tenant_rows}'::pg_catalog.name[]);
COMMENT ON VIEW tenant_guard.protected_tables IS
  'Tables with tenant_guard policies or a tenant column: policies, forced row-level security, tenant-led index';
GRANT SELECT ON tenant_guard.protected_tables TO PUBLIC;
