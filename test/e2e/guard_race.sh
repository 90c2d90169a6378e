#!/usr/bin/env bash
# The guards look a table up by name before the statement runs; a concurrent transaction can swap
# names in between, so that the statement then changes another (protected) table than the one the
# guard checked. The ddl_command_end trigger re-checks the table the statement really changed.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 6

q() { psql -X -At -v ON_ERROR_STOP=1 -d racedb "$@" 2>&1; }
createdb racedb
q -q >/dev/null <<'SQL' || { echo "Bail out! setup failed"; exit 1; }
CREATE EXTENSION tenant_guard;
CREATE ROLE race_owner;
GRANT CREATE ON SCHEMA public TO race_owner;
SET ROLE race_owner;
CREATE TABLE students (tenant_id uuid NOT NULL, name text);
CREATE VIEW student_names AS SELECT name FROM students;
SQL

# $1: the statement the owner runs against the decoy's name while the names are being swapped;
# $2: the object kind swapped ("TABLE" or "VIEW"); $3: the real object's name.
race() {
    local statement=$1 kind=$2 real=$3
    q -q -c "SET ROLE race_owner" \
         -c "$([ "$kind" = VIEW ] && echo "CREATE VIEW decoy AS SELECT 1 AS one" || echo "CREATE TABLE decoy (x int)")" >/dev/null
    # Session B: swap the names, hold the locks for a while, commit.
    psql -X -q -d racedb >/dev/null 2>&1 <<SQL &
SET ROLE race_owner;
BEGIN;
ALTER $kind decoy RENAME TO decoy_old;
ALTER $kind $real RENAME TO decoy;
SELECT pg_sleep(2);
COMMIT;
SQL
    local swapper=$!
    sleep 1
    # Session A: the guard sees the unprotected decoy; the statement waits for B, then resolves the
    # name again and finds the protected object.
    q -c "SET ROLE race_owner" -c "$statement"
    wait "$swapper"
    q -q -c "SET ROLE race_owner" -c "ALTER $kind decoy RENAME TO $real" -c "DROP $kind decoy_old" >/dev/null
}

like "$(race "ALTER TABLE decoy NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY" TABLE students)" \
     "cannot weaken table public.decoy: it is protected by tenant_guard" "swapped names: DISABLE ROW LEVEL SECURITY still refused"
like "$(race "ALTER POLICY tenant_guard_isolation ON decoy USING (true) WITH CHECK (true)" TABLE students)" \
     "cannot (alter policy|weaken table)" "swapped names: ALTER POLICY still refused"
like "$(race "ALTER TABLE decoy ALTER COLUMN tenant_id SET DEFAULT NULL" TABLE students)" \
     "cannot weaken table public.decoy|cannot change the default" "swapped names: the tenant column default cannot be changed"
like "$(race "ALTER VIEW decoy SET (security_invoker = false)" VIEW student_names)" \
     "cannot turn off security_invoker" "swapped names: security_invoker stays on"
is "$(q -c "SELECT protected FROM tenant_guard.protected_tables WHERE table_name = 'students'::regclass")" "t" \
   "after the races the table is still fully protected"
is "$(q -c "SELECT reloptions::text FROM pg_class WHERE relname = 'student_names'")" "{security_invoker=true}" \
   "after the races the view is still security_invoker"
