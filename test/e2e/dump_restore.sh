#!/usr/bin/env bash
# pg_dump / pg_restore of a tenant database: with tenant_guard.restoring the protection comes back intact.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 19

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
# Show a failed command's stderr as TAP comments.
diag_file() { sed 's/^/#   /' "$1"; }
tenant_a=aaaaaaaa-0000-4000-8000-00000000000a
tenant_b=bbbbbbbb-0000-4000-8000-00000000000b
src=district_source

# --- Source database -------------------------------------------------------------------------
createdb "$src"
q -q -d "$src" >"$TG_DIR/setup.log" <<SQL || { cat "$TG_DIR/setup.log"; echo "Bail out! source setup failed"; exit 1; }
CREATE EXTENSION tenant_guard;
CREATE ROLE district_app LOGIN;
CREATE TABLE students (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, name text, created_at timestamptz DEFAULT now());
CREATE INDEX students_tenant_created ON students (tenant_id, created_at);
CREATE TABLE attendance (tenant_id uuid NOT NULL, day date NOT NULL, present bool) PARTITION BY RANGE (day);
CREATE TABLE attendance_2024_09 PARTITION OF attendance FOR VALUES FROM ('2024-09-01') TO ('2024-10-01');
CREATE TABLE attendance_2024_10 PARTITION OF attendance FOR VALUES FROM ('2024-10-01') TO ('2024-11-01');
CREATE SCHEMA district;
SELECT tenant_guard.register_schema('district');
CREATE TABLE district.courses (tenant_id uuid NOT NULL, title text);
CREATE VIEW student_names AS SELECT id, name FROM students;
CREATE TABLE grade_levels (id int, label text);
INSERT INTO grade_levels VALUES (9, 'freshman'), (10, 'sophomore'), (11, 'junior');
SELECT tenant_guard.audit_table('students', '{created_at}');
GRANT USAGE ON SCHEMA district TO district_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, district TO district_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO district_app;
SQL
mint() { q -d "$src" -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','$1','exp',extract(epoch from now())::bigint+600), 'district-hs256')"; }
token_a=$(mint "$tenant_a")
token_b=$(mint "$tenant_b")
[[ "$token_a" == ey* && "$token_b" == ey* ]] || { echo "Bail out! could not mint tokens: $token_a"; exit 1; }

# Rows written by the application role: the column default fills tenant_id from the context.
q -q -U district_app -d "$src" >"$TG_DIR/rows.log" <<SQL || { cat "$TG_DIR/rows.log"; echo "Bail out! inserting rows failed"; exit 1; }
BEGIN;
SELECT tenant_guard.set_tenant('$token_a');
INSERT INTO students (name) VALUES ('alice'), ('bob'), ('carol');
INSERT INTO attendance (day, present) VALUES ('2024-09-02', true), ('2024-10-01', true);
INSERT INTO district.courses (title) VALUES ('algebra');
COMMIT;
BEGIN;
SELECT tenant_guard.set_tenant('$token_b');
INSERT INTO students (name) VALUES ('dmitri'), ('erin');
INSERT INTO attendance (day, present) VALUES ('2024-09-03', false), ('2024-10-02', true);
INSERT INTO district.courses (title) VALUES ('biology');
COMMIT;
SQL

# Protection as the catalog shows it: the view, plus the policy expressions and the column defaults.
protection() {
    q -d "$1" <<'SQL'
SELECT table_name, policies, rls_enabled, rls_forced, tenant_index, protected
  FROM tenant_guard.protected_tables ORDER BY table_name::text;
SELECT schemaname, tablename, policyname, permissive, roles, cmd, qual, with_check
  FROM pg_policies ORDER BY 1, 2, 3;
SELECT attrelid::regclass, pg_get_expr(adbin, adrelid)
  FROM pg_attrdef JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum
 WHERE attname = 'tenant_id' ORDER BY attrelid::regclass::text;
SQL
}
counts() {
    q -d "$1" -c "SELECT (SELECT count(*) FROM students) || ',' || (SELECT count(*) FROM attendance) || ',' ||
        (SELECT count(*) FROM attendance_2024_09) || ',' || (SELECT count(*) FROM district.courses) || ',' ||
        (SELECT count(*) FROM grade_levels) || ',' || (SELECT string_agg(schema_name, ',') FROM tenant_guard.tenant_schemas)"
}
source_protection=$(protection "$src")
source_counts=$(counts "$src")
all_protected="{tenant_guard_isolation,tenant_guard_tenant_rows}|t|t|t|t"
is "$(q -d "$src" -c "SELECT table_name, policies, rls_enabled, rls_forced, tenant_index, protected
        FROM tenant_guard.protected_tables ORDER BY table_name::text")|$source_counts" \
"attendance|$all_protected
attendance_2024_09|$all_protected
attendance_2024_10|$all_protected
district.courses|$all_protected
students|$all_protected|5,4,2,2,3,district" "source: five tables protected, rows of both tenants written through the app role"

# --- Dump and restore ------------------------------------------------------------------------
if ! pg_dump -Fc -d "$src" -f "$TG_DIR/district.dump" 2>"$TG_DIR/dump_fc.err" ||
    ! pg_dump -d "$src" -f "$TG_DIR/district.sql" 2>"$TG_DIR/dump_plain.err"; then
    cat "$TG_DIR"/dump_*.err; echo "Bail out! pg_dump failed"; exit 1
fi

restored_clean() {  # $1 = exit status, $2 = stderr file, $3 = description
    is "rc=$1 errors=$(grep -cE 'already exists|ERROR' "$2")" "rc=0 errors=0" "$3"
    [ "$1" = 0 ] || diag_file "$2"
}
createdb district_fc
PGOPTIONS='-c tenant_guard.restoring=on' pg_restore --exit-on-error -d district_fc "$TG_DIR/district.dump" 2>"$TG_DIR/restore_fc.err"
restored_clean $? "$TG_DIR/restore_fc.err" "pg_restore of the -Fc dump with tenant_guard.restoring=on succeeds without errors"
createdb district_plain
PGOPTIONS='-c tenant_guard.restoring=on' psql -X -q -v ON_ERROR_STOP=1 -d district_plain -f "$TG_DIR/district.sql" >/dev/null 2>"$TG_DIR/restore_plain.err"
restored_clean $? "$TG_DIR/restore_plain.err" "psql -f of the plain dump with tenant_guard.restoring=on succeeds without errors"

# --- What each restored database must look like ----------------------------------------------
check_restored() {
    local db=$1 label=$2 out
    is "$(protection "$db")" "$source_protection" "$label: protected_tables, policy expressions and tenant defaults match the source"
    is "$(q -d "$db" -c "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'student_names'::regclass")|$(counts "$db")" \
       "security_invoker=true|$source_counts" "$label: view still security_invoker; row counts and registered schema as in the source"
    like "$(q -d "$db" -c "CREATE TABLE district.notes (body text)")" "table district\.notes has no tenant column" \
        "$label: the registered schema still refuses a table without tenant_id"
    is "$(q -d "$db" -c "CREATE TABLE late_notes (tenant_id uuid NOT NULL, body text)" \
            -c "SELECT policies, rls_enabled, rls_forced, tenant_index, protected FROM tenant_guard.protected_tables WHERE table_name = 'late_notes'::regclass")" \
       "CREATE TABLE
$all_protected" "$label: a table created after the restore is protected again by the event trigger"
    out=$(q -q -U district_app -d "$db" <<SQL
BEGIN;
SELECT 'context=' || tenant_guard.set_tenant('$token_a');
SELECT 'students=' || string_agg(name, ',' ORDER BY name) FROM students;
SELECT 'attendance=' || string_agg(day::text, ',' ORDER BY day) FROM attendance;
SELECT 'view=' || string_agg(name, ',' ORDER BY name) FROM student_names;
SELECT 'partition=' || string_agg(day::text, ',' ORDER BY day) FROM attendance_2024_09;
SELECT 'courses=' || string_agg(title, ',') FROM district.courses;
COMMIT;
SELECT 'no context=' || (SELECT count(*) FROM students) || ',' || (SELECT count(*) FROM attendance) || ',' ||
       (SELECT count(*) FROM student_names) || ',' || (SELECT count(*) FROM district.courses);
SQL
)
    is "$out" "context=$tenant_a
students=alice,bob,carol
attendance=2024-09-02,2024-10-01
view=alice,bob,carol
partition=2024-09-02
courses=algebra
no context=0,0,0,0" "$label: the app role sees only tenant A's rows under A's context, none without a context"
    is "$(q -d "$db" -c "SELECT table_name, excluded_columns, enabled_always FROM tenant_guard.audited_tables" \
            -c "DO \$\$ BEGIN PERFORM tenant_guard.set_tenant('$token_a'); INSERT INTO students (name) VALUES ('after restore'); END \$\$" \
            -c "SELECT action, new_values->>'name' FROM tenant_guard.audit_log WHERE tenant_id = '$tenant_a' ORDER BY entry_seq DESC LIMIT 1")" \
       "students|{created_at}|t
DO
INSERT|after restore" "$label: the audit trigger comes back (ALWAYS, same excluded columns) and records new changes"
    like "$(q -q -U district_app -d "$db" <<SQL
BEGIN;
SELECT tenant_guard.set_tenant('$token_a');
INSERT INTO students (tenant_id, name) VALUES ('$tenant_b', 'mallory');
COMMIT;
SQL
)" "new row violates row-level security policy for table \"students\"" "$label: writing tenant B's row under A's context is refused"
}
check_restored district_fc "custom-format restore"
check_restored district_plain "plain restore"

# --- Without the switch the restore fails and says what to do ---------------------------------
createdb district_bad
pg_restore --exit-on-error -d district_bad "$TG_DIR/district.dump" 2>"$TG_DIR/restore_bad.err"
rc=$?
like "rc=$rc $(tr '\n' ' ' <"$TG_DIR/restore_bad.err")" "^rc=[1-9] .*ERROR: .* already exists" \
    "without tenant_guard.restoring the restore stops on objects the event trigger already created"
# The error it stops at (the first one: --exit-on-error) must tell the operator about the switch.
like "$(tr '\n' ' ' <"$TG_DIR/restore_bad.err")" "HINT: .*tenant_guard\.restoring" \
    "the error that stops a restore without the switch carries a hint naming tenant_guard.restoring"
