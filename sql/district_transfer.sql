-- Moving a district in and out: import_tenant, reconcile_tenant, export_tenant. The source and the
-- export target are other databases of this server, reached over libpq like any other server.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse
SELECT current_database() AS service_database \gset
SELECT format('dbname=tg_xfer_source host=%s port=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port')) AS source,
       format('dbname=tg_xfer_export host=%s port=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port')) AS export_target \gset
\set north '''aaaaaaaa-0000-4000-8000-0000000000c1'''
\set south '''aaaaaaaa-0000-4000-8000-0000000000c2'''

-- The district's own database: no tenant column; awkward values on purpose.
CREATE DATABASE tg_xfer_source;
\c tg_xfer_source
CREATE SCHEMA xfer;
CREATE TABLE xfer.schools (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE xfer.students (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            school_id int REFERENCES xfer.schools, name text, born date, gpa numeric(3,2),
                            tags text[], notes text, seen_at timestamptz);
CREATE TABLE xfer.visits (student_id bigint REFERENCES xfer.students, visited_on date, reason text);
INSERT INTO xfer.schools (name) VALUES ('North High'), ('Lakeside "Middle"');
INSERT INTO xfer.students (school_id, name, born, gpa, tags, notes, seen_at)
SELECT 1 + i % 2, 'student ' || i, date '2010-01-01' + i, (i % 400) / 100.0, ARRAY['a', 'b c'],
       CASE i % 4 WHEN 0 THEN E'tab\there' WHEN 1 THEN E'line\nbreak \\ slash' WHEN 2 THEN NULL ELSE '' END,
       timestamptz '2026-01-01 08:00:00+01' + i * interval '1 hour'
  FROM generate_series(1, 40) i;
INSERT INTO xfer.visits SELECT 1 + i % 40, date '2026-02-01' + i, 'visit ' || i FROM generate_series(1, 60) i;
INSERT INTO xfer.visits SELECT 5, date '2026-02-01', 'visit 4' FROM generate_series(1, 2);  -- duplicate rows

\c :service_database
\set VERBOSITY terse
CREATE SCHEMA xfer;
CREATE TABLE xfer.schools (tenant_id uuid NOT NULL, id serial, name text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE xfer.students (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
                            school_id int, name text, born date, gpa numeric(3,2), tags text[], notes text,
                            seen_at timestamptz, name_length int GENERATED ALWAYS AS (length(name)) STORED,
                            PRIMARY KEY (tenant_id, id),
                            FOREIGN KEY (tenant_id, school_id) REFERENCES xfer.schools (tenant_id, id));
CREATE TABLE xfer.visits (tenant_id uuid NOT NULL, student_id bigint, visited_on date, reason text,
                          FOREIGN KEY (tenant_id, student_id) REFERENCES xfer.students (tenant_id, id));

-- Who may: superusers and tenant_guard_admin; a non-superuser needs a password the server asks for.
CREATE ROLE tg_xfer_app LOGIN;
CREATE ROLE tg_xfer_admin LOGIN IN ROLE tenant_guard_admin;
SET SESSION AUTHORIZATION tg_xfer_app;
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION tenant_guard.import_tenant(text, uuid, boolean) TO tg_xfer_app;
SET SESSION AUTHORIZATION tg_xfer_app;
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
SET SESSION AUTHORIZATION tg_xfer_admin;
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
SELECT * FROM tenant_guard.import_tenant(:'source' || ' password=not-asked-for', :north);
RESET SESSION AUTHORIZATION;

-- Bad arguments.
SELECT * FROM tenant_guard.import_tenant(:'source', '00000000-0000-0000-0000-000000000000');
SELECT * FROM tenant_guard.import_tenant(NULL, :north);
SELECT * FROM tenant_guard.import_tenant('dbname=tg_no_such_database host=/nonexistent', :north);
SELECT * FROM tenant_guard.import_tenant('not a connection string', :north);
-- Platform access is read-only: not even an import writes while it is open.
SELECT tenant_guard.sign_token('{"sub":"ops-jane","roles":["platform_admin"],"exp":9999999999}', 'district-hs256') AS platform \gset
BEGIN;
SELECT tenant_guard.begin_platform_access(:'platform', 'migration');
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
ROLLBACK;

-- The import: parents first, keys kept, tenant column filled, generated column computed,
-- sequences past the imported ids.
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
SELECT tenant_id, count(*), min(id), max(id), sum(name_length) FROM xfer.students GROUP BY 1;
SELECT count(*) FILTER (WHERE tenant_id = :north) AS north_visits, count(*) AS all_visits FROM xfer.visits;
SELECT notes, tags, seen_at AT TIME ZONE 'UTC' AS seen_utc FROM xfer.students WHERE id IN (1, 2, 3, 4) ORDER BY id;
SELECT nextval('xfer.schools_id_seq') > 2 AS schools_continue,
       nextval(pg_get_serial_sequence('xfer.students', 'id')) > 40 AS students_continue;
SELECT count(*) AS transfers_running FROM tenant_guard.transfer_progress;

-- A second import of the same district is refused; replace deletes its rows first.
SELECT * FROM tenant_guard.import_tenant(:'source', :north);
SELECT * FROM tenant_guard.import_tenant(:'source', :north, replace => true);
SELECT count(*) AS north_students FROM xfer.students WHERE tenant_id = :north;

-- Reconcile: equal, then a changed value, a missing row and a duplicated row, each in its table.
SELECT table_name, source_rows, target_rows, matches FROM tenant_guard.reconcile_tenant(:'source', :north);
\c tg_xfer_source
UPDATE xfer.students SET gpa = 3.99 WHERE id = 7;
DELETE FROM xfer.schools WHERE id = 2 AND false;  -- (kept: schools stay equal)
INSERT INTO xfer.visits SELECT * FROM xfer.visits WHERE reason = 'visit 9';
\c :service_database
\set VERBOSITY terse
DELETE FROM xfer.visits WHERE tenant_id = :north AND reason = 'visit 10';
SELECT table_name, source_rows, target_rows, matches FROM tenant_guard.reconcile_tenant(:'source', :north);
-- A swap between two rows keeps the count but not the checksum.
UPDATE xfer.students SET name = CASE id WHEN 11 THEN 'student 12' ELSE 'student 11' END
 WHERE tenant_id = :north AND id IN (11, 12);
SELECT table_name, matches FROM tenant_guard.reconcile_tenant(:'source', :north) WHERE table_name = 'xfer.students';

-- What does not fit is refused before anything is copied, every problem listed: a source table
-- missing here, a source column missing here, a column generated in the source but plain here, a
-- target that is not a tenant table, tables whose foreign keys form a cycle.
\c tg_xfer_source
CREATE TABLE xfer.buses (id int, route text);
ALTER TABLE xfer.schools ADD COLUMN motto text;
ALTER TABLE xfer.schools ADD COLUMN code text GENERATED ALWAYS AS (upper(name)) STORED;
\c :service_database
\set VERBOSITY terse
ALTER TABLE xfer.schools ADD COLUMN code text;
\set VERBOSITY default
SELECT * FROM tenant_guard.import_tenant(:'source', :south);
\set VERBOSITY terse
CREATE TABLE xfer.buses (id int, route text);  -- no tenant column: a shared table
ALTER TABLE xfer.schools ADD COLUMN motto text;
ALTER TABLE xfer.schools DROP COLUMN code;
\set VERBOSITY default
SELECT * FROM tenant_guard.import_tenant(:'source', :south);
\set VERBOSITY terse
DROP TABLE xfer.buses;
\c tg_xfer_source
DROP TABLE xfer.buses;
ALTER TABLE xfer.schools DROP COLUMN code;
ALTER TABLE xfer.schools ADD COLUMN head_student bigint;
\c :service_database
\set VERBOSITY terse
ALTER TABLE xfer.schools ADD COLUMN head_student bigint,
    ADD FOREIGN KEY (tenant_id, head_student) REFERENCES xfer.students (tenant_id, id);
\set VERBOSITY default
SELECT * FROM tenant_guard.import_tenant(:'source', :south);
\set VERBOSITY terse
ALTER TABLE xfer.schools DROP COLUMN head_student;
\c tg_xfer_source
ALTER TABLE xfer.schools DROP COLUMN head_student;
\c :service_database
\set VERBOSITY terse

-- A trigger here that changes rows makes the import fail its check: nothing is imported.
CREATE FUNCTION xfer.shout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER shout BEFORE INSERT ON xfer.students FOR EACH ROW EXECUTE FUNCTION xfer.shout();
SELECT * FROM tenant_guard.import_tenant(:'source', :south);
SELECT count(*) AS south_rows FROM xfer.students WHERE tenant_id = :south;
DROP TRIGGER shout ON xfer.students;
SELECT * FROM tenant_guard.import_tenant(:'source', :south);

-- Export the south district into a dedicated database (tables without the tenant column).
CREATE DATABASE tg_xfer_export;
\c tg_xfer_export
CREATE SCHEMA xfer;
CREATE TABLE xfer.schools (id serial PRIMARY KEY, name text NOT NULL, motto text);
CREATE TABLE xfer.students (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            school_id int REFERENCES xfer.schools, name text, born date, gpa numeric(3,2),
                            tags text[], notes text, seen_at timestamptz);
CREATE TABLE xfer.visits (student_id bigint REFERENCES xfer.students, visited_on date, reason text);
\c :service_database
\set VERBOSITY terse
SELECT * FROM tenant_guard.export_tenant(:south, :'export_target');
SELECT count(*) AS south_students_kept FROM xfer.students WHERE tenant_id = :south;
SELECT table_name, matches FROM tenant_guard.reconcile_tenant(:'export_target', :south);
SELECT * FROM tenant_guard.export_tenant(:south, :'export_target');
\c tg_xfer_export
SELECT count(*) AS exported_students, max(id) AS top_id, nextval(pg_get_serial_sequence('xfer.students', 'id')) AS next_id
  FROM xfer.students;
\c :service_database
\set VERBOSITY terse

-- A table's triggers run as the table's owner during an import, never with more rights: an
-- owner's trigger that tries to make the owner superuser fails, and the import with it.
CREATE ROLE tg_xfer_owner;
GRANT CREATE, USAGE ON SCHEMA xfer TO tg_xfer_owner;
SET ROLE tg_xfer_owner;
CREATE TABLE xfer.owned (tenant_id uuid NOT NULL, id int, PRIMARY KEY (tenant_id, id));
CREATE FUNCTION xfer.grab() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'trigger runs as %', current_user;
    EXECUTE 'ALTER ROLE tg_xfer_owner SUPERUSER';
    RETURN NULL;
END $$;
CREATE TRIGGER grab BEFORE INSERT ON xfer.owned FOR EACH STATEMENT EXECUTE FUNCTION xfer.grab();
RESET ROLE;
\c tg_xfer_source
CREATE TABLE xfer.owned (id int PRIMARY KEY);
INSERT INTO xfer.owned VALUES (1), (2);
\c :service_database
\set VERBOSITY terse
SELECT * FROM tenant_guard.import_tenant(:'source', 'aaaaaaaa-0000-4000-8000-0000000000c3');
SELECT rolsuper AS owner_became_superuser FROM pg_roles WHERE rolname = 'tg_xfer_owner';
SELECT count(*) AS rows_of_c3 FROM xfer.students WHERE tenant_id = 'aaaaaaaa-0000-4000-8000-0000000000c3';

-- Clean up.
SET client_min_messages = warning;
DROP SCHEMA xfer CASCADE;
DROP DATABASE tg_xfer_source;
DROP DATABASE tg_xfer_export;
REVOKE EXECUTE ON FUNCTION tenant_guard.import_tenant(text, uuid, boolean) FROM tg_xfer_app;
DROP ROLE tg_xfer_app;
DROP ROLE tg_xfer_admin;
DROP OWNED BY tg_xfer_owner;
DROP ROLE tg_xfer_owner;
RESET client_min_messages;
