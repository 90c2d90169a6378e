-- tenant_guard.distributed_context, the worker side of running on Citus, on one node: a Citus
-- coordinator sends SET LOCAL tenant_guard.distributed_context = '<tenant> <assertion>' with each
-- distributed transaction, and the node accepts it only if the assertion, signed with the cluster
-- key (tenant_guard.cluster_key), verifies and names that tenant.
SET client_min_messages = warning;  -- standalone or after other tests: the same output
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse
-- The key the nodes sign their assertions with: here one of the test keys (a superuser setting).
SET tenant_guard.cluster_key = 'district-hs512';
CREATE FUNCTION pg_temp.assertion(tenant text, lifetime int, kid text DEFAULT 'district-hs512', issued_ago int DEFAULT 0)
RETURNS text LANGUAGE sql AS $$
  SELECT tenant || ' ' || tenant_guard.sign_token(jsonb_build_object(
           'tg', 'context', 'tenant', tenant, 'sub', 'teacher-a',
           'claims', jsonb_build_object('tenant_id', tenant, 'sub', 'teacher-a', 'roles', 'teacher'),
           'iat', extract(epoch FROM now())::bigint - issued_ago,
           'exp', extract(epoch FROM now())::bigint - issued_ago + lifetime), kid)
$$;
SELECT pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 60) AS context_a,
       'bbbbbbbb-0000-4000-8000-000000000002 ' || split_part(pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 60), ' ', 2) AS a_as_b,
       pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 100, issued_ago => 700) AS expired_a,
       pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 2) AS short_a,
       pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 60, 'district-hs256') AS app_key_a,
       pg_temp.assertion('aaaaaaaa-0000-4000-8000-000000000001', 86400) AS long_lived_a,
       'aaaaaaaa-0000-4000-8000-000000000001 ' || tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001', 'exp', extract(epoch FROM now())::bigint + 600),
         'district-hs256') AS app_token_a,
       tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001', 'exp', extract(epoch FROM now())::bigint + 600),
         'district-hs512') AS token_with_cluster_key
\gset
-- One character of the signature changed (not the last: its spare bits would make it malformed).
SELECT overlay(:'context_a' PLACING CASE WHEN substr(:'context_a', length(:'context_a') - 10, 1) = 'A' THEN 'B' ELSE 'A' END
               FROM length(:'context_a') - 10 FOR 1) AS forged_a \gset

CREATE ROLE tg_dist_app;
SET tenant_guard.auto_index = off;
CREATE TABLE dist_rows (tenant_id uuid NOT NULL, label text);
RESET tenant_guard.auto_index;
INSERT INTO dist_rows VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'a'), ('bbbbbbbb-0000-4000-8000-000000000002', 'b');
GRANT SELECT ON dist_rows TO tg_dist_app;
SET ROLE tg_dist_app;

-- An assertion for the tenant it names: a context for this transaction, with the claims it carries.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'context_a';
SELECT label FROM dist_rows;
SELECT tenant_guard.current_tenant(), tenant_guard.current_subject();
SELECT tenant_guard.current_claims()->>'roles' AS roles;
-- SHOW and current_setting() print the tenant, never the assertion.
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

-- It holds only until the assertion's exp, whenever it was set: here one that lives 2 seconds.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'short_a';
SELECT label FROM dist_rows;
SELECT pg_sleep(3.5);
SELECT label FROM dist_rows;
SELECT tenant_guard.current_tenant();
COMMIT;

-- A received context is the coordinator's: switch_tenant() cannot build on it.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'context_a';
SELECT tenant_guard.switch_tenant('aaaaaaaa-0000-4000-8000-000000000001');
ROLLBACK;

-- A rolled-back savepoint takes it away.
BEGIN;
SAVEPOINT s;
SET LOCAL tenant_guard.distributed_context = :'context_a';
ROLLBACK TO SAVEPOINT s;
SELECT label FROM dist_rows;
COMMIT;

-- Refused: A's assertion offered as B's context, a forged signature, a long-lived assertion, one
-- signed with an application key, an application's token, alg none, a tenant alone, garbage. Each
-- error names no token. An expired one is taken (Citus replays superseded SETs) but gives nothing.
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'a_as_b';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'forged_a';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'expired_a';
SELECT label FROM dist_rows;
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'long_lived_a';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'app_key_a';
ROLLBACK;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'app_token_a';
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

-- set_tenant() refuses whatever the cluster key signed: an assertion, or a token made with it.
SELECT tenant_guard.set_tenant(split_part(:'context_a', ' ', 2), true);
SELECT tenant_guard.set_tenant(:'token_with_cluster_key', true);
-- set_tenant() on a node without Citus sets nothing here.
BEGIN;
SELECT tenant_guard.set_tenant(split_part(:'app_token_a', ' ', 2), true) IS NOT NULL AS set;
SHOW tenant_guard.distributed_context;
COMMIT;

RESET ROLE;
-- Stored settings are refused.
ALTER ROLE tg_dist_app SET tenant_guard.distributed_context = 'aaaaaaaa-0000-4000-8000-000000000001 x.y.z';
-- Without a cluster key nothing is accepted.
RESET tenant_guard.cluster_key;
SET ROLE tg_dist_app;
BEGIN;
SET LOCAL tenant_guard.distributed_context = :'context_a';
ROLLBACK;
RESET ROLE;
-- Not listed with the other settings.
SELECT count(*) FROM pg_settings WHERE name = 'tenant_guard.distributed_context';

DROP TABLE dist_rows;
DROP ROLE tg_dist_app;
