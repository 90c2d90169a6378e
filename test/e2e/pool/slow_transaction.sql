-- pgbench script for the fault tests: the transaction holds its context for a while, so that
-- cancels and kills land in the middle of it.
SELECT token FROM pool_tokens WHERE client_id = :client_id \gset
BEGIN;
SELECT pool_check.no_context();
SELECT tenant_guard.set_tenant(:token);
SELECT pg_sleep(0.02);
INSERT INTO pool_rows (tenant_id, client_id, phase) VALUES (DEFAULT, :client_id, :phase);
SELECT pool_check.only_mine(:client_id);
COMMIT;
