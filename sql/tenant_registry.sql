-- The tenant registry: who is a tenant, and that a suspension or offboarding bites at once.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse

CREATE ROLE tg_registry_app;
CREATE ROLE tg_registry_operator IN ROLE tenant_guard_admin;
GRANT USAGE ON SCHEMA tenant_guard TO tg_registry_app, tg_registry_operator;

-- Only tenant_guard_admin (and superusers) manage the registry; the app role cannot write it.
SET ROLE tg_registry_app;
SELECT tenant_guard.create_tenant('intruder', 'Intruder');
INSERT INTO tenant_guard.tenants (id, slug, name) VALUES (gen_random_uuid(), 'intruder', 'Intruder');
SELECT count(*) FROM tenant_guard.tenants;
RESET ROLE;
SET ROLE tg_registry_operator;
SELECT tenant_guard.create_tenant('north', 'North District') AS north \gset
SELECT tenant_guard.create_tenant('south', 'South District', '{"plan": "large"}') AS south \gset
SELECT tenant_guard.create_tenant('north', 'Duplicate');
SELECT slug, name, status, settings FROM tenant_guard.tenants ORDER BY slug;
RESET ROLE;
-- Ids are UUIDv7: version 7, RFC variant, and later ids sort later.
SELECT substr(:'north', 15, 1) AS version, substr(:'north', 20, 1) IN ('8', '9', 'a', 'b') AS rfc_variant,
       :'north'::uuid < :'south'::uuid AS time_ordered;

CREATE TABLE registry_students (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text);
CREATE TABLE registry_grades (student int REFERENCES registry_students, tenant_id uuid NOT NULL, grade text);
GRANT SELECT, INSERT ON registry_students, registry_grades TO tg_registry_app;
INSERT INTO registry_students VALUES (1, :'north', 'Ada'), (2, :'north', 'Ben'), (3, :'south', 'Cy');
INSERT INTO registry_grades VALUES (1, :'north', 'A'), (2, :'north', 'B'), (3, :'south', 'C');

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', :'north', 'exp', extract(epoch FROM now())::bigint + 600),
                               'district-hs256') AS token_north,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', :'south', 'exp', extract(epoch FROM now())::bigint + 600),
                               'district-hs256') AS token_south,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'dddddddd-0000-4000-8000-00000000000d',
                               'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_unknown
\gset

-- Registry off (the default): any verified tenant works.
SHOW tenant_guard.registry;
SET ROLE tg_registry_app;
SELECT tenant_guard.set_tenant(:'token_unknown') IS NOT NULL AS unknown_tenant_accepted;
RESET ROLE;

ALTER SYSTEM SET tenant_guard.registry = on;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SHOW tenant_guard.registry;

\set VERBOSITY sqlstate
SET ROLE tg_registry_app;
SELECT tenant_guard.set_tenant(:'token_unknown');
\set VERBOSITY terse
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_refusal;
-- A session that holds north's context: suspending north stops its next statement, resuming
-- brings it back. Onboarding needed no DDL.
SELECT tenant_guard.set_tenant(:'token_north', false) = :'north' AS north_context;
SELECT count(*) AS north_rows FROM registry_students;
RESET ROLE;
SET ROLE tg_registry_operator;
SELECT tenant_guard.suspend_tenant(:'north', 'invoice overdue');
SELECT tenant_guard.tenant_status(:'north');
RESET ROLE;
SET ROLE tg_registry_app;
\set VERBOSITY sqlstate
SELECT count(*) FROM registry_students;
INSERT INTO registry_students (id, name) VALUES (9, 'while suspended');
SELECT tenant_guard.set_tenant(:'token_north', false);
\set VERBOSITY terse
RESET ROLE;
SELECT status, status_reason FROM tenant_guard.tenants WHERE id = :'north';
SELECT tenant_guard.resume_tenant(:'north');
SET ROLE tg_registry_app;
SELECT tenant_guard.set_tenant(:'token_north', false) = :'north' AS north_again;
SELECT count(*) AS north_rows FROM registry_students;
SELECT tenant_guard.reset_tenant();
RESET ROLE;

-- A suspension that is rolled back (here: to a savepoint) never takes effect; one that would be
-- committed by another session later (PREPARE TRANSACTION) is refused.
BEGIN;
SAVEPOINT s;
SELECT tenant_guard.suspend_tenant(:'south');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT tenant_guard.tenant_status(:'south') AS south_after_rollback;
BEGIN;
SELECT tenant_guard.suspend_tenant(:'south');
PREPARE TRANSACTION 'tg_registry_prepared';
SELECT tenant_guard.tenant_status(:'south') AS south_after_refused_prepare;

-- Offboarding deletes the tenant's rows everywhere, children before parents, and its tokens stop.
SET ROLE tg_registry_operator;
SELECT * FROM tenant_guard.offboard_tenant(:'north') WHERE table_name LIKE 'public.registry%';
RESET ROLE;
SELECT (SELECT count(*) FROM registry_students) AS students_left, (SELECT count(*) FROM registry_grades) AS grades_left,
       (SELECT status FROM tenant_guard.tenants WHERE id = :'north') AS north_status;
\set VERBOSITY sqlstate
SELECT tenant_guard.set_tenant(:'token_north');
\set VERBOSITY terse
SELECT tenant_guard.offboard_tenant('eeeeeeee-0000-4000-8000-00000000000e');
\set VERBOSITY sqlstate
SELECT tenant_guard.suspend_tenant(:'north');
\set VERBOSITY terse

-- Direct changes by a superuser are published too; TRUNCATE empties the registry.
UPDATE tenant_guard.tenants SET status = 'suspended' WHERE id = :'south';
SELECT tenant_guard.tenant_status(:'south') AS south_after_update;
UPDATE tenant_guard.tenants SET status = 'active' WHERE id = :'south';
TRUNCATE tenant_guard.tenants;
SELECT tenant_guard.tenant_status(:'south') AS south_after_truncate;

ALTER SYSTEM RESET tenant_guard.registry;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
DROP TABLE registry_grades, registry_students;
REVOKE ALL ON SCHEMA tenant_guard FROM tg_registry_app, tg_registry_operator;
DROP ROLE tg_registry_app, tg_registry_operator;
