-- A database on 0.1.0 upgrades in place to 0.2.0 and gets automatic protection from then on.
SELECT current_database() AS regression_database \gset
CREATE DATABASE tg_upgrade_check;
\c tg_upgrade_check
\set VERBOSITY terse
CREATE EXTENSION tenant_guard VERSION '0.1.0';
CREATE TABLE before_upgrade (tenant_id uuid, note text);
SELECT relrowsecurity AS protected_on_0_1_0 FROM pg_class WHERE relname = 'before_upgrade';
ALTER EXTENSION tenant_guard UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'tenant_guard';
SELECT evtname, evtevent, evtenabled FROM pg_event_trigger;
CREATE TABLE after_upgrade (tenant_id uuid, note text);
SELECT tenant_guard.protect_table('before_upgrade');
SELECT table_name, protected FROM tenant_guard.protected_tables ORDER BY table_name::text;
-- Everything 0.2.0 and 0.3.0 add belongs to the extension (so DROP EXTENSION and pg_dump treat it as such).
SELECT pg_describe_object(classid, objid, 0) AS member
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tenant_guard')
 ORDER BY 1;
-- The audit ledger (0.3.0) survives everything short of DROP EXTENSION.
SET client_min_messages = warning;
DROP SCHEMA tenant_guard CASCADE;
ALTER EXTENSION tenant_guard DROP TABLE tenant_guard.audit_log;
DROP TABLE tenant_guard.audit_log;
ALTER EXTENSION tenant_guard ADD TABLE tenant_guard.audit_log;
DROP EXTENSION tenant_guard CASCADE;
RESET client_min_messages;
SELECT count(*) AS tenant_guard_tables_left FROM pg_class WHERE relnamespace = 'tenant_guard'::regnamespace;
\c :regression_database
DROP DATABASE tg_upgrade_check;
