-- Tokens that may act for several tenants (the tenants claim): choosing one, switching among them.
SET client_min_messages = warning;  -- standalone or after other tests: the same output
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse
SELECT tenant_guard.sign_token(jsonb_build_object(
         'tenants', jsonb_build_array('aaaaaaaa-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000002'),
         'sub', 'district-admin', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS two_districts,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'tenants', jsonb_build_array('cccccccc-0000-4000-8000-000000000003'),
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS home_and_one_more
\gset

CREATE ROLE tg_multi_app;
SET tenant_guard.auto_index = off;
CREATE TABLE multi_rows (tenant_id uuid NOT NULL, label text);
RESET tenant_guard.auto_index;
INSERT INTO multi_rows VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'a'), ('bbbbbbbb-0000-4000-8000-000000000002', 'b'),
                              ('cccccccc-0000-4000-8000-000000000003', 'c');
GRANT SELECT ON multi_rows TO tg_multi_app;
SET ROLE tg_multi_app;

-- Several tenants and none named: refused (and no context afterwards).
BEGIN;
SELECT tenant_guard.set_tenant(:'two_districts');
ROLLBACK;
BEGIN;
SELECT tenant_guard.set_tenant(:'two_districts', true, 'bbbbbbbb-0000-4000-8000-000000000002');
SELECT label FROM multi_rows;
SELECT tenant_guard.allowed_tenants();
-- Switching among the token's tenants needs no new token ...
SELECT tenant_guard.switch_tenant('aaaaaaaa-0000-4000-8000-000000000001');
SELECT label FROM multi_rows;
SELECT tenant_guard.current_subject();
-- ... but a tenant the token does not list is refused, and the context is gone.
SELECT tenant_guard.switch_tenant('cccccccc-0000-4000-8000-000000000003');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT tenant_guard.set_tenant(:'two_districts', true, 'bbbbbbbb-0000-4000-8000-000000000002') IS NOT NULL AS set_b;
SELECT tenant_guard.switch_tenant('dddddddd-0000-4000-8000-000000000004');
ROLLBACK TO SAVEPOINT s;
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_refused_switch, count(*) AS visible FROM multi_rows;
COMMIT;

-- The tenant claim is the default; the tenants claim adds others.
BEGIN;
SELECT tenant_guard.set_tenant(:'home_and_one_more');
SELECT tenant_guard.allowed_tenants();
SELECT tenant_guard.set_tenant(:'home_and_one_more', true, 'cccccccc-0000-4000-8000-000000000003');
SELECT label FROM multi_rows;
SELECT tenant_guard.set_tenant(:'home_and_one_more', true, 'bbbbbbbb-0000-4000-8000-000000000002');
ROLLBACK;

-- A switch keeps the scope: a transaction-scoped context still ends with the transaction.
BEGIN;
SELECT tenant_guard.set_tenant(:'two_districts', true, 'aaaaaaaa-0000-4000-8000-000000000001') IS NOT NULL;
SELECT tenant_guard.switch_tenant('bbbbbbbb-0000-4000-8000-000000000002');
COMMIT;
SELECT tenant_guard.current_tenant() IS NULL AS gone_after_commit, tenant_guard.allowed_tenants() IS NULL AS no_list;
SELECT tenant_guard.switch_tenant('bbbbbbbb-0000-4000-8000-000000000002');
RESET ROLE;
-- A switch cannot make a session context once session contexts are disabled.
SELECT tenant_guard.set_tenant(:'two_districts', false, 'aaaaaaaa-0000-4000-8000-000000000001') IS NOT NULL AS session_a;
SET tenant_guard.allow_session_context = off;
SELECT tenant_guard.switch_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_refusal;
RESET tenant_guard.allow_session_context;
DROP TABLE multi_rows;
DROP ROLE tg_multi_app;
