-- The schema security check: a clean schema has no error-level finding, and each kind of dangerous
-- object is found with a fix. Findings are shown for this test's schema and role only (other
-- tests leave their own objects in the database).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse

CREATE SCHEMA schk;
CREATE VIEW schk_findings AS
  SELECT severity, object, problem, fix FROM tenant_guard.check_schema()
   WHERE object LIKE '%schk%' OR object LIKE 'role tg\_schk%';

-- A clean tenant schema: composite keys, tenant-led foreign keys, protected automatically.
CREATE TABLE schk.districts (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
                             name text, PRIMARY KEY (tenant_id, id));
CREATE TABLE schk.students (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
                            district_id bigint, email text,
                            PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, email),
                            FOREIGN KEY (tenant_id, district_id) REFERENCES schk.districts (tenant_id, id));
CREATE TABLE schk.grades (id int, name text);  -- shared lookup table: not a tenant table
SELECT * FROM schk_findings ORDER BY 1, 2;
SELECT count(*) AS errors FROM tenant_guard.check_schema()
 WHERE severity = 'error' AND (object LIKE '%schk%' OR object LIKE 'role tg\_schk%');

-- Each kind of dangerous object.
CREATE TABLE schk.contacts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid,
                            phone text UNIQUE, student_id bigint);
ALTER TABLE schk.contacts ADD FOREIGN KEY (tenant_id, student_id) REFERENCES schk.students (tenant_id, id);
CREATE TABLE schk.notes (tenant_id uuid NOT NULL, student_id bigint, body text,
                         FOREIGN KEY (tenant_id, student_id) REFERENCES schk.students);  -- (tenant_id, id): fine
CREATE TABLE schk.buses (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL);
CREATE TABLE schk.rides (tenant_id uuid NOT NULL, bus_id bigint REFERENCES schk.buses);  -- no tenant column in the key
CREATE TABLE schk.links (tenant_id uuid NOT NULL, district_id bigint);
CREATE UNIQUE INDEX links_district ON schk.links (district_id);
CREATE TABLE schk.loose (tenant_id uuid NOT NULL, body text);
SELECT tenant_guard.unprotect_table('schk.loose');
DROP INDEX schk.notes_tenant_id_idx;
CREATE POLICY everyone_reads ON schk.notes FOR SELECT USING (true);
CREATE VIEW schk.all_students AS SELECT id, email FROM schk.students;
ALTER VIEW schk.all_students SET (security_invoker = false);
CREATE FUNCTION schk.count_students() RETURNS bigint LANGUAGE sql SECURITY DEFINER
  AS 'SELECT count(*) FROM schk.students';
CREATE ROLE tg_schk_reporter LOGIN BYPASSRLS;
CREATE SCHEMA schk_tenant;
CREATE TABLE schk_tenant.settings (key text, value text);
INSERT INTO tenant_guard.tenant_schemas (schema_name) VALUES ('schk_tenant');
SELECT * FROM schk_findings ORDER BY 1, 2;

-- assert_schema_secure() fails while an error-level finding exists, with SQLSTATE TG001.
\set VERBOSITY default
DO $$
BEGIN
    PERFORM tenant_guard.assert_schema_secure();
EXCEPTION WHEN SQLSTATE 'TG001' THEN
    RAISE NOTICE 'refused: %', SQLERRM;
END $$;
\set VERBOSITY terse

-- Fixed, one by one, as the findings say: back to no error-level finding of this test's.
DROP ROLE tg_schk_reporter;
DELETE FROM tenant_guard.tenant_schemas WHERE schema_name = 'schk_tenant';
DROP SCHEMA schk_tenant CASCADE;
ALTER FUNCTION schk.count_students() SECURITY INVOKER;
ALTER VIEW schk.all_students SET (security_invoker = true);
SELECT tenant_guard.protect_table('schk.loose');
DROP INDEX schk.links_district;
ALTER TABLE schk.contacts DROP CONSTRAINT contacts_phone_key;
ALTER TABLE schk.rides DROP CONSTRAINT rides_bus_id_fkey;
SELECT count(*) AS errors FROM tenant_guard.check_schema()
 WHERE severity = 'error' AND (object LIKE '%schk%' OR object LIKE 'role tg\_schk%');

DROP SCHEMA schk CASCADE;
DROP VIEW schk_findings;
