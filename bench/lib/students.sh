# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # duration, rounds, shapes, variants: set by the script that sources
#                                     this file; report_file, tps, xacts, ...: read by it
# The data set, shapes, rounds and report table that bench/registry_overhead.sh and
# bench/stats_overhead.sh share: one setting measured off and on, cells interleaved round by round.
# Source it from the repository root (it sources bench/lib/common.sh). The script sets duration and
# rounds (before students_start), shapes (of top50 point insert switch), variants (off on) and
# variant_role[off|on] (the login role each variant's pgbench runs as); students_rounds fills tps and
# xacts. Defines, running nothing itself:
#
#   students_start NAME    bench_start; clients (CLIENTS, 2), tenants (100), rows_per_tenant
#                          (ROWS_PER_TENANT, 1000), rows; report_file (OUT, or bench/results/NAME.md);
#                          bench_library
#   students_setup ROLES_SQL
#                          the database bench: the extension, ROLES_SQL (creates the application role
#                          bench_app and any login roles of it), the $tenants districts registered with
#                          tenant_guard.create_tenant() and their HS256 tokens in bench_tokens, the table
#                          students (protected automatically, $rows_per_tenant rows a district, index
#                          (tenant_id, created_at), no autovacuum); checks the protection and the tenants
#   students_shape_scripts the pgbench scripts $work/<shape>.sql (top50, point and insert set the context
#                          once per connection; switch in every transaction); top50: the top50 query
#   students_check_shapes LABEL ROLE
#                          every shape's script, 200 transactions a client as ROLE, without an error or an
#                          abort (LABEL starts the messages); the insert rows counted, then deleted
#   students_cell SHAPE ROLE
#                          one timed pgbench run ($duration s); prints "tps transactions"
#   students_rounds [SWITCH]
#                          the rounds: each shape's off and on cells back to back, alternating which goes
#                          first; check_library and SWITCH VARIANT (if given) before each cell, a
#                          CHECKPOINT before and a clean-up after each insert cell; sets tps[shape-variant-
#                          round], xacts[...] (transactions), rounds_seconds and load_after
#   students_profile_cell SHAPE VARIANT
#                          an extra run of $duration + 3 s, its backends' perf data (perf_record_backends,
#                          999 Hz, after 1.5 s) in $work/perf-SHAPE-VARIANT.data, pgbench's output in
#                          $work/perf-pgbench.log
#   on_off_ratios SHAPE    the per-round ratios on / off, one a line
#   students_report_table  the report's table: tps off and on, ratio (median, min-max, per round); the
#                          shapes' legend
#   students_report_goal GOAL LEAST
#                          "Goal: GOAL: worst shape <ratio> - met" (or NOT met: a shape below LEAST)

source bench/lib/common.sh

declare -A tps xacts variant_role

students_start() {  # $1 the report's name
    bench_start
    clients=${CLIENTS:-2}
    tenants=100
    rows_per_tenant=${ROWS_PER_TENANT:-1000}
    rows=$((tenants * rows_per_tenant))
    report_file=${OUT:-$results/$1.md}
    bench_library
}

students_setup() {  # $1 SQL that creates the application role bench_app (and its login roles)
    echo "setting up ($tenants tenants x $rows_per_tenant rows) ..."
    q >/dev/null <<SQL
CREATE EXTENSION tenant_guard;
$1
-- Districts 0-99, registered in the tenant registry (active).
CREATE TABLE bench_tokens (district int PRIMARY KEY, tenant uuid NOT NULL, token text NOT NULL);
INSERT INTO bench_tokens
SELECT i, tenant_guard.create_tenant('d' || i, 'District ' || i), '' FROM generate_series(0, $tenants - 1) i;
UPDATE bench_tokens SET token = tenant_guard.sign_token(jsonb_build_object('tenant_id', tenant, 'sub', 'bench',
                                    'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256');
GRANT SELECT ON bench_tokens TO bench_app;
-- Protected automatically (tenant_id uuid): forced RLS, policies, column default. The index is the
-- seed's own, leading with tenant_id, so no automatic one.
SET tenant_guard.auto_index = off;
CREATE TABLE students (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
                       name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
-- Row id belongs to district id % 100.
INSERT INTO students (id, tenant_id, name, created_at) OVERRIDING SYSTEM VALUE
SELECT i, t.tenant, 'student ' || i, timestamptz '2020-01-01' + i * interval '5 minutes'
  FROM generate_series(1, $rows) i JOIN bench_tokens t ON t.district = i % $tenants;
SELECT setval(pg_get_serial_sequence('students', 'id'), $rows);
CREATE INDEX ON students (tenant_id, created_at);
-- No background vacuum in the middle of a measurement; the insert cells clean up after themselves.
ALTER TABLE students SET (autovacuum_enabled = off);
VACUUM ANALYZE students;
GRANT SELECT, INSERT ON students TO bench_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bench_app;
SQL
    [ "$(q -c "SELECT count(*) FROM tenant_guard.protected_tables WHERE table_name = 'students'::regclass AND protected")" = 1 ] ||
        { echo "students is not protected by tenant_guard" >&2; exit 1; }
    [ "$(q -c "SELECT count(*) FROM tenant_guard.tenants WHERE status = 'active'")" = $tenants ] ||
        { echo "expected $tenants active tenants in tenant_guard.tenants" >&2; exit 1; }
}

students_shape_scripts() {
    local session_prologue
    session_prologue=${district_prologue/CONTEXT/SELECT tenant_guard.set_tenant(:token, false);}
    top50="SELECT id, name, created_at FROM students ORDER BY created_at DESC LIMIT 50;"
    { echo "$session_prologue"; echo "$top50"; } > "$work/top50.sql"
    { echo "$session_prologue"; echo "\\set id :district + $tenants * random(1, $((rows_per_tenant - 1)))"
      echo "SELECT id, name FROM students WHERE id = :id;"; } > "$work/point.sql"
    { echo "$session_prologue"; echo "INSERT INTO students (name) VALUES ('new student');"; } > "$work/insert.sql"
    { echo "${district_prologue/CONTEXT/}"; echo "BEGIN;"; echo "SELECT tenant_guard.set_tenant(:token, true);"
      echo "$top50"; echo "COMMIT;"; } > "$work/switch.sql"
}

students_check_shapes() {  # $1 label for the messages, $2 role
    local s
    for s in "${shapes[@]}"; do
        pgbench -n -M prepared -U "$2" -D ready=0 -c "$clients" -j 2 -t 200 -f "$work/$s.sql" bench >"$work/check.log" 2>&1 ||
            { echo "$1: pgbench $s failed" >&2; cat "$work/check.log" >&2; exit 1; }
        grep -q 'aborted' "$work/check.log" && { echo "$1: pgbench $s aborted" >&2; cat "$work/check.log" >&2; exit 1; }
    done
    [ "$(q -c "SELECT count(*) FROM students WHERE id > $rows AND tenant_id IN (SELECT tenant FROM bench_tokens WHERE district < $clients)")" = $((200 * clients)) ] ||
        { echo "$1: the insert check did not add $((200 * clients)) rows of the clients' tenants" >&2; exit 1; }
    q -c "DELETE FROM students WHERE id > $rows" -c "VACUUM ANALYZE students"
}

students_cell() {  # $1 shape, $2 role
    local out
    out=$(pgbench -n -M prepared -U "$2" -D ready=0 -c "$clients" -j 2 -T "$duration" -f "$work/$1.sql" bench 2>&1) ||
        { echo "pgbench $1 failed:" >&2; echo "$out" >&2; exit 1; }
    grep -q 'aborted' <<<"$out" && { echo "pgbench $1 aborted:" >&2; echo "$out" >&2; exit 1; }
    echo "$(grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | awk '{print $3}') $(grep -oE 'actually processed: [0-9]+' <<<"$out" | awk '{print $3}')"
}

students_rounds() {  # $1 (optional) a command run with the variant before each of the variant's cells
    local round i s v cell order rounds_started
    echo "running: ${#shapes[@]} shapes x ${#variants[@]} variants x $rounds rounds x ${duration}s, $clients clients (${SECONDS}s) ..."
    rounds_started=$SECONDS
    for round in $(seq "$rounds"); do
        for i in "${!shapes[@]}"; do
            s=${shapes[$i]}
            # Alternate which variant goes first (by round, and by shape within a round, so that a
            # setting switched by SWITCH is switched once for two adjacent cells).
            order=(off on)
            (( (round + i) % 2 == 0 )) && order=(on off)
            for v in "${order[@]}"; do
                check_library
                [ -n "${1:-}" ] && "$1" "$v"
                # Each insert cell starts right after a checkpoint, so that neither variant gets the
                # timed checkpoint or the full-page writes after it.
                [ "$s" = insert ] && q -c "CHECKPOINT"
                cell=$(students_cell "$s" "${variant_role[$v]}")
                tps[$s-$v-$round]=${cell% *}
                xacts[$s-$v-$round]=${cell#* }
                # Keep the table the same size for every cell.
                [ "$s" = insert ] && q -c "DELETE FROM students WHERE id > $rows" -c "VACUUM students"
            done
        done
        echo "  round $round (${SECONDS}s): $(for s in "${shapes[@]}"; do
            printf '%s %.3f; ' "$s" "$(tps_ratio "$s-on-$round" "$s-off-$round")"; done)"
    done
    rounds_seconds=$((SECONDS - rounds_started))
    check_library
    load_after=$(cut -d" " -f1-3 /proc/loadavg)
}

students_profile_cell() {  # $1 shape, $2 variant
    local bench_pid
    pgbench -n -M prepared -U "${variant_role[$2]}" -D ready=0 -c "$clients" -j 2 -T $((duration + 3)) -f "$work/$1.sql" bench \
        >"$work/perf-pgbench.log" 2>&1 &
    bench_pid=$!
    sleep 1.5
    perf_record_backends "${variant_role[$2]}" "$work/perf-$1-$2.data" 999 || true   # perf exits non-zero after SIGINT
    [ -s "$work/perf-$1-$2.data" ] || { echo "perf record failed:" >&2; cat "$work/perf-record.log" >&2; exit 1; }
    wait "$bench_pid"
}

on_off_ratios() { round_ratios "$1-on" "$1-off"; }

students_report_table() {
    local s
    echo "| shape | off tps | on tps | on / off | per-round on / off |"
    echo "|---|---|---|---|---|"
    for s in "${shapes[@]}"; do
        printf '| %s | %.0f | %.0f | **%.3f** (%.2f-%.2f) | %s |\n' "$s" "$(cell_tps "$s-off")" "$(cell_tps "$s-on")" \
            "$(on_off_ratios "$s" | median)" "$(on_off_ratios "$s" | sort -n | head -1)" "$(on_off_ratios "$s" | sort -n | tail -1)" \
            "$(on_off_ratios "$s" | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}')"
    done
    echo
    echo "(top50: the tenant's 50 most recent rows; point: one row by primary key; insert: one row, tenant_id"
    echo "from the context; switch: the context set in every transaction, then top50.)"
    echo
}

students_report_goal() {  # $1 the goal, $2 the least on / off ratio that meets it
    local worst
    worst=$(for s in "${shapes[@]}"; do on_off_ratios "$s" | median; done | sort -n | head -1)
    echo "Goal: $1: worst shape"
    echo "$(awk -v r="$worst" -v least="$2" 'BEGIN {printf "%.3f - %s", r, (r >= least ? "met" : "NOT met")}')."
}
