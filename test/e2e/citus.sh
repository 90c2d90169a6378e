#!/usr/bin/env bash
# Citus: a coordinator and two workers on loopback, Citus built from ../shared/vendor/citus
# (scripts/build-citus.sh). The tenant context reaches every worker and is verified there, tenant
# queries go to one shard, shards keep tenant_guard's protection through moves and rebalancing, and
# nothing lets a tenant see or write another's rows: directly on a worker, through prepared
# statements, savepoints, or pgbouncer in transaction mode.
# Prints TAP; run by scripts/test.sh through prove. Skipped (with the reason) when Citus is absent.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/citus_cluster.sh"
source "$here/../lib/pgbouncer.sh"

if ! tg_citus_available; then
    echo "1..0 # SKIP Citus is not installed: scripts/build-citus.sh builds it from ../shared/vendor/citus"
    exit 0
fi
# The trap before the start: a half-started cluster is stopped too. test/lib/pgbouncer.sh works in
# $TG_DIR, in front of $TG_SOCKET_DIR:$TG_PORT: the coordinator's.
trap 'tg_pgbouncer_stop citus; tg_citus_stop' EXIT
TG_CITUS_DIR=$(mktemp -d /tmp/tenant_guard_citus.XXXXXX)
TG_DIR=$TG_CITUS_DIR
tg_citus_start "$TG_CITUS_DIR" >/dev/null || { echo "Bail out! the Citus cluster did not start"; exit 1; }
TG_SOCKET_DIR=$TG_CITUS_DIR/node0/socket TG_PORT=$TG_COORD_PORT
plan 54

T1=11111111-0000-4000-8000-000000000001
T2=22222222-0000-4000-8000-000000000002
T3=33333333-0000-4000-8000-000000000003
su_q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
# As the application role on node $1 (0 = coordinator): the SQL's output, or the SQLSTATE of the
# error that stopped it. Results the checks read are tagged 'R:' (see rows).
as_app() {
    local node=$1; shift
    psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -h 127.0.0.1 -p "${TG_CITUS_PORTS[$node]}" -U pool_app "$@" 2>&1 |
        sed -E 's/^(ERROR|FATAL): +([0-9A-Z]{5})$/\2/; s/^psql: error: .*(ERROR|FATAL): +([0-9A-Z]{5}).*/\2/'
}
rows() { grep '^R:' | cut -c3- | paste -sd' ' -; }
on_worker() { local n=$1; shift; psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${TG_CITUS_PORTS[$n]}" "$@" 2>&1; }
set_a() { echo "SELECT tenant_guard.set_tenant('$1', true) IS NULL"; }
# $2 (one statement, results tagged) in a transaction under tenant token $1.
in_tenant() { as_app 0 -c "BEGIN" -c "$(set_a "$1")" -c "$2" -c "COMMIT" | rows; }

su_q -q <<'SQL' >/dev/null || { echo "Bail out! setup failed"; exit 1; }
CREATE EXTENSION tenant_guard;
CREATE ROLE pool_app LOGIN;
CREATE ROLE district_owner LOGIN;
GRANT CREATE ON SCHEMA public TO district_owner;
SQL
token() {
    su_q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', '$1', 'sub', 'teacher-$2',
             'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256')"
}
A=$(token $T1 a) B=$(token $T2 b) C=$(token $T3 c)

# --- DDL: tables created on the coordinator by a non-superuser owner, then distributed ---------------
out=$(su_q -q -U district_owner <<'SQL'
CREATE TABLE students (tenant_id uuid NOT NULL, id bigint NOT NULL, name text, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('students', 'tenant_id');
CREATE TABLE enrollments (tenant_id uuid NOT NULL, student_id bigint NOT NULL, course_id int NOT NULL,
                          PRIMARY KEY (tenant_id, student_id, course_id));
SELECT create_distributed_table('enrollments', 'tenant_id', colocate_with => 'students');
CREATE TABLE courses (course_id int PRIMARY KEY, title text);
SELECT create_reference_table('courses');
GRANT SELECT, INSERT, UPDATE, DELETE ON students, enrollments TO pool_app;
GRANT SELECT ON courses TO pool_app;
SQL
)
is "$out" "" "DDL: protected tables created and distributed by a non-superuser owner (no 'policy already exists')"
su_q -q <<SQL >/dev/null
INSERT INTO students SELECT (ARRAY['$T1','$T2','$T3']::uuid[])[i % 3 + 1], i, 'student ' || i FROM generate_series(1, 3000) i;
INSERT INTO enrollments SELECT tenant_id, id, c FROM students, generate_series(1, 2) c;
INSERT INTO courses VALUES (1, 'algebra'), (2, 'biology');
CREATE TABLE citus_tokens (n int PRIMARY KEY, tenant uuid, token text);
INSERT INTO citus_tokens VALUES (1, '$T1', '$A'), (2, '$T2', '$B'), (3, '$T3', '$C');
GRANT SELECT ON citus_tokens TO pool_app;
SQL
is "$(su_q -c "SELECT relrowsecurity AND relforcerowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = 'students'::regclass)
               FROM pg_class WHERE oid = 'students'::regclass")" "t|2" "DDL: the coordinator's table is protected by the event trigger"
# Every shard, and each worker's own copy of the table, carries RLS, FORCE and both policies.
shard_protection() {  # $1 worker, $2 the tables (a regular expression)
    on_worker "$1" -q -c "SET citus.override_table_visibility = off" -c "
        SELECT count(*) FILTER (WHERE c.relrowsecurity AND c.relforcerowsecurity
                                  AND (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid
                                       AND p.polname IN ('tenant_guard_isolation', 'tenant_guard_tenant_rows')) = 2)
               || '/' || count(*)
        FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^(${2:-students|enrollments})(_[0-9]+)?\$'"
}
is "$(shard_protection 1)" "34/34" "DDL: worker 1 - all 32 shards and both tables' copies protected"
is "$(shard_protection 2)" "34/34" "DDL: worker 2 - all 32 shards and both tables' copies protected"

# --- Context on the workers -------------------------------------------------------------------------
is "$(in_tenant "$A" "SELECT 'R:' || count(*) || ' ' || count(DISTINCT tenant_id) || ' ' || min(tenant_id::text) FROM students")" \
   "1000 1 $T1" "context: tenant A sees exactly its 1000 students through the coordinator"
is "$(in_tenant "$B" "SELECT 'R:' || count(*) || ' ' || count(DISTINCT tenant_id) || ' ' || min(tenant_id::text) FROM students")" \
   "1000 1 $T2" "context: tenant B sees exactly its 1000 students"
# current_subject() and current_claims() in the target list are evaluated on the worker's shard.
is "$(in_tenant "$A" "SELECT DISTINCT 'R:' || tenant_guard.current_subject() || ' ' || (tenant_guard.current_claims()->>'tenant_id') FROM students")" \
   "teacher-a $T1" "context: the worker has the token's subject and claims too"
is "$(as_app 0 -c "BEGIN" -c "SELECT 'R:' || count(*) FROM students" -c "SELECT 'R:' || count(*) FROM enrollments" -c "COMMIT" | rows)" \
   "0 0" "context: no context on the coordinator, no rows from any worker"
# The fan-out query (all 32 shards) under a context: the workers' policies alone keep the others out.
is "$(in_tenant "$C" "SELECT 'R:' || count(*) FROM students WHERE tenant_id <> '$T3' OR tenant_id IS NULL")" "0" \
   "context: asking every shard for other tenants' rows returns none (workers enforce their policies)"
is "$(as_app 0 -c "SELECT tenant_guard.set_tenant('$B', false) IS NULL" -c "BEGIN" -c "SELECT 'R:' || count(*) FROM students" -c "COMMIT" \
      -c "BEGIN" -c "SELECT 'R:' || min(tenant_id::text) FROM enrollments" -c "COMMIT" | rows)" \
   "1000 $T2" "context: a session-scoped context is sent again in each transaction"
is "$(as_app 0 -c "SELECT tenant_guard.set_tenant('$B', false) IS NULL" -c "SELECT count(*) FROM students" | tail -1)" "0A000" \
   "context: a distributed statement outside a transaction block is refused (Citus would send it without the context)"
is "$(as_app 0 -c "BEGIN" -c "$(set_a "$A")" -c "SELECT 'R:' || count(*) FROM students" \
      -c "SELECT tenant_guard.reset_tenant()" -c "SELECT 'R:' || count(*) FROM students" -c "COMMIT" | rows)" \
   "1000 0" "context: reset_tenant() in the middle of a transaction reaches the workers"
multi=$(su_q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenants', jsonb_build_array('$T1', '$T2'),
                 'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256')")
is "$(as_app 0 -c "BEGIN" -c "SELECT tenant_guard.set_tenant('$multi', true, '$T1') IS NULL" -c "SELECT 'R:' || min(tenant_id::text) FROM students" \
      -c "SELECT tenant_guard.switch_tenant('$T2') IS NULL" -c "SELECT 'R:' || min(tenant_id::text) || count(*) FROM students" -c "COMMIT" | rows)" \
   "$T1 ${T2}1000" "context: switch_tenant() in the middle of a transaction reaches the workers"
is "$(as_app 0 -c "BEGIN" -c "SELECT tenant_guard.set_tenant('$multi', true, '$T1') IS NULL" -c "SELECT 'R:' || count(*) FROM students" -c "SAVEPOINT s" \
      -c "SELECT tenant_guard.switch_tenant('$T2') IS NULL" -c "SELECT 'R:' || count(*) FROM students WHERE tenant_id = '$T2'" \
      -c "ROLLBACK TO SAVEPOINT s" -c "SELECT 'R:' || min(tenant_id::text) || count(*) FROM students" -c "COMMIT" | rows)" \
   "1000 1000 ${T1}1000" "context: ROLLBACK TO SAVEPOINT brings the earlier tenant back on the workers too"
is "$(in_tenant "$A" "SELECT 'R:' || count(*) FROM students s JOIN enrollments e ON e.tenant_id = s.tenant_id AND e.student_id = s.id
                      JOIN courses USING (course_id) WHERE s.tenant_id <> '$T1' OR e.tenant_id <> '$T1'")" "0" \
   "context: a co-located join with a reference table returns only the tenant's rows"

# Claiming Citus's application_name spares no protection.
PGAPPNAME='citus_internal gpid=10000000001' su_q -q -U district_owner -c "CREATE TABLE grades (tenant_id uuid NOT NULL, student_id bigint, grade text, PRIMARY KEY (tenant_id, student_id))"
su_q -q -U district_owner -c "SELECT create_distributed_table('grades', 'tenant_id', colocate_with => 'students')" >/dev/null
is "$(su_q -c "SELECT relrowsecurity AND relforcerowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) FROM pg_class c WHERE oid = 'grades'::regclass")|$(shard_protection 1 grades)" \
   "t|2|17/17" "DDL: a table created under a claimed citus_internal application_name is protected all the same, shards included"
# Only where row-level security applies is the tenant predicate added: a superuser's function and a
# foreign key's cascade (which run without it) still see every tenant's rows.
su_q -q -c "CREATE FUNCTION all_students() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public AS 'SELECT count(*) FROM students'" \
    -c "GRANT EXECUTE ON FUNCTION all_students() TO pool_app"
is "$(in_tenant "$A" "SELECT 'R:' || all_students()")" "3000" "routing: a SECURITY DEFINER function of a superuser still counts every tenant's rows"
# --- Writes --------------------------------------------------------------------------------------
is "$(as_app 0 -c "BEGIN" -c "$(set_a "$A")" -c "INSERT INTO students VALUES ('$T2', 90001, 'planted')" | tail -1)" "42501" \
   "writes: inserting a row for another tenant is refused on the worker"
is "$(as_app 0 -c "BEGIN" -c "$(set_a "$A")" -c "INSERT INTO students (id, name) VALUES (90002, 'mine') RETURNING 'R:' || tenant_id::text" -c "COMMIT" | rows)" "$T1" \
   "writes: a new row gets the context's tenant"
is "$(as_app 0 -c "BEGIN" -c "$(set_a "$A")" -c "WITH u AS (UPDATE students SET name = 'x' WHERE id IN (1, 2) RETURNING 1) SELECT 'R:' || count(*) FROM u" \
      -c "WITH d AS (DELETE FROM students WHERE id IN (1, 2) RETURNING 1) SELECT 'R:' || count(*) FROM d" -c "COMMIT" | rows)" \
   "0 0" "writes: UPDATE and DELETE of other tenants' rows touch nothing"
is "$(su_q -c "SELECT count(*) FROM students WHERE name IN ('planted', 'x')")" "0" "writes: nothing planted or changed"

# --- Routing --------------------------------------------------------------------------------------
explain_tasks() {
    as_app 0 -c "BEGIN" -c "$(set_a "$1")" -c "EXPLAIN (COSTS OFF) $2" -c "COMMIT" | grep -o 'Task Count: [0-9]*'
}
is "$(explain_tasks "$A" "SELECT id, name FROM students ORDER BY id LIMIT 50")" "Task Count: 1" \
   "routing: top-50 with no tenant predicate goes to one shard"
is "$(explain_tasks "$A" "SELECT name FROM students WHERE id = 42")" "Task Count: 1" "routing: point lookup goes to one shard"
is "$(explain_tasks "$A" "SELECT s.name, count(*) FROM students s JOIN enrollments e ON e.tenant_id = s.tenant_id AND e.student_id = s.id GROUP BY 1")" \
   "Task Count: 1" "routing: a join of co-located protected tables goes to one shard"
is "$(explain_tasks "$A" "SELECT s.name, e.course_id FROM students s LEFT JOIN enrollments e ON e.tenant_id = s.tenant_id AND e.student_id = s.id")" \
   "Task Count: 1" "routing: a LEFT JOIN goes to one shard (the tenant predicate restricts the null-extended side in ON)"
is "$(explain_tasks "$A" "UPDATE students SET name = name WHERE id = 3")" "Task Count: 1" "routing: UPDATE without tenant predicate goes to one shard"
is "$(as_app 0 -c "BEGIN" -c "EXPLAIN (COSTS OFF) SELECT id FROM students ORDER BY id LIMIT 50" -c "COMMIT" | grep -o 'Task Count: [0-9]*')" \
   "Task Count: 32" "routing: without a context nothing is added (and the workers return nothing)"
# The same prepared statements under A, then B, A, B...: custom plans, then the generic plan.
script="PREPARE top AS SELECT 'R:' || min(tenant_id::text) || ':' || max(tenant_id::text) || ':' || count(*) FROM (SELECT tenant_id FROM students ORDER BY id LIMIT 50) s;
PREPARE one(bigint) AS SELECT 'R:' || coalesce(min(tenant_id::text), 'none') FROM students WHERE id = \$1;"
expected=
for round in 1 2 3 4 5 6 7 8; do
    if [ $((round % 2)) = 1 ]; then tok=$A want="$T1:$T1:50 $T1 none"; else tok=$B want="$T2:$T2:50 none $T2"; fi
    script+=" BEGIN; $(set_a "$tok"); EXECUTE top; EXECUTE one(3); EXECUTE one(4); COMMIT;"
    expected+="${expected:+ }$want"
done
prepared=$(as_app 0 <<<"$script" | rows)
is "$prepared" "$expected" "routing: prepared statements run under A, B, A, B... (8 rounds, into the generic plan) return only each tenant's rows"
is "$(as_app 0 -c "CREATE FUNCTION pg_temp.students_seen() RETURNS text LANGUAGE plpgsql AS \$\$ BEGIN RETURN (SELECT min(tenant_id::text) || count(*) FROM students); END \$\$" \
      -c "BEGIN" -c "$(set_a "$A")" -c "SELECT 'R:' || pg_temp.students_seen()" -c "COMMIT" \
      -c "BEGIN" -c "$(set_a "$B")" -c "SELECT 'R:' || pg_temp.students_seen()" -c "COMMIT" | rows)" \
   "${T1}1001 ${T2}1000" "routing: a PL/pgSQL function's saved plan follows the tenant"

# --- Directly on a worker, as the application role ---------------------------------------------------
forged="${A%?}$( [ "${A: -1}" = A ] && echo B || echo A)"
is "$(as_app 1 -c "SET tenant_guard.tenant_id = '$T2'")" "42501" "worker: SET tenant_guard.tenant_id is refused"
is "$(as_app 1 -c "BEGIN" -c "SET LOCAL tenant_guard.distributed_context = '$T1 $A'")" "28000" \
   "worker: an application's valid token is no assertion: refused"
is "$(as_app 1 -c "BEGIN" -c "SELECT set_config('tenant_guard.distributed_context', '$T1 $forged', true)")" "28000" \
   "worker: a forged token is refused (set_config)"
is "$(as_app 1 -c "BEGIN" -c "SET LOCAL tenant_guard.distributed_context = '$T1 eyJhbGciOiJub25lIn0.eyJ0ZW5hbnRfaWQiOiIxMTExMTExMS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEifQ.'")" "28000" \
   "worker: an alg none token is refused"
is "$(as_app 1 -c "BEGIN" -c "SET LOCAL tenant_guard.distributed_context = '$T1'")" "22023" "worker: a context without token is refused"
like "$(PGOPTIONS="-c tenant_guard.distributed_context=$T1" as_app 1 -c "SELECT 1")" "FATAL: +tenant_guard.distributed_context can only be set for a transaction" \
     "worker: a startup option is refused"
is "$(su_q -p "$TG_WORKER1_PORT" -h 127.0.0.1 -c "ALTER ROLE pool_app SET tenant_guard.distributed_context = '$T1 $A'" 2>&1 | grep -c ERROR)" "1" \
   "worker: a stored role setting is refused"
is "$(as_app 1 -c "BEGIN" -c "SELECT 'R:' || count(*) FROM students" -c "COMMIT" | rows)" "0" "worker: without a context the application sees no rows there"
is "$(on_worker 1 -c "SELECT count(*) FROM tenant_guard.security_events WHERE kind IN ('context_refused', 'context_tampering')")" "6" \
   "worker: each refusal there is a security event on that worker"

# --- Guards on the coordinator and on a worker's shard --------------------------------------------
shard=$(su_q -c "SELECT shard_name('students', get_shard_id_for_distribution_column('students', '$T1'))")
shard_port=$(su_q -c "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('students', '$T1')")
is "$(psql -X -At -v VERBOSITY=sqlstate -h 127.0.0.1 -p "$TG_COORD_PORT" -U district_owner -c "ALTER TABLE students NO FORCE ROW LEVEL SECURITY" 2>&1)" \
   "ERROR:  42501" "guards: the owner cannot drop FORCE on the coordinator's table"
is "$(psql -X -At -v VERBOSITY=sqlstate -h 127.0.0.1 -p "$shard_port" -U district_owner -c "ALTER TABLE $shard DISABLE ROW LEVEL SECURITY" \
      -c "DROP POLICY tenant_guard_isolation ON $shard" 2>&1 | tr '\n' ' ')" \
   "ERROR:  42501 ERROR:  42501 " "guards: the owner can neither disable RLS nor drop a policy on a shard, directly on its worker"

# --- Shards move --------------------------------------------------------------------------------------
target=$([ "$shard_port" = "$TG_WORKER1_PORT" ] && echo "$TG_WORKER2_PORT" || echo "$TG_WORKER1_PORT")
su_q -c "SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('students', '$T1'), '127.0.0.1', $shard_port, '127.0.0.1', $target)" >/dev/null
is "$(su_q -c "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('students', '$T1')")" "$target" \
   "shards: tenant A's shard moved to the other worker"
is "$(in_tenant "$A" "SELECT 'R:' || count(*) || ' ' || count(DISTINCT s.tenant_id) FROM students s JOIN enrollments e ON e.tenant_id = s.tenant_id AND e.student_id = s.id")" \
   "2000 1" "shards: after the move tenant A still sees exactly its rows (and the co-located join)"
su_q -c "SELECT rebalance_table_shards()" >/dev/null
protection="$(shard_protection 1) $(shard_protection 2)"
ok "$(awk '{split($1, a, "/"); split($2, b, "/"); if (a[1] == a[2] && b[1] == b[2] && a[2] + b[2] >= 68) print "yes"}' <<<"$protection")" \
   "shards: after moving and rebalancing every placement (old ones awaiting cleanup too) is still protected ($protection)"
is "$(in_tenant "$B" "SELECT 'R:' || count(*) || ' ' || count(DISTINCT tenant_id) FROM students")" "1000 1" "shards: after rebalancing tenant B sees exactly its rows"

# --- Reference tables and schema-based sharding ------------------------------------------------------
is "$(su_q -c "SELECT count(*) FROM pg_policy WHERE polrelid = 'courses'::regclass")|$(in_tenant "$C" "SELECT 'R:' || count(*) FROM courses")" "0|2" \
   "reference tables: a table without the tenant column is shared (no policy), every tenant reads it"
out=$(su_q -q -c "SET citus.enable_schema_based_sharding = on" -c "CREATE SCHEMA district_north" -c "RESET citus.enable_schema_based_sharding" \
    -c "CREATE TABLE district_north.notes (tenant_id uuid NOT NULL, id bigint, body text, PRIMARY KEY (tenant_id, id))" \
    -c "INSERT INTO district_north.notes VALUES ('$T1', 1, 'a'), ('$T2', 2, 'b')" \
    -c "GRANT USAGE ON SCHEMA district_north TO pool_app" -c "GRANT SELECT ON district_north.notes TO pool_app" \
    -c "SELECT citus_table_type FROM citus_tables WHERE table_name = 'district_north.notes'::regclass")
is "$out|$(in_tenant "$B" "SELECT 'R:' || string_agg(body, ',') FROM district_north.notes")|$(explain_tasks "$B" "SELECT * FROM district_north.notes")" \
   "schema|b|Task Count: 1" "schema-based sharding: a tenant table in a distributed schema is protected, isolated and routed"

# --- A worker checks the token with its own keys -------------------------------------------------------
tg_write_key_set "$TG_CITUS_DIR/other-keys.json" cluster
on_worker 2 -q -c "ALTER SYSTEM SET tenant_guard.jwks_file = '$TG_CITUS_DIR/other-keys.json'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
on_worker2_tenant=$(su_q -c "SELECT tenant FROM citus_tokens t JOIN pg_dist_shard_placement p ON p.shardid = get_shard_id_for_distribution_column('students', t.tenant)
                             WHERE p.nodeport = $TG_WORKER2_PORT LIMIT 1")
tok=$(su_q -c "SELECT token FROM citus_tokens WHERE tenant = '$on_worker2_tenant'")
is "$(as_app 0 -c "BEGIN" -c "$(set_a "$tok")" -c "SELECT count(*) FROM students" | tail -1)" "28000" \
   "trust: a worker with another cluster key refuses the coordinator's assertion"
on_worker 2 -q -c "ALTER SYSTEM RESET tenant_guard.jwks_file" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1

# A foreign key's own queries run without row-level security: no tenant predicate there either.
su_q -q -U district_owner -c "ALTER TABLE enrollments ADD CONSTRAINT enrollments_course FOREIGN KEY (course_id) REFERENCES courses ON DELETE CASCADE" \
    -c "GRANT DELETE ON courses TO pool_app"
as_app 0 -c "BEGIN" -c "$(set_a "$A")" -c "DELETE FROM courses WHERE course_id = 2" -c "COMMIT" >/dev/null
is "$(su_q -c "SELECT count(*) FILTER (WHERE course_id = 2) || ' ' || count(*) FROM enrollments")" "0 3000" \
   "routing: ON DELETE CASCADE from a reference table, under tenant A, removes every tenant's rows (no orphans)"

# --- What other sessions of the application role can see -------------------------------------------
# Tenant A's transactions run while another session of the same role watches every worker's
# pg_stat_activity and the coordinator's citus_stat_activity for the commands Citus sends.
cat >"$TG_CITUS_DIR/victim.sql" <<'SQL'
BEGIN;
SELECT tenant_guard.set_tenant(:token, true) IS NULL;
SELECT count(*) FROM students;
COMMIT;
SQL
# Watches a view for 3 s from inside the server (the command is on screen for microseconds).
watch() {  # $1 port, $2 the view
    psql -X -At -h 127.0.0.1 -p "$1" -U pool_app -c "CREATE TEMP TABLE seen (q text)" -c "
        DO \$\$ DECLARE started timestamptz := clock_timestamp(); BEGIN
          WHILE clock_timestamp() < started + interval '3 s' LOOP
            PERFORM pg_stat_clear_snapshot();
            INSERT INTO seen SELECT query FROM $2 WHERE query LIKE '%distributed_context%' AND query NOT LIKE '%seen%';
          END LOOP; END \$\$" -c "SELECT DISTINCT q FROM seen" 2>&1
}
pgbench -n -h 127.0.0.1 -p "$TG_COORD_PORT" -U pool_app -M extended -D token="$A" -c 2 -T 5 -f "$TG_CITUS_DIR/victim.sql" postgres >/dev/null 2>&1 &
victim=$!
sleep 0.5
watch "$TG_WORKER1_PORT" pg_stat_activity >"$TG_CITUS_DIR/seen1" &
watch "$TG_WORKER2_PORT" pg_stat_activity >"$TG_CITUS_DIR/seen2" &
watch "$TG_COORD_PORT" citus_stat_activity >"$TG_CITUS_DIR/seen0"
wait
seen=$(cat "$TG_CITUS_DIR"/seen[012])
signature=${A##*.}
assertions=$(grep -o "distributed_context TO '[^']*'" <<<"$seen" | sed -E "s/.* '[0-9a-f-]+ ([^']*)'/\1/" | sort -u)
ok "$([ -n "$assertions" ] && echo yes)" "exposure: the watchers saw what Citus sends the workers ($(grep -c . <<<"$assertions") distinct assertions)"
is "$(grep -c -- "$signature" <<<"$seen")" "0" "exposure: tenant A's token never appears there (its signature is nowhere in what the watcher saw)"
copied=$(head -1 <<<"$assertions")
is "$(as_app 0 -c "SELECT tenant_guard.set_tenant('$copied', true)")|$(as_app 0 -c "BEGIN" -c "SET LOCAL tenant_guard.distributed_context = '$T1 $copied'")" \
   "28000|42501" "exposure: an assertion copied from there opens nothing on the coordinator (set_tenant, distributed_context)"
# Replayed directly on a worker (which pg_hba should keep applications from) it lasts its 2 minutes,
# for its tenant, and cannot be turned into a context of the session's own.
is "$(as_app 1 -c "BEGIN" -c "SET LOCAL tenant_guard.distributed_context = '$T1 $copied'" -c "SELECT tenant_guard.switch_tenant('$T1')")" "28000" \
   "exposure: on a worker, switch_tenant() cannot build on a received context"

# --- pgbouncer in transaction mode in front of the coordinator ---------------------------------------
tg_pgbouncer_start citus transaction postgres 3 >/dev/null || echo "# pgbouncer did not start"
cat >"$TG_CITUS_DIR/pool.sql" <<'SQL'
\set n random(1, 3)
SELECT token, tenant FROM citus_tokens WHERE n = :n \gset
BEGIN;
SELECT tenant_guard.set_tenant(:token, true);
-- Divides by zero unless the tenant's rows, and only those, came back.
SELECT 1 / (count(*) > 0 AND count(*) FILTER (WHERE tenant_id <> :tenant) = 0)::int FROM students;
COMMIT;
SQL
out=$(pgbench -n -h 127.0.0.1 -p "$TG_BOUNCER_PORT" -U pool_app -M extended -c 8 -j 2 -t 150 -f "$TG_CITUS_DIR/pool.sql" postgres 2>&1)
rc=$?
is "$rc:$(grep -c 'division by zero' <<<"$out")" "0:0" "pgbouncer: 8 clients x 150 transactions over 3 server connections, each sees exactly its tenant's rows"
[ "$rc" = 0 ] || sed -n '1,10p' <<<"$out" | sed 's/^/#   /'
is "$(su_q -c "SELECT count(DISTINCT pid) <= 3 FROM pg_stat_activity WHERE usename = 'pool_app' AND backend_type = 'client backend'")" "t" \
   "pgbouncer: the clients shared at most 3 coordinator backends"
