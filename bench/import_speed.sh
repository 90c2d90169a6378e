#!/usr/bin/env bash
# How fast tenant_guard.import_tenant() moves a district in, against the hand-written pipeline an
# operator would otherwise run, side by side in one run on a throwaway cluster (not part of the
# pass/fail tests: these machines are shared and noisy, so the two are interleaved round by round and
# the report gives medians and per-round ratios).
#
# The district: its own database District001 (no tenant column) with courses (COURSES, 500 rows),
# students (2/5 of ROWS) and enrollments (3/5 of ROWS, references students and courses); ROWS is
# 1,000,000 by default. Columns: bigint identity ids, text, date, numeric, timestamptz.
# The service database bench: the same tables with tenant_id uuid first, protected automatically by
# tenant_guard, primary keys (tenant_id, id), foreign keys enrollments (tenant_id, student_id) ->
# students and (tenant_id, course_id) -> courses, no autovacuum. It already holds one other district
# (the same data under another tenant, loaded by import_tenant() before the rounds), so that every
# cell loads into tables of the same, non-empty size.
#
# Cells (each into a fresh tenant uuid, timed end to end from the client, date +%s%N around it):
#   import   psql -c "SELECT * FROM tenant_guard.import_tenant('dbname=District001 host=... port=...', <tenant>)"
#            one transaction: the three COPYs (binary) streamed from the source into the target's COPY
#            machinery, sequences advanced, every table reconciled by checksum against the source
#   pipe     what an operator runs by hand, as the superuser (COPY FROM is refused under row-level
#            security for other roles), for each table in FK order (courses, students, enrollments):
#              psql -d District001 -c "COPY (SELECT '<tenant>'::uuid, cols... FROM t) TO STDOUT" |
#                psql -d bench -c "COPY t (tenant_id, cols...) FROM STDIN"
#            then one psql that moves the three identity sequences past the tenant's ids (setval); text
#            format, three transactions, no reconciliation
# Every import cell is watched through tenant_guard.transfer_progress and pg_stat_activity every 0.1 s
# (so is every pipe cell, to cost both the same), which splits its time by phase: the connection and
# the catalogs, each table's copy (with its sequence), the reconciliation after the last copy; and
# tells when the source's checksum statement (a second connection, sent before the first COPY) ended.
# After each cell (untimed): tenant_guard.reconcile_tenant() of the cell's tenant, timed - what
# reconciliation costs alone, and the check that the pipe copied exactly the source's rows - then the
# tenant's rows are deleted (children first, FK triggers off) and the tables vacuumed and analyzed:
# vacuum cuts the heap back to the baseline district and REINDEX rebuilds the indexes, so every cell
# starts from the same tables. Every cell starts right after a CHECKPOINT (max_wal_size is raised so that none
# falls inside a cell). Rounds alternate which variant goes first. Per cell also the CPU time of the
# server's backends (the postmaster's reaped children: cutime + cstime) and of the client processes
# (this shell's reaped children).
# Ratio "import_tenant speed / COPY pipe speed" = pipe time / import time: per round, and the median
# of those (goal >= 0.8); also against the import without its final reconciliation phase, and against
# the pipe followed by reconcile_tenant() (a pipe checked the way import checks itself).
# PERF=1: one more import after the rounds with perf record -a (no call graphs) over the whole machine:
# CPU seconds by process (the importing backend, the source's COPY backend, the source's checksum
# connection, everything else) and the importing backend's top symbols.
#
#   bash bench/import_speed.sh                   about 8 minutes on 2 cores (9 rounds), more under load
#   ROUNDS=3 bash bench/import_speed.sh          quicker
#   ROWS=200000 ROUNDS=3 bash bench/import_speed.sh   a smaller district (a smoke test)
#   PERF=1 bash bench/import_speed.sh            also the per-process profile of one more import
# Writes bench/results/import_speed.md (OUT=file.md to write elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/common.sh
bench_start
rows_total=${ROWS:-1000000}
courses=${COURSES:-500}
students=$((rows_total * 2 / 5))
enrollments=$((rows_total - students))
rounds=${ROUNDS:-9}
report_file=${OUT:-$results/import_speed.md}
bench_library
grep -q tg_import_tenant "$so_file" ||
    { echo "the installed $so_file has no import_tenant()" >&2; exit 1; }

# A port of our own. tg_free_port skips the throwaway clusters' sockets (/tmp/tenant_guard*/socket)
# but not a long-lived developer cluster's elsewhere (e.g. /tmp/tgdev/socket on 55432): start higher
# and skip any port with a socket in a directory under /tmp.
if [ -z "${TG_PORT:-}" ]; then
    for port in $(seq 56432 57432); do
        compgen -G "/tmp/*/socket/.s.PGSQL.$port" >/dev/null && continue
        [ "$(tg_free_port "$port")" = "$port" ] && { export TG_PORT=$port; break; }
    done
fi
bench_cluster_start 20
watcher=""; perf_pid=""
stop_all() {  # the watcher and perf, if the run stops while they run; then the cluster
    local pid
    for pid in $watcher $perf_pid; do kill "$pid" 2>/dev/null || true; done
    tg_cluster_stop
}
trap stop_all EXIT
# No checkpoint inside a cell: each starts after an explicit CHECKPOINT, and a cell writes ~0.5 GB of WAL.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
postmaster=$(head -1 "$TG_DATA/postmaster.pid")
ticks=$(getconf CLK_TCK)
source_db=District001
source_conninfo="dbname=$source_db host=$PGHOST port=$PGPORT"
tables=(courses students enrollments)   # FK order: parents first
declare -A columns=(
    [courses]="id, code, title, credits, created_at"
    [students]="id, first_name, last_name, email, birth_date, gpa, enrolled_at"
    [enrollments]="id, student_id, course_id, term, grade, enrolled_on, updated_at"
)
src() { psql -X -At -q -v ON_ERROR_STOP=1 -d "$source_db" "$@"; }

# --- The district's own database ------------------------------------------------------------------
echo "building $source_db ($courses courses, $students students, $enrollments enrollments) ..."
createdb "$source_db"
src >/dev/null <<SQL
SELECT setseed(0.42);
CREATE TABLE courses (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text NOT NULL,
  title text NOT NULL, credits numeric(3,1) NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE students (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, first_name text NOT NULL,
  last_name text NOT NULL, email text NOT NULL, birth_date date NOT NULL, gpa numeric(3,2),
  enrolled_at timestamptz NOT NULL);
CREATE TABLE enrollments (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  student_id bigint NOT NULL REFERENCES students, course_id bigint NOT NULL REFERENCES courses,
  term text NOT NULL, grade numeric(5,2), enrolled_on date NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO courses (id, code, title, credits, created_at)
SELECT i, 'C' || lpad(i::text, 4, '0'), 'Course ' || md5(i::text), (1 + i % 8) / 2.0,
       timestamptz '2015-08-01 08:00+00' + i * interval '1 hour'
  FROM generate_series(1, $courses) i;
INSERT INTO students (id, first_name, last_name, email, birth_date, gpa, enrolled_at)
SELECT i, initcap(substr(md5('f' || i), 1, 7)), initcap(substr(md5('l' || i), 1, 10)),
       'student' || i || '@district001.example.org', date '2005-01-01' + ((i::bigint * 7919) % 5000)::int,
       CASE WHEN i % 10 = 0 THEN NULL ELSE round((random() * 4)::numeric, 2) END,
       timestamptz '2018-09-01 08:00+00' + i * interval '7 minutes 13.25 seconds'
  FROM generate_series(1, $students) i;
INSERT INTO enrollments (id, student_id, course_id, term, grade, enrolled_on, updated_at)
SELECT i, 1 + (i::bigint * 7) % $students, 1 + (i::bigint * 13) % $courses,
       (2019 + i % 6) || CASE WHEN i % 2 = 0 THEN '-fall' ELSE '-spring' END,
       CASE WHEN i % 7 = 0 THEN NULL ELSE round((random() * 100)::numeric, 2) END,
       date '2019-01-15' + i % 2000, timestamptz '2019-01-15 10:00+00' + i * interval '3 minutes 1.5 seconds'
  FROM generate_series(1, $enrollments) i;
SELECT setval(pg_get_serial_sequence('courses', 'id'), $courses),
       setval(pg_get_serial_sequence('students', 'id'), $students),
       setval(pg_get_serial_sequence('enrollments', 'id'), $enrollments);
VACUUM ANALYZE;
SQL
source_mb=$(src -c "SELECT round(pg_database_size(current_database()) / 1048576.0)")

# --- The service database -------------------------------------------------------------------------
createdb bench
q >/dev/null <<SQL
CREATE EXTENSION tenant_guard;
CREATE TABLE courses (tenant_id uuid NOT NULL, id bigint GENERATED BY DEFAULT AS IDENTITY, code text NOT NULL,
  title text NOT NULL, credits numeric(3,1) NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE students (tenant_id uuid NOT NULL, id bigint GENERATED BY DEFAULT AS IDENTITY, first_name text NOT NULL,
  last_name text NOT NULL, email text NOT NULL, birth_date date NOT NULL, gpa numeric(3,2),
  enrolled_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE enrollments (tenant_id uuid NOT NULL, id bigint GENERATED BY DEFAULT AS IDENTITY,
  student_id bigint NOT NULL, course_id bigint NOT NULL, term text NOT NULL, grade numeric(5,2),
  enrolled_on date NOT NULL, updated_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, student_id) REFERENCES students (tenant_id, id),
  FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id));
ALTER TABLE courses SET (autovacuum_enabled = off);
ALTER TABLE students SET (autovacuum_enabled = off);
ALTER TABLE enrollments SET (autovacuum_enabled = off);
SQL
[ "$(q -c "SELECT count(*) FROM tenant_guard.protected_tables
            WHERE table_name IN ('courses'::regclass, 'students'::regclass, 'enrollments'::regclass) AND protected")" = 3 ] ||
    { echo "the service tables are not protected by tenant_guard" >&2; exit 1; }
# Only the primary keys: the automatic index is not added (they lead with tenant_id).
[ "$(q -c "SELECT count(*) FROM pg_index WHERE indrelid IN ('courses'::regclass, 'students'::regclass, 'enrollments'::regclass)")" = 3 ] ||
    { echo "unexpected indexes on the service tables" >&2; exit 1; }

# --- Cells ----------------------------------------------------------------------------------------
tenant_for() { printf '%s0000000-0000-4000-8000-%012d' "$1" "$2"; }   # $1 a hex digit, $2 a number
baseline_tenant=$(tenant_for d 0)

now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }
# CPU (s) of the postmaster's reaped children (the backends) and of this shell's (psql, ...).
server_cpu() { awk -v t="$ticks" '{printf "%.2f", ($16 + $17) / t}' "/proc/$postmaster/stat"; }
client_cpu() { awk -v t="$ticks" '{printf "%.2f", ($16 + $17) / t}' "/proc/$$/stat"; }
# Until no backend of a client is left (the cell's backends have exited and been reaped).
wait_backends_gone() {
    for _ in $(seq 100); do
        pgrep -P "$postmaster" -f 'postgres: .*\[local\]' >/dev/null || return 0
        sleep 0.05
    done
    echo "backends of the last cell did not exit" >&2; exit 1
}
target_mb() { q -c "SELECT round(sum(pg_total_relation_size(t)) / 1048576.0) FROM unnest('{courses,students,enrollments}'::regclass[]) t"; }

run_import() {  # $1 tenant
    q -F ' ' -c "SELECT table_name, source_rows, imported_rows, reconciled
                   FROM tenant_guard.import_tenant('$source_conninfo', '$1')" > "$work/import.out"
}
check_import() {  # $1 tenant
    [ "$(awk '$4 == "t" && $2 == $3 {n += $3} END {print n + 0}' "$work/import.out")" = $((courses + students + enrollments)) ] ||
        { echo "import_tenant into $1 did not import and reconcile every row:" >&2; cat "$work/import.out" >&2; exit 1; }
}

run_pipe() {  # $1 tenant
    local t
    for t in "${tables[@]}"; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$source_db" -c "COPY (SELECT '$1'::uuid, ${columns[$t]} FROM $t) TO STDOUT" |
            psql -X -q -v ON_ERROR_STOP=1 -d bench -c "COPY $t (tenant_id, ${columns[$t]}) FROM STDIN"
    done
    # The sequences the manual way: past the district's largest id, never backwards.
    for t in "${tables[@]}"; do
        echo "SELECT setval(pg_get_serial_sequence('$t', 'id'), GREATEST((SELECT max(id) FROM $t WHERE tenant_id = '$1'),
                                                                  (SELECT last_value FROM ${t}_id_seq)));"
    done | q >/dev/null
}
check_pipe() { :; }   # reconcile_tenant() after the cell checks it

run_reconcile() {  # $1 tenant; prints the seconds
    local started out
    started=$(now_ns)
    out=$(q -F ' ' -c "SELECT table_name, source_rows, target_rows, matches
                         FROM tenant_guard.reconcile_tenant('$source_conninfo', '$1')")
    seconds_since "$started"
    [ "$(awk '$4 == "t" && $2 == $3 {n += $3} END {print n + 0}' <<<"$out")" = $((courses + students + enrollments)) ] ||
        { echo "reconcile_tenant of $1 does not match the source:" >&2; echo "$out" >&2; exit 1; }
}

remove_tenant() {  # $1 tenant: its rows deleted (children first, FK triggers off), tables vacuumed
    q >/dev/null <<SQL
SET session_replication_role = replica;
DELETE FROM enrollments WHERE tenant_id = '$1';
DELETE FROM students WHERE tenant_id = '$1';
DELETE FROM courses WHERE tenant_id = '$1';
RESET session_replication_role;
VACUUM ANALYZE courses, students, enrollments;
-- Indexes rebuilt: the emptied pages would otherwise be reused over the next cells, each cell
-- meeting a different index.
REINDEX TABLE courses;
REINDEX TABLE students;
REINDEX TABLE enrollments;
SQL
    [ "$(q -c "SELECT count(*) FROM students WHERE tenant_id <> '$baseline_tenant'")" = 0 ] ||
        { echo "rows of another tenant than the baseline's are left" >&2; exit 1; }
}

# The watcher: every 0.1 s the import's progress row (phase, table) and whether the source's checksum
# statement still runs; then the source connections (application_name tenant_guard) by pid.
start_watcher() {  # $1 log file
    psql -X -At -F '|' -d bench >"$1" 2>/dev/null <<'SQL' &
SELECT extract(epoch FROM clock_timestamp()), p.phase, coalesce(p.table_name, ''), p.rows_done,
       (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenant_guard' AND state = 'active'
           AND query LIKE '(SELECT 0 AS position%'),
       (SELECT string_agg(pid || ':' || CASE WHEN query LIKE 'COPY%' THEN 'copy' WHEN query LIKE '(SELECT 0 AS position%'
                                              THEN 'checksum' ELSE 'other' END, ' ')
          FROM pg_stat_activity WHERE application_name = 'tenant_guard')
  FROM tenant_guard.transfer_progress p WHERE p.operation = 'import' \watch 0.1
SQL
    watcher=$!
    sleep 0.3   # connected before the cell starts
}
stop_watcher() { kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; watcher=""; }
# Phases of a watched import: consecutive polls with the same (phase, table) make one segment, from its
# first poll until the next segment's (or the end of the call); one line "phase|seconds" per phase,
# segments of the same phase added, in order of appearance; "checksum ran until|seconds" (since the
# start) for the source's checksum statement.
phases_of() {  # $1 log, $2 start (ns), $3 end (ns)
    awk -F '|' -v start="$2" -v end="$3" '
        NF < 6 { next }
        { key = $2 ($3 == "" ? "" : " " $3)
          if (n == 0 || key != name[n]) { name[++n] = key; from[n] = $1 * 1e9 }
          if ($5 > 0) checksum_last = $1 * 1e9 }
        END {
          if (n == 0) exit
          printf "connecting (until a poll saw the call)|%.2f\n", (from[1] - start) / 1e9
          for (i = 1; i <= n; i++) {
            if (!(name[i] in total)) order[++m] = name[i]
            total[name[i]] += ((i < n) ? from[i + 1] : end) - from[i]
          }
          for (j = 1; j <= m; j++) printf "%s|%.2f\n", order[j], total[order[j]] / 1e9
          if (checksum_last != "") printf "checksum ran until|%.2f\n", (checksum_last - start) / 1e9
        }' "$1"
}

declare -A elapsed reconcile_s cpu_server cpu_client size_before phase_s
phase_names=()
cell() {  # $1 variant (import | pipe), $2 round, $3 tenant
    local key=$1-$2 s0 c0 started ended line name
    check_library
    q -c "CHECKPOINT"
    size_before[$key]=$(target_mb)
    wait_backends_gone
    start_watcher "$work/progress-$key.log"   # its backend and psql are counted in both variants' CPU
    s0=$(server_cpu); c0=$(client_cpu)
    started=$(now_ns)
    "run_$1" "$3"
    ended=$(now_ns)
    stop_watcher
    wait_backends_gone
    elapsed[$key]=$(awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
    cpu_server[$key]=$(awk -v a="$s0" -v b="$(server_cpu)" 'BEGIN {printf "%.2f", b - a}')
    cpu_client[$key]=$(awk -v a="$c0" -v b="$(client_cpu)" 'BEGIN {printf "%.2f", b - a}')
    "check_$1" "$3"
    if [ "$1" = import ]; then
        while IFS= read -r line; do
            name=${line%|*}
            phase_s[$name-$2]=${line##*|}
            [[ " ${phase_names[*]} " == *" $name "* ]] || phase_names+=("$name")
        done < <(phases_of "$work/progress-$key.log" "$started" "$ended")
    fi
    reconcile_s[$key]=$(run_reconcile "$3")
    remove_tenant "$3"
}

# --- Baseline district, checks and warm-up ---------------------------------------------------------
echo "loading the baseline district with import_tenant() (${SECONDS}s) ..."
run_import "$baseline_tenant"
check_import "$baseline_tenant"
q -c "VACUUM ANALYZE courses, students, enrollments"
baseline_mb=$(target_mb)
echo "checking the pipe (${SECONDS}s) ..."
check_tenant=$(tenant_for e 0)
run_pipe "$check_tenant"
run_reconcile "$check_tenant" >/dev/null   # stops the run unless the pipe copied exactly the source's rows
# The manual sequences: past the district's ids.
[ "$(q -c "SELECT bool_and(last_value >= $students) FROM students_id_seq")" = t ] ||
    { echo "the pipe did not advance the students sequence" >&2; exit 1; }
remove_tenant "$check_tenant"
# Warm-up: both variants run once more.
echo "warming up (${SECONDS}s) ..."
run_import "$(tenant_for e 1)"
check_import "$(tenant_for e 1)"
remove_tenant "$(tenant_for e 1)"
run_pipe "$(tenant_for e 2)"
remove_tenant "$(tenant_for e 2)"

# --- Rounds ---------------------------------------------------------------------------------------
echo "running $rounds rounds (import and pipe alternating which goes first) (${SECONDS}s) ..."
rounds_started=$SECONDS
for round in $(seq "$rounds"); do
    order=(import pipe)
    (( round % 2 == 0 )) && order=(pipe import)
    for v in "${order[@]}"; do
        digit=a; [ "$v" = pipe ] && digit=b
        cell "$v" "$round" "$(tenant_for "$digit" "$round")"
    done
    echo "  round $round (${SECONDS}s): import ${elapsed[import-$round]}s (reconciling ${phase_s[reconciling-$round]:-?}s)," \
         "pipe ${elapsed[pipe-$round]}s, pipe / import $(awk -v p="${elapsed[pipe-$round]}" -v i="${elapsed[import-$round]}" 'BEGIN {printf "%.3f", p / i}');" \
         "reconcile_tenant ${reconcile_s[import-$round]}s"
done
rounds_seconds=$((SECONDS - rounds_started))
check_library
load_after=$(cut -d" " -f1-3 /proc/loadavg)

# --- PERF=1: one more import, the whole machine sampled -------------------------------------------
perf_rows=""
if [ "${PERF:-0}" = 1 ]; then
    echo "one more import under perf record -a (${SECONDS}s) ..."
    perf_tenant=$(tenant_for c 0)
    q -c "CHECKPOINT"
    # The importing session writes its backend's pid and CPU time (/proc/<pid>/stat) before and after.
    cat > "$work/import.sql" <<SQL
SELECT pg_backend_pid() AS pid \\gset
\\setenv TG_BACKEND :pid
\\! echo "\$TG_BACKEND" > "$work/backend.pid"; awk '{print \$14 + \$15}' "/proc/\$TG_BACKEND/stat" > "$work/backend.cpu"
\\! date +%s%N > "$work/import.start"
SELECT table_name, source_rows, imported_rows, reconciled FROM tenant_guard.import_tenant('$source_conninfo', '$perf_tenant');
\\! date +%s%N > "$work/import.end"
\\! awk '{print \$14 + \$15}' "/proc/\$TG_BACKEND/stat" >> "$work/backend.cpu"
SQL
    start_watcher "$work/progress-perf.log"
    perf record -a -F 499 -o "$work/import-perf.data" >"$work/perf-record.log" 2>&1 &
    perf_pid=$!
    sleep 0.5
    q -F ' ' -f "$work/import.sql" > "$work/import.out"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true   # perf exits non-zero after SIGINT
    perf_pid=""
    stop_watcher
    [ -s "$work/import-perf.data" ] || { echo "perf record failed:" >&2; cat "$work/perf-record.log" >&2; exit 1; }
    check_import "$perf_tenant"
    perf_total=$(awk -v a="$(cat "$work/import.start")" -v b="$(cat "$work/import.end")" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
    backend_cpu=$(awk -v t="$ticks" 'NR == 1 {a = $1} NR == 2 {printf "%.2f", ($1 - a) / t}' "$work/backend.cpu")
    backend_pid=$(cat "$work/backend.pid")
    copy_pids=$(grep -oE '[0-9]+:copy' "$work/progress-perf.log" | cut -d: -f1 | sort -u | paste -sd' ' || true)
    checksum_pids=$(grep -oE '[0-9]+:checksum' "$work/progress-perf.log" | cut -d: -f1 | sort -u | paste -sd' ' || true)
    # CPU seconds per process: samples / 499 Hz.
    perf_rows=$(perf report -i "$work/import-perf.data" --sort pid --stdio -F overhead,sample,pid 2>/dev/null |
        grep -E '^ +[0-9]' | awk -v b="$backend_pid" -v copy=" $copy_pids " -v sum=" $checksum_pids " '
        { pid = $3; sub(/:.*/, "", pid); s = $2 / 499
          if (pid == b) who = "importing backend (target)"
          else if (index(copy, " " pid " ")) who = "source: COPY TO STDOUT backend"
          else if (index(sum, " " pid " ")) who = "source: checksum connection"
          else if (pid == 0) who = "idle"
          else who = "everything else on the machine (other users included)"
          t[who] += s }
        END { for (w in t) printf "| %s | %.2f |\n", w, t[w] }' | sort -t'|' -k3 -rn)
    perf_top=$(perf report -i "$work/import-perf.data" --pid "$backend_pid" --percentage relative --sort dso,sym --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -20 | cut -c1-100 || true)   # head closes the pipe early
    remove_tenant "$perf_tenant"
fi

# --- Report ---------------------------------------------------------------------------------------
# The phases in the order an import goes through them; one no poll saw in a round (a table copied in
# under 0.1 s) lasted about 0 s there.
phase_rank() {
    case $1 in
        connecting*) echo 0 ;; "reading catalogs") echo 1 ;; starting) echo 2 ;; deleting*) echo 3 ;;
        "copying public.courses") echo 4 ;; "copying public.students") echo 5 ;; "copying public.enrollments") echo 6 ;;
        copying*) echo 7 ;; reconciling) echo 8 ;; *) echo 9 ;;
    esac
}
mapfile -t phase_names < <(for name in "${phase_names[@]}"; do echo "$(phase_rank "$name")|$name"; done | sort -t'|' -k1,1n | cut -d'|' -f2)
for name in "${phase_names[@]}"; do
    [ "$name" = "checksum ran until" ] && continue
    for r in $(seq "$rounds"); do phase_s[$name-$r]=${phase_s[$name-$r]:-0}; done
done
r3() { awk -v x="$1" 'BEGIN {printf "%.3f", x}'; }
ratio() { awk -v p="$1" -v i="$2" 'BEGIN {printf "%.3f", p / i}'; }
per_round() {  # $1 an awk expression of ip, pp (import, pipe s), ic (import's reconciling phase s), pr
    local r    # (reconcile_tenant() s after the pipe): its value for every round, one a line
    for r in $(seq "$rounds"); do
        awk -v ip="${elapsed[import-$r]}" -v pp="${elapsed[pipe-$r]}" -v ic="${phase_s[reconciling-$r]:-0}" \
            -v pr="${reconcile_s[pipe-$r]}" "BEGIN {printf \"%.3f\\n\", $1}"
    done
}
summary() {  # stdin: values; "median (min-max)"
    sort -n | awk '{a[NR] = $1} END {printf "%.3f (%.3f-%.3f)", a[int((NR + 1) / 2)], a[1], a[NR]}'
}
import_median=$(round_median elapsed import)
pipe_median=$(round_median elapsed pipe)
ratio_median=$(per_round 'pp / ip' | median)
sizes="import $(for r in $(seq "$rounds"); do echo "${size_before[import-$r]}"; done | paste -sd' '), pipe $(
    for r in $(seq "$rounds"); do echo "${size_before[pipe-$r]}"; done | paste -sd' ')"
{
    echo "# import_tenant() against a hand-written COPY pipe (1 district, $((courses + students + enrollments)) rows)"
    echo
    report_run | sed -e 's/; pgbench on the same machine\./; the clients (psql) on the same machine./'
    echo "unchanged during the run). Whole run ${SECONDS}s (the rounds ${rounds_seconds}s). The machine has 2 cores"
    echo "and is shared (other users' builds and clusters ran alongside): single cells move by tens of percent,"
    echo "which is why the variants alternate and the ratios are taken round by round."
    echo
    echo "Method: \`bench/import_speed.sh\` (\`ROUNDS=$rounds\`). The district's own database $source_db ($source_mb MB):"
    echo "courses ($courses rows), students ($students), enrollments ($enrollments, FK to both); bigint identity ids, text,"
    echo "date, numeric, timestamptz. The service database: the same tables with tenant_id uuid, protected by"
    echo "tenant_guard, primary keys (tenant_id, id), FKs enrollments (tenant_id, student_id) -> students and"
    echo "(tenant_id, course_id) -> courses, already holding one other district (the same rows under another"
    echo "tenant: $baseline_mb MB with indexes). Source and target in the same cluster (unix socket), fsync = off,"
    echo "max_wal_size 8GB, a CHECKPOINT before every cell. Each cell loads the district into a fresh tenant, timed"
    echo "from the client (date +%s%N around the psql processes):"
    echo
    echo "- **import**: \`SELECT * FROM tenant_guard.import_tenant('dbname=$source_db host=... port=...', <tenant>)\`:"
    echo "  one transaction, binary COPY streamed from the source into the target's COPY machinery, sequences"
    echo "  advanced, every table reconciled by checksum (the source's checksums on a second connection while"
    echo "  the copy runs, the target's after the last copy)."
    echo "- **pipe**: as the superuser, for courses, students, enrollments in turn:"
    echo "  \`psql -d $source_db -c \"COPY (SELECT '<tenant>'::uuid, cols... FROM t) TO STDOUT\" | psql -d bench -c"
    echo "  \"COPY t (tenant_id, cols...) FROM STDIN\"\`, then one psql with three"
    echo "  \`setval(pg_get_serial_sequence(...), GREATEST(max(id) of the tenant, last_value))\`. Text format, three"
    echo "  transactions, no reconciliation."
    echo
    echo "During every cell a watcher polls \`tenant_guard.transfer_progress\` and pg_stat_activity every 0.1 s"
    echo "(the import's phase; whether the source's checksum statement still runs). After each cell, untimed:"
    echo "\`tenant_guard.reconcile_tenant()\` of the cell's tenant, timed on its own (after the pipe it is also the"
    echo "check that the pipe copied exactly the source's rows: it did, every round), then the tenant's rows"
    echo "deleted, the tables vacuumed and analyzed and their indexes rebuilt, so that every cell starts from"
    echo "the same tables (total size before each cell, indexes included, round by round: $sizes MB)."
    echo "Rounds alternate which variant goes first. CPU: of the server's backends (target and source; the"
    echo "postmaster's reaped children) and of the client processes (psql; this script's reaped children)"
    echo "during the cell, the watcher's included."
    echo
    echo "| round | first | import s | of which reconciling s | pipe s | **pipe / import** | reconcile_tenant() s after import / pipe | server CPU s import / pipe | client CPU s import / pipe |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for r in $(seq "$rounds"); do
        first=import; (( r % 2 == 0 )) && first=pipe
        echo "| $r | $first | ${elapsed[import-$r]} | ${phase_s[reconciling-$r]:-?} | ${elapsed[pipe-$r]} |" \
             "$(ratio "${elapsed[pipe-$r]}" "${elapsed[import-$r]}") | ${reconcile_s[import-$r]} / ${reconcile_s[pipe-$r]} |" \
             "${cpu_server[import-$r]} / ${cpu_server[pipe-$r]} | ${cpu_client[import-$r]} / ${cpu_client[pipe-$r]} |"
    done
    echo "| **median** | | **$import_median** | $(round_median phase_s reconciling) | **$pipe_median** | **$(r3 "$ratio_median")** |" \
         "$(round_median reconcile_s import) / $(round_median reconcile_s pipe) |" \
         "$(round_median cpu_server import) / $(round_median cpu_server pipe) | $(round_median cpu_client import) / $(round_median cpu_client pipe) |"
    echo
    echo "(pipe / import: the median of the per-round ratios; the ratio of the medians is $(ratio "$pipe_median" "$import_median").)"
    echo
    echo "**Goal: import_tenant speed / COPY pipe speed (= pipe time / import time) >= 0.8: $(r3 "$ratio_median") -"
    echo "$(awk -v r="$ratio_median" 'BEGIN {print (r >= 0.8 ? "met" : "NOT met")}').** Per round, median (min-max):"
    echo
    echo "| ratio | median (min-max) over the rounds |"
    echo "|---|---|"
    echo "| pipe / import | $(per_round 'pp / ip' | summary) |"
    echo "| pipe / (import without its reconciling phase) | $(per_round 'pp / (ip - ic)' | summary) |"
    echo "| (pipe + reconcile_tenant()) / import: a pipe checked the way import checks itself | $(per_round '(pp + pr) / ip' | summary) |"
    echo
    echo "## Where an import's time goes"
    echo
    echo "Per phase, from the watcher's polls (a phase lasts from the first poll that saw it until the first"
    echo "that saw the next one, so to within 0.1 s), median over the rounds:"
    echo
    echo "| phase | median s | per round |"
    echo "|---|---|---|"
    for name in "${phase_names[@]}"; do
        [ "$name" = "checksum ran until" ] && continue
        echo "| $name | $(round_median phase_s "$name") | $(for r in $(seq "$rounds"); do echo "${phase_s[$name-$r]}"; done | paste -sd' ') |"
    done
    echo
    echo "(connecting: psql's connection and the call up to the first poll that saw it; reading"
    echo "catalogs: the connection to the source, its snapshot, both catalogs, the plan; starting: the check"
    echo "that the tenant has no rows yet, the second source connection on the same snapshot, the checksum"
    echo "statement sent; copying: the table's COPY, then its sequence advanced; reconciling: the source's"
    echo "checksums collected, the target's computed - one checksum query per table over the tenant's rows -"
    echo "and compared. A table copied in under 0.1 s may not appear.)"
    echo
    echo "The source's checksum statement (all three tables, second connection) was last seen running"
    echo "$(round_median phase_s "checksum ran until") s into the call (median; per round: $(for r in $(seq "$rounds"); do echo "${phase_s[checksum ran until-$r]:-?}"; done | paste -sd' '))."
    echo "It overlaps the copy, competing with it for the 2 cores; the target's checksums run after the last copy"
    echo "(the reconciling phase), alone. reconcile_tenant() on its own (both checksums, in parallel, no copy):"
    echo "median $(round_median reconcile_s import) s."
    if [ -n "$perf_rows" ]; then
        echo
        echo "### PERF=1: one more import ($perf_total s), \`perf record -a -F 499\` (no call graphs)"
        echo
        echo "CPU seconds by process during the call (samples / 499):"
        echo
        echo "| process | CPU s |"
        echo "|---|---|"
        echo "$perf_rows"
        echo
        echo "The importing backend used $backend_cpu s of CPU (/proc/<pid>/stat). Its own symbols (self time,"
        echo "% of its samples):"
        echo
        echo '```'
        echo "$perf_top"
        echo '```'
    fi
    echo
    echo "Run it: \`bash bench/import_speed.sh\` (about 8 minutes; \`ROUNDS=3\` quicker, \`ROWS=200000\` a smaller"
    echo "district, \`PERF=1\` the per-process profile of one more import, \`OUT=file.md\` elsewhere)."
} > "$report_file"
cat "$report_file"
echo "wrote $report_file (${SECONDS}s)"
