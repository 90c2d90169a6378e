-- tenant_guard.distributed_context, the worker side of running on Citus, on one node: a Citus
-- coordinator sends SET LOCAL tenant_guard.distributed_context = '<tenant> <token>' with each
-- distributed transaction, and the node accepts it only if the token proves that tenant to it.
SET client_min_messages = warning;  -- standalone or after other tests: the same output
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse
SELECT 'aaaaaaaa-0000-4000-8000-000000000001 ' || tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001', 'sub', 'teacher-a',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS context_a,
       'bbbbbbbb-0000-4000-8000-000000000002 ' || tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS a_token_as_b,
       'aaaaaaaa-0000-4000-8000-000000000001 ' || tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint - 600), 'district-hs256') AS expired_a
\gset
SELECT regexp_replace(:'context_a', '.$', CASE WHEN right(:'context_a', 1) = 'A' THEN 'B' ELSE 'A' END) AS forged_a \gset

CREATE ROLE tg_dist_app;
SET tenant_guard.auto_index = off;
CREATE TABLE dist_rows (tenant_id uuid NOT NULL, label text);
RESET tenant_guard.auto_index;
INSERT INTO dist_rows VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'a'), ('bbbbbbbb-0000-4000-8000-000000000002', 'b');
GRANT SELECT ON dist_rows TO tg_dist_app;
SET ROLE tg_dist_app;

-- A token for the tenant it names: a context for this transaction, with the token's claims.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'context_a';
SELECT label FROM dist_rows;
SELECT tenant_guard.current_tenant(), tenant_guard.current_subject();
-- SHOW and current_setting() print the tenant, never the token.
SHOW tenant_guard.distributed_context;
SELECT current_setting('tenant_guard.distributed_context');
COMMIT;
SELECT label FROM dist_rows;
SELECT tenant_guard.current_tenant();

-- However it is set, it lasts one transaction.
SET tenant_guard.distributed_context = :'context_a';
SELECT tenant_guard.current_tenant();
BEGIN;
SELECT set_config('tenant_guard.distributed_context', :'context_a', false) IS NOT NULL AS set;
SELECT label FROM dist_rows;
COMMIT;
SELECT label FROM dist_rows;

-- A rolled-back savepoint takes it away.
BEGIN;
SAVEPOINT s;
SET LOCAL tenant_guard.distributed_context = :'context_a';
ROLLBACK TO SAVEPOINT s;
SELECT label FROM dist_rows;
COMMIT;

-- Refused: A's token offered as B's context, a forged signature, an expired token, alg none,
-- a tenant without token, garbage. Each error names no token.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'a_token_as_b';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'forged_a';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'expired_a';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = 'aaaaaaaa-0000-4000-8000-000000000001 eyJhbGciOiJub25lIn0.eyJ0ZW5hbnRfaWQiOiJhYWFhYWFhYS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEifQ.';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = 'aaaaaaaa-0000-4000-8000-000000000001';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = 'not a tenant and a token';
ROLLBACK;
SELECT label FROM dist_rows;

-- set_tenant() on a node without Citus sets nothing here.
BEGIN;
SELECT tenant_guard.set_tenant(split_part(:'context_a', ' ', 2), true) IS NOT NULL AS set;
SHOW tenant_guard.distributed_context;
COMMIT;

RESET ROLE;
-- Stored settings are refused.
ALTER ROLE tg_dist_app SET tenant_guard.distributed_context = 'aaaaaaaa-0000-4000-8000-000000000001 x.y.z';
-- With replay protection on, a token cannot be accepted again this way.
SET tenant_guard.require_jti = on;
SET ROLE tg_dist_app;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'context_a';
ROLLBACK;
RESET ROLE;
RESET tenant_guard.require_jti;
-- Not listed with the other settings.
SELECT count(*) FROM pg_settings WHERE name = 'tenant_guard.distributed_context';

DROP TABLE dist_rows;
DROP ROLE tg_dist_app;
