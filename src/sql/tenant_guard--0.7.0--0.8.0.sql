-- tenant_guard 0.8.0: moving districts in and out (import, reconcile, export) and their progress.

\echo Use "ALTER EXTENSION tenant_guard UPDATE TO '0.8.0'" to load this file. \quit

CREATE FUNCTION tenant_guard.import_tenant(source text, tenant uuid, replace boolean DEFAULT false)
RETURNS TABLE(table_name text, source_rows bigint, imported_rows bigint, reconciled boolean)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'tg_import_tenant';
COMMENT ON FUNCTION tenant_guard.import_tenant(text, uuid, boolean) IS
    'Copies a district''s own database (libpq connection string) into its tenant''s rows here, in one '
    'transaction, parents first, and checks every table against the source; superuser or tenant_guard_admin';

CREATE FUNCTION tenant_guard.reconcile_tenant(source text, tenant uuid)
RETURNS TABLE(table_name text, source_rows bigint, target_rows bigint, source_checksum text,
              target_checksum text, matches boolean)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'tg_reconcile_tenant';
COMMENT ON FUNCTION tenant_guard.reconcile_tenant(text, uuid) IS
    'Compares a district''s own database with its tenant''s rows here, table by table (row count and an '
    'order-independent checksum of the row values); superuser or tenant_guard_admin';

CREATE FUNCTION tenant_guard.export_tenant(tenant uuid, target text)
RETURNS TABLE(table_name text, source_rows bigint, exported_rows bigint, reconciled boolean)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'tg_export_tenant';
COMMENT ON FUNCTION tenant_guard.export_tenant(uuid, text) IS
    'Copies one tenant''s rows into a dedicated database (libpq connection string) whose tables are empty, '
    'and checks every table; the rows here are kept; superuser or tenant_guard_admin';

CREATE FUNCTION tenant_guard.transfer_progress_rows()
RETURNS TABLE(pid integer, database_name text, user_name text, operation text, tenant_id uuid,
              table_name text, phase text, tables_done integer, tables_total integer, rows_done bigint,
              rows_total bigint, started_at timestamptz)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'tg_transfer_progress';

CREATE VIEW tenant_guard.transfer_progress AS
    SELECT * FROM tenant_guard.transfer_progress_rows();
COMMENT ON VIEW tenant_guard.transfer_progress IS
    'Imports, exports and reconciliations running now: table, phase, rows done and rows total (the source''s '
    'estimate)';

REVOKE ALL ON FUNCTION tenant_guard.import_tenant(text, uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_guard.reconcile_tenant(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_guard.export_tenant(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tenant_guard.transfer_progress_rows() FROM PUBLIC;
REVOKE ALL ON tenant_guard.transfer_progress FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_guard.import_tenant(text, uuid, boolean) TO tenant_guard_admin;
GRANT EXECUTE ON FUNCTION tenant_guard.reconcile_tenant(text, uuid) TO tenant_guard_admin;
GRANT EXECUTE ON FUNCTION tenant_guard.export_tenant(uuid, text) TO tenant_guard_admin;
GRANT EXECUTE ON FUNCTION tenant_guard.transfer_progress_rows() TO tenant_guard_admin;
GRANT SELECT ON tenant_guard.transfer_progress TO tenant_guard_admin;
