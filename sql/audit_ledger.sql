-- The audit ledger: what is captured, who sees it, what nobody can change, and that it verifies.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse

CREATE ROLE tg_ledger_owner;
CREATE ROLE tg_ledger_app;
CREATE ROLE tg_ledger_reader IN ROLE tenant_guard_auditor;
GRANT CREATE ON SCHEMA public TO tg_ledger_owner;
GRANT USAGE ON SCHEMA tenant_guard TO tg_ledger_app, tg_ledger_reader;

SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-00000000000a', 'sub', 'teacher-a',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS teacher_a,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-00000000000a', 'sub', 'admin-a',
         'roles', jsonb_build_array('teacher', 'tenant_admin'),
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS admin_a,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'bbbbbbbb-0000-4000-8000-00000000000b', 'sub', 'admin-b',
         'roles', 'tenant_admin', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS admin_b
\gset

SET ROLE tg_ledger_owner;
CREATE TABLE ledger_students (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text, ssn text, born date,
                              seen timestamptz, score float8, tags text[], span interval, photo bytea);
CREATE TABLE ledger_unprotected (id int);
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger_students TO tg_ledger_app;
-- Only the owner may audit a table, only a protected one, and never without its tenant column.
SELECT tenant_guard.audit_table('ledger_unprotected');
SELECT tenant_guard.audit_table('ledger_students', '{no_such_column}');
SELECT tenant_guard.audit_table('ledger_students', '{tenant_id}');
SELECT tenant_guard.audit_table('ledger_students', '{ssn}');
RESET ROLE;
SET ROLE tg_ledger_app;
SELECT tenant_guard.audit_table('ledger_students');
RESET ROLE;
SELECT table_name, excluded_columns, enabled_always FROM tenant_guard.audited_tables;

-- Changes are written in the writing transaction: committed ones stay, rolled-back ones leave nothing.
SET ROLE tg_ledger_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'teacher_a') IS NOT NULL AS context_set;
INSERT INTO ledger_students (id, name, ssn, born, seen, score, tags, span, photo)
VALUES (1, 'Ada', '123-45-6789', '2012-03-04', '2026-11-26 09:30:00+01', 0.1, '{math,art}', '1 day 02:00', '\xdead'),
       (2, 'Ben', '987-65-4321', '2013-05-06', NULL, 1e300, '{}', NULL, NULL);
UPDATE ledger_students SET name = 'Ada L.', ssn = '111-11-1111' WHERE id = 1;
UPDATE ledger_students SET ssn = '222-22-2222' WHERE id = 2;
DELETE FROM ledger_students WHERE id = 2;
SAVEPOINT before_mistake;
INSERT INTO ledger_students (id, name) VALUES (3, 'rolled back to savepoint');
ROLLBACK TO SAVEPOINT before_mistake;
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant(:'teacher_a') IS NOT NULL AS context_set;
INSERT INTO ledger_students (id, name) VALUES (4, 'rolled back');
ROLLBACK;
BEGIN;
SELECT tenant_guard.set_tenant(:'admin_b') IS NOT NULL AS context_set;
INSERT INTO ledger_students (id, name) VALUES (10, 'Bea');
COMMIT;
RESET ROLE;

SELECT tenant_id, action, entity_type, entity_id, changed_columns, old_values, new_values, subject, role_name
  FROM tenant_guard.audit_log WHERE entity_type = 'public.ledger_students' ORDER BY entry_seq;
-- The excluded column is in no stored value: not its key, not its data.
SELECT count(*) AS entries_mentioning_ssn FROM tenant_guard.audit_log l
 WHERE l.old_values ? 'ssn' OR l.new_values ? 'ssn' OR l::text LIKE '%-45-%' OR l::text LIKE '%-22-%';
SELECT count(*) AS rolled_back_entries FROM tenant_guard.audit_log WHERE new_values->>'name' LIKE 'rolled back%';
-- Every entry carries its transaction and a 32-byte hash.
SELECT count(DISTINCT xact_id) AS transactions, bool_and(length(entry_hash) = 32) AS hashed
  FROM tenant_guard.audit_log WHERE entity_type = 'public.ledger_students';

-- Who sees the trail: a tenant's administrators their tenant only, auditors everything, others nothing.
SET ROLE tg_ledger_app;
SELECT count(*) AS app_without_context FROM tenant_guard.audit_log;
BEGIN;
SELECT tenant_guard.set_tenant(:'teacher_a') IS NOT NULL AS context_set;
SELECT tenant_guard.is_tenant_admin() AS teacher_is_admin, count(*) AS teacher_sees FROM tenant_guard.audit_log;
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant(:'admin_a') IS NOT NULL AS context_set;
SELECT tenant_guard.is_tenant_admin() AS admin_is_admin, count(*) AS admin_a_sees,
       count(*) FILTER (WHERE tenant_id <> tenant_guard.current_tenant()) AS other_tenants
  FROM tenant_guard.audit_log;
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant(:'admin_b') IS NOT NULL AS context_set;
SELECT count(*) AS admin_b_sees, min(new_values->>'name') AS name FROM tenant_guard.audit_log;
COMMIT;
-- ... and no SQL writes it.
INSERT INTO tenant_guard.audit_log (tenant_id, entry_seq, xact_id, logged_at, action, entry_hash)
VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', 1, '1', now(), 'FORGED', '\x00');
UPDATE tenant_guard.audit_log SET action = 'FORGED';
RESET ROLE;
SET ROLE tg_ledger_reader;
SELECT count(*) FILTER (WHERE tenant_id = '00000000-0000-0000-0000-000000000000') AS auditor_sees_ledger_entries,
       count(DISTINCT tenant_id) AS auditor_sees_tenants FROM tenant_guard.audit_log;
RESET ROLE;

-- Append-only, for the table owner and for superusers.
SET ROLE tg_ledger_owner;
ALTER TABLE ledger_students DISABLE TRIGGER tenant_guard_audit;
ALTER TABLE ledger_students DISABLE TRIGGER ALL;
ALTER TABLE ledger_students ENABLE TRIGGER tenant_guard_audit;
ALTER TABLE ledger_students ENABLE REPLICA TRIGGER tenant_guard_audit;
DROP TRIGGER tenant_guard_audit ON ledger_students;
ALTER TRIGGER tenant_guard_audit ON ledger_students RENAME TO quiet;
CREATE TRIGGER tenant_guard_audit_x AFTER INSERT ON ledger_students FOR EACH ROW EXECUTE FUNCTION tenant_guard.audit_trigger();
RESET ROLE;
UPDATE tenant_guard.audit_log SET action = 'FORGED';
DELETE FROM tenant_guard.audit_log;
DELETE FROM tenant_guard.audit_blocks;
UPDATE tenant_guard.audit_seal_state SET sealed_below = '1';
TRUNCATE tenant_guard.audit_log;
TRUNCATE tenant_guard.audit_blocks, ledger_students;
COPY tenant_guard.audit_log (tenant_id) FROM '/dev/null';
ALTER TABLE tenant_guard.audit_log DISABLE ROW LEVEL SECURITY;
CREATE RULE divert AS ON INSERT TO tenant_guard.audit_log DO INSTEAD NOTHING;
CREATE TRIGGER swallow BEFORE INSERT ON tenant_guard.audit_log FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
DROP TABLE tenant_guard.audit_log;
DROP SCHEMA tenant_guard CASCADE;
ALTER SCHEMA tenant_guard RENAME TO tg_hidden;
DROP FUNCTION tenant_guard.audit_trigger() CASCADE;
CREATE OR REPLACE FUNCTION tenant_guard.audit_trigger() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
ALTER TABLE ledger_students DISABLE TRIGGER tenant_guard_audit;
-- ENABLE ALWAYS: replication mode does not silence it.
SET session_replication_role = replica;
INSERT INTO ledger_students (id, tenant_id, name) VALUES (20, 'aaaaaaaa-0000-4000-8000-00000000000a', 'replica mode');
RESET session_replication_role;
SELECT action, role_name, subject FROM tenant_guard.audit_log WHERE new_values->>'name' = 'replica mode';
-- TRUNCATE of an audited table is recorded as an entry about the ledger.
SET ROLE tg_ledger_owner;
CREATE TABLE ledger_scratch (tenant_id uuid, v int);
SELECT tenant_guard.audit_table('ledger_scratch');
TRUNCATE ledger_scratch;
RESET ROLE;
SELECT tenant_id, action, entity_type, new_values FROM tenant_guard.audit_log
 WHERE entity_type = 'public.ledger_scratch' ORDER BY entry_seq;

-- Values do not depend on the session's TimeZone, DateStyle, IntervalStyle or extra_float_digits.
SET TimeZone = 'America/New_York';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'postgres_verbose';
SET extra_float_digits = -3;
SET bytea_output = 'escape';
INSERT INTO ledger_students VALUES (30, 'aaaaaaaa-0000-4000-8000-00000000000a', 'Zed', NULL, '2012-03-04',
       '2026-11-26 09:30:00+01', 0.1, '{x}', '1 day 02:00', '\xdead');
SET TimeZone = 'Asia/Tokyo';
RESET DateStyle;
RESET IntervalStyle;
RESET extra_float_digits;
RESET bytea_output;
INSERT INTO ledger_students VALUES (31, 'aaaaaaaa-0000-4000-8000-00000000000a', 'Zed', NULL, '2012-03-04',
       '2026-11-26 09:30:00+01', 0.1, '{x}', '1 day 02:00', '\xdead');
SELECT (a.new_values - 'id') = (b.new_values - 'id') AS same_values_in_two_zones, b.new_values - 'id' AS canonical
  FROM tenant_guard.audit_log a, tenant_guard.audit_log b
 WHERE a.new_values->>'id' = '30' AND b.new_values->>'id' = '31';
RESET TimeZone;

-- Entries stay in transaction order when transaction ids gain a digit (9999 < 10000, unlike their
-- text). A prepared transaction holds the seal horizon so that both entries land in one block. The
-- first entry stops 200 ids short of the decade: background workers take ids meanwhile too.
CREATE PROCEDURE ledger_burn_xids(target bigint) LANGUAGE plpgsql AS $$
BEGIN
    WHILE pg_current_xact_id()::text::bigint < target LOOP
        COMMIT;
    END LOOP;
END
$$;
BEGIN;
SELECT pg_current_xact_id() IS NOT NULL AS holding_the_horizon;
PREPARE TRANSACTION 'tg_ledger_hold';
-- (A fresh cluster, as in CI, is a few thousand transactions below 10^4; a long-lived one may be
-- too far from the next power of ten to burn the way there, and then only checks the ordering.)
SELECT power(10, length(pg_current_xact_id()::text))::bigint AS next_decade,
       power(10, length(pg_current_xact_id()::text))::bigint - pg_current_xact_id()::text::bigint < 20000 AS near_decade \gset
CALL ledger_burn_xids(CASE WHEN :'near_decade'::boolean THEN :next_decade - 200 ELSE 0 END);
INSERT INTO ledger_students (id, tenant_id, name) VALUES (50, 'cccccccc-0000-4000-8000-00000000000c', 'before the decade');
CALL ledger_burn_xids(CASE WHEN :'near_decade'::boolean THEN :next_decade + 1 ELSE 0 END);
INSERT INTO ledger_students (id, tenant_id, name) VALUES (51, 'cccccccc-0000-4000-8000-00000000000c', 'after the decade');
COMMIT PREPARED 'tg_ledger_hold';
DROP PROCEDURE ledger_burn_xids(bigint);
-- Sealing stops below the oldest running transaction, and the database worker may be running one
-- just then: seal until both entries are in a block (or give up after 10 s, and the check below fails).
CREATE PROCEDURE ledger_seal_tenant_c() LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..100 LOOP
        PERFORM tenant_guard.seal_audit();
        COMMIT;
        EXIT WHEN (SELECT count(*) FROM tenant_guard.audit_log l JOIN tenant_guard.audit_blocks b
                     ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
                    WHERE l.tenant_id = 'cccccccc-0000-4000-8000-00000000000c') >= 2;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
CALL ledger_seal_tenant_c();
DROP PROCEDURE ledger_seal_tenant_c();
SELECT count(*) AS entries, count(DISTINCT b.block_no) AS blocks,
       (min(l.xact_id::text::bigint) < :next_decade AND max(l.xact_id::text::bigint) > :next_decade)
       OR NOT :'near_decade'::boolean AS straddles
  FROM tenant_guard.audit_log l JOIN tenant_guard.audit_blocks b
    ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
 WHERE l.tenant_id = 'cccccccc-0000-4000-8000-00000000000c';

-- Sealing and verification.
SELECT tenant_guard.seal_audit() >= 0 AS sealed;
SELECT count(*) AS open_entries FROM tenant_guard.audit_log l
 WHERE NOT EXISTS (SELECT FROM tenant_guard.audit_blocks b
                    WHERE b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi);
SELECT bool_and(length(block_hash) = 32 AND length(merkle_root) = 32) AS blocks_hashed,
       bool_and((prev_hash IS NULL) = (block_no = 1)) AS chained
  FROM tenant_guard.audit_blocks;
SELECT * FROM tenant_guard.verify_audit();
SET TimeZone = 'Pacific/Chatham';
SET extra_float_digits = 0;
SELECT * FROM tenant_guard.verify_audit();
RESET TimeZone;
RESET extra_float_digits;
SELECT tenant_guard.audit_digest() AS digest \gset
SELECT d->>'format' AS format, jsonb_typeof(d->'chains') AS chains,
       d->'chains' ? 'aaaaaaaa-0000-4000-8000-00000000000a' AS has_a, d->'chains' ? 'bbbbbbbb-0000-4000-8000-00000000000b' AS has_b
  FROM (SELECT :'digest'::jsonb AS d) x;
SELECT * FROM tenant_guard.verify_audit(NULL, :'digest');
SELECT * FROM tenant_guard.verify_audit('aaaaaaaa-0000-4000-8000-00000000000a', :'digest');
SELECT * FROM tenant_guard.verify_audit(NULL, '{"chains": {}}');
-- A digest that names a block the ledger does not have (or with another hash) is reported.
SELECT tenant_id, problem FROM tenant_guard.verify_audit(NULL, jsonb_set(:'digest'::jsonb,
       '{chains,bbbbbbbb-0000-4000-8000-00000000000b,block_hash}', to_jsonb(repeat('0', 64))));
SELECT tenant_id, problem FROM tenant_guard.verify_audit(NULL, jsonb_set(:'digest'::jsonb,
       '{chains,bbbbbbbb-0000-4000-8000-00000000000b,block_no}', '999'));
-- A tenant administrator can verify (and digest) their own chain, and only theirs.
SET ROLE tg_ledger_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'admin_a') IS NOT NULL AS context_set;
SELECT count(*) AS problems FROM tenant_guard.verify_audit();
SELECT jsonb_object_keys(tenant_guard.audit_digest()->'chains') AS admin_a_chains;
COMMIT;
SELECT tenant_guard.seal_audit();
RESET ROLE;

-- Stopping the audit is for superusers, and is itself recorded.
SET ROLE tg_ledger_owner;
SELECT tenant_guard.unaudit_table('ledger_students');
RESET ROLE;
SELECT tenant_guard.unaudit_table('ledger_students');
SELECT tenant_guard.unaudit_table('ledger_students');
SELECT action, entity_type, role_name FROM tenant_guard.audit_log WHERE action LIKE '%AUDIT_TABLE' ORDER BY entry_seq;
INSERT INTO ledger_students (id, tenant_id, name) VALUES (40, 'aaaaaaaa-0000-4000-8000-00000000000a', 'not audited');
SELECT count(*) AS entries_after_unaudit FROM tenant_guard.audit_log WHERE new_values->>'name' = 'not audited';

-- tenant_guard.audit_new_tables audits what automatic row-level security protects.
SET tenant_guard.audit_new_tables = on;
CREATE TABLE ledger_auto (tenant_id uuid, v int);
CREATE TABLE ledger_auto_untenanted (v int);
RESET tenant_guard.audit_new_tables;
SELECT table_name FROM tenant_guard.audited_tables WHERE table_name::text LIKE 'ledger_auto%';

-- Partitions inherit the audit; dropping an audited table or detaching an audited partition is recorded.
CREATE TABLE ledger_parts (tenant_id uuid NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE ledger_parts_1 PARTITION OF ledger_parts FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE ledger_parts_2 PARTITION OF ledger_parts FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT tenant_guard.audit_table('ledger_parts');
CREATE TABLE ledger_parts_3 PARTITION OF ledger_parts FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT tgrelid::regclass AS audited, tgenabled FROM pg_trigger
 WHERE tgname = 'tenant_guard_audit' AND tgrelid::regclass::text LIKE 'ledger_parts%' ORDER BY 1;
INSERT INTO ledger_parts VALUES ('aaaaaaaa-0000-4000-8000-00000000000a', '2026-05-01');
ALTER TABLE ledger_parts DETACH PARTITION ledger_parts_2;
DROP TABLE ledger_scratch;
SELECT action, entity_type, new_values FROM tenant_guard.audit_log
 WHERE action IN ('DROP_AUDITED_TABLE', 'DETACH_AUDITED_PARTITION') OR entity_type LIKE '%parts%' ORDER BY entry_seq;

-- Review findings: none of these may silence the audit or blur the trail.
SET ROLE tg_ledger_owner;
CREATE TABLE ledger_people (id int PRIMARY KEY, tenant_id uuid NOT NULL, ssn text);
SELECT tenant_guard.audit_table('ledger_people', '{ssn}');
ALTER TABLE ledger_people RENAME COLUMN ssn TO ssn_visible;
ALTER TRIGGER tenant_guard_audit ON ledger_people DEPENDS ON EXTENSION plpgsql;
CREATE TABLE ledger_people_extra () INHERITS (ledger_people);
RESET ROLE;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'ledger_people_extra'::regclass AND tgname = 'tenant_guard_audit';
TRUNCATE ledger_parts_1;
SELECT action, entity_type FROM tenant_guard.audit_log WHERE entity_type = 'public.ledger_parts_1' AND action = 'TRUNCATE';
ALTER FUNCTION tenant_guard.verify_audit(uuid) RENAME TO verify_audit_old;
ALTER SEQUENCE tenant_guard.audit_entry_seq RESTART;
DROP INDEX tenant_guard.audit_log_tenant_xact;
CREATE OR REPLACE VIEW tenant_guard.audited_tables AS SELECT 1 AS nothing;
-- The context cannot change inside a statement that writes or reads protected tables: the subject
-- recorded at the end of a write, and the rows a query checks, stay the ones of one context.
SET ROLE tg_ledger_app;
BEGIN;
SELECT tenant_guard.set_tenant(:'teacher_a') IS NOT NULL AS context_set;
WITH i AS (INSERT INTO ledger_students (id, name) VALUES (60, 'cte') RETURNING id) SELECT tenant_guard.reset_tenant() FROM i;
ROLLBACK;
BEGIN;
SELECT tenant_guard.set_tenant(:'admin_a') IS NOT NULL AS context_set;
SELECT count(*) FROM tenant_guard.audit_log WHERE tenant_guard.set_tenant(:'admin_b') IS NOT NULL;
ROLLBACK;
RESET ROLE;
-- The nil UUID (the ledger's own trail) is nobody's tenant.
SELECT tenant_guard.set_tenant(tenant_guard.sign_token(jsonb_build_object('tenant_id', '00000000-0000-0000-0000-000000000000',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256'));
DROP TABLE ledger_people_extra, ledger_people;

-- Pruning removes whole sealed blocks and their entries, keeps the headers, and still verifies.
SET ROLE tg_ledger_owner;
SELECT tenant_guard.prune_audit(now() + interval '1 day');
RESET ROLE;
SELECT tenant_guard.seal_audit() >= 0 AS sealed;
SELECT tenant_guard.prune_audit(clock_timestamp() + interval '1 day') > 0 AS pruned_blocks;
SELECT count(*) AS blocks_left FROM tenant_guard.audit_blocks;
SELECT count(*) > 0 AS headers_kept FROM tenant_guard.audit_pruned_blocks;
SELECT count(*) AS entries_left_besides_the_prune_record FROM tenant_guard.audit_log WHERE action <> 'PRUNE_AUDIT';
SELECT * FROM tenant_guard.verify_audit();
SELECT * FROM tenant_guard.verify_audit(NULL, :'digest');

DROP TABLE ledger_students, ledger_unprotected, ledger_parts, ledger_parts_2, ledger_auto, ledger_auto_untenanted;
REVOKE ALL ON SCHEMA public FROM tg_ledger_owner;
REVOKE ALL ON SCHEMA tenant_guard FROM tg_ledger_app, tg_ledger_reader;
DROP ROLE tg_ledger_owner, tg_ledger_app, tg_ledger_reader;
