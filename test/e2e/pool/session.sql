-- pgbench script, session pooling (run with -C: a new client connection every time): a session
-- context, which the pool's DISCARD ALL must clear before the next client gets the connection.
SELECT token FROM pool_tokens WHERE client_id = :client_id \gset
SELECT pool_check.no_context();
SELECT tenant_guard.set_tenant(:token, false);
INSERT INTO pool_rows (tenant_id, client_id, phase) VALUES (DEFAULT, :client_id, :phase);
BEGIN;
SELECT pool_check.only_mine(:client_id);
COMMIT;
SELECT pool_check.only_mine(:client_id);
