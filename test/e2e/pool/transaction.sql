-- pgbench script, transaction pooling: a transaction-scoped context per transaction.
SELECT token FROM pool_tokens WHERE client_id = :client_id \gset
BEGIN;
SELECT pool_check.no_context();
SELECT tenant_guard.set_tenant(:token);
INSERT INTO pool_rows (tenant_id, client_id, phase) VALUES (DEFAULT, :client_id, :phase);
SELECT pool_check.only_mine(:client_id);
COMMIT;
SELECT pool_check.no_context();
