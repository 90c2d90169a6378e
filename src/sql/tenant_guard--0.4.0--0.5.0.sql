-- tenant_guard 0.5.0: durable security events and statistics.
-- Every object is schema-qualified; the SECURITY DEFINER function pins search_path.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.5.0'" to load this file. \quit

-- Written only by each database's tenant_guard worker, which drains the shared-memory queue that
-- refusing backends push to (so an event outlives the refused transaction's rollback).
CREATE TABLE tenant_guard.security_events (
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    tenant_id uuid,
    subject text,
    role_name text,
    application_name text,
    client_addr inet,
    backend_pid integer,
    detail jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE tenant_guard.security_events IS
    'Refusals recorded by tenant_guard: failed set_tenant, attempts to set the context by hand, guard refusals, '
    'cross-tenant writes. tenant_id and subject of a refused token are what it claimed; detail->tenant_verified '
    'says whether its signature held.';
CREATE INDEX security_events_occurred_at ON tenant_guard.security_events (occurred_at);
CREATE INDEX security_events_tenant ON tenant_guard.security_events (tenant_id, occurred_at);
SELECT pg_catalog.pg_extension_config_dump('tenant_guard.security_events', '');

ALTER TABLE tenant_guard.security_events ENABLE ROW LEVEL SECURITY;
-- A tenant's administrators see their tenant's events, and only those whose tenant is verified:
-- what an unsigned or forged token claims is anybody's text, for the platform to read.
CREATE POLICY tenant_admins ON tenant_guard.security_events FOR SELECT TO PUBLIC
    USING (tenant_id OPERATOR(pg_catalog.=) tenant_guard.current_tenant()
           AND (detail OPERATOR(pg_catalog.->>) 'tenant_verified') OPERATOR(pg_catalog.=) 'true'
           AND (SELECT tenant_guard.is_tenant_admin()));
CREATE POLICY platform_admins ON tenant_guard.security_events FOR SELECT TO tenant_guard_admin USING (true);
REVOKE ALL ON tenant_guard.security_events FROM PUBLIC;
GRANT SELECT ON tenant_guard.security_events TO PUBLIC;

CREATE FUNCTION tenant_guard.prune_security_events() RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'tg_prune_security_events';
COMMENT ON FUNCTION tenant_guard.prune_security_events() IS
    'Deletes security events older than tenant_guard.security_events_retention (the worker does this every 10 minutes).';
REVOKE ALL ON FUNCTION tenant_guard.prune_security_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.prune_security_events() TO tenant_guard_admin;

-- Statistics (shared memory; cluster-wide counters, this database's tenants).
CREATE FUNCTION tenant_guard.stats_counters(OUT counter text, OUT value bigint) RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'tg_stats';
CREATE VIEW tenant_guard.stats AS SELECT counter, value FROM tenant_guard.stats_counters();
COMMENT ON VIEW tenant_guard.stats IS
    'tenant_guard counters since server start or stats_reset(): context sets, refusals by kind and reason, '
    'security events queued, recorded, dropped, token cache hits and misses, tenant statistics overflow.';

CREATE FUNCTION tenant_guard.stats_reset() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'tg_stats_reset';
COMMENT ON FUNCTION tenant_guard.stats_reset() IS
    'Zeroes tenant_guard.stats and forgets this database''s tenant_guard.tenant_stats.';

CREATE FUNCTION tenant_guard.tenant_statistics(
    OUT tenant_id uuid, OUT context_sets bigint, OUT refusals bigint, OUT transactions bigint, OUT rows_read bigint,
    OUT rows_inserted bigint, OUT rows_updated bigint, OUT rows_deleted bigint, OUT exec_time_ms double precision,
    OUT last_seen timestamptz) RETURNS SETOF record
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'tg_tenant_stats';
CREATE VIEW tenant_guard.tenant_stats AS
    SELECT tenant_id, context_sets, refusals, transactions, rows_read, rows_inserted, rows_updated, rows_deleted,
           exec_time_ms, last_seen
      FROM tenant_guard.tenant_statistics();
COMMENT ON VIEW tenant_guard.tenant_stats IS
    'Per-tenant activity of this database since server start or stats_reset(), every tenant '
    '(up to tenant_guard.tenant_stats_size; more are counted in stats.tenant_stats_overflow).';

REVOKE ALL ON FUNCTION tenant_guard.stats_counters(), tenant_guard.stats_reset(), tenant_guard.tenant_statistics()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.stats_counters(), tenant_guard.stats_reset(), tenant_guard.tenant_statistics()
    TO tenant_guard_admin;
REVOKE ALL ON tenant_guard.stats, tenant_guard.tenant_stats FROM PUBLIC;
GRANT SELECT ON tenant_guard.stats, tenant_guard.tenant_stats TO tenant_guard_admin;
