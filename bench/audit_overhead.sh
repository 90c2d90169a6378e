#!/usr/bin/env bash
# What the audit ledger costs a write, measured side by side in one run on a throwaway cluster (not
# part of the pass/fail tests: these machines are shared and noisy, so it reports ratios between
# runs made back to back, variants interleaved round by round).
#
# Two tables created by the same statement, both protected by tenant_guard (automatic RLS), the
# same tenant context, the same writes; the only difference is tenant_guard.audit_table() on one:
#   audited   every write also inserts a hashed entry into tenant_guard.audit_log (same transaction)
#   plain     no audit trigger
# Writes (pgbench -n -M prepared, as an application role; each client sets its tenant context once
# per connection with set_tenant(token, false), so that the context's cost does not dilute the ratio):
#   insert    INSERT of one row (tenant_id filled in from the context)
#   update    UPDATE of one existing row of the client's tenant by primary key
# Shapes:
#   1w        1 writer
#   8w-1t     8 writers, all in one tenant (the issue's goal: audited >= 0.75x plain)
#   16w-16t   16 writers, each its own tenant
# Every round runs the 12 cells (shape x write x variant) once, audited and plain back to back in
# alternating order; per cell the median tps over the rounds, and the median of the rounds' ratios.
#
# Sealing lag (goal: p99 <= 2 s at 8w-1t): for every entry written during the rounds,
# block.sealed_at - entry.logged_at, over the block that holds it (xact_lo <= xact_id < xact_hi).
# logged_at is the writing transaction's start; these transactions are one statement long, so it is
# within a fraction of a millisecond of the commit. Each shape writes to its own tenants, so the
# lag is reported per shape. Ledger growth: pg_total_relation_size(audit_log) (heap, TOAST,
# indexes) before and after the rounds, divided by the entries written.
#
#   bash bench/audit_overhead.sh                      about 6 minutes on 2 cores
#   DURATION=2 ROUNDS=3 bash bench/audit_overhead.sh  quicker
#   PERF=1 bash bench/audit_overhead.sh               also: perf profile of an extra audited 8w-1t
#                                                     insert and update run (about 20 s more)
#   VERIFY=1 bash bench/audit_overhead.sh             also: tenant_guard.verify_audit() over the ledger
#   FSYNC=on OUT=bench/results/audit-fsync.md bash bench/audit_overhead.sh   commits wait for the disk
# Writes bench/results/audit.md (OUT=file.md to write elsewhere; with PERF=1 also audit-perf.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/common.sh
bench_start
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
rows_per_tenant=${ROWS_PER_TENANT:-1000}
report_file=${OUT:-$results/audit.md}

bench_library
bench_cluster_start 40
# FSYNC=on: commits wait for the disk, as in production (the test cluster runs with fsync = off).
fsync=${FSYNC:-off}
if [ "$fsync" = on ]; then
    psql -X -q -c "ALTER SYSTEM SET fsync = on" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
fi
createdb bench

# Tenant slots: 0-15 for 16w-16t (client i: slot i), 16 for 8w-1t, 17 for 1w. Seeded rows: ids
# 1 .. slots * rows_per_tenant, row id belongs to slot id % slots, grade 0. Inserts write grade 0 too,
# so sum(grade) counts the updates (checked below).
slots=18
declare -A shape_clients=([1w]=1 [8w-1t]=8 [16w-16t]=16)
declare -A shape_base=([1w]=17 [8w-1t]=16 [16w-16t]=0)
declare -A shape_tenants=([1w]=1 [8w-1t]=1 [16w-16t]=16)
shapes=(1w 8w-1t 16w-16t)
ops=(insert update)
variants=(audited plain)

echo "setting up ($slots tenants x $rows_per_tenant rows per table) ..."
q >/dev/null <<SQL
CREATE EXTENSION tenant_guard;
CREATE ROLE bench_app LOGIN;
CREATE TABLE bench_slots (slot int PRIMARY KEY, tenant uuid NOT NULL, shape text NOT NULL, token text);
INSERT INTO bench_slots (slot, tenant, shape)
SELECT s, ('00000000-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
       CASE WHEN s < 16 THEN '16w-16t' WHEN s = 16 THEN '8w-1t' ELSE '1w' END
  FROM generate_series(0, $slots - 1) s;
UPDATE bench_slots SET token = tenant_guard.sign_token(jsonb_build_object('tenant_id', tenant, 'sub', 'bench',
                                   'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256');
GRANT SELECT ON bench_slots TO bench_app;
-- The same statement twice: both tables are protected (forced RLS, policies, default, index).
CREATE TABLE audited (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
                      grade int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE plain (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
                    grade int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO audited (id, tenant_id, name, grade)
SELECT i, s.tenant, 'student ' || i, 0
  FROM generate_series(1, $slots * $rows_per_tenant) i JOIN bench_slots s ON s.slot = i % $slots;
INSERT INTO plain SELECT * FROM audited;
SELECT setval(pg_get_serial_sequence(t, 'id'), $slots * $rows_per_tenant) FROM unnest('{audited,plain}'::text[]) t;
-- Seeded before auditing, so that the ledger holds only what the benchmark writes.
SELECT tenant_guard.audit_table('audited');
-- No background vacuum of one table in the middle of a measurement; each round starts with both vacuumed.
ALTER TABLE audited SET (autovacuum_enabled = off);
ALTER TABLE plain SET (autovacuum_enabled = off);
VACUUM ANALYZE audited, plain;
GRANT SELECT, INSERT, UPDATE ON audited, plain TO bench_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bench_app;
SQL
[ "$(q -c "SELECT count(*) FROM tenant_guard.audited_tables WHERE table_name = 'audited'::regclass")" = 1 ] ||
    { echo "audit_table('audited') did not attach the trigger" >&2; exit 1; }
[ "$(q -c "SELECT count(*) FROM tenant_guard.audited_tables WHERE table_name = 'plain'::regclass")" = 0 ] ||
    { echo "table plain is audited" >&2; exit 1; }

# --- pgbench scripts -------------------------------------------------------------------------
# Each client looks up its tenant's token once and sets a session context (pgbench keeps a client's
# variables from one transaction to the next; -D ready=0 starts them).
prologue='\set slot :base + :client_id % :tenants
\if :ready = 0
SELECT token FROM bench_slots WHERE slot = :slot \gset
SELECT tenant_guard.set_tenant(:token, false);
\set ready 1
\endif'
for v in "${variants[@]}"; do
    { echo "$prologue"; echo "INSERT INTO $v (name, grade) VALUES ('new student', 0);"; } > "$work/$v-insert.sql"
    { echo "$prologue"; echo "\\set id :slot + $slots * random(1, $((rows_per_tenant - 1)))"
      echo "UPDATE $v SET grade = grade + 1, updated_at = now() WHERE id = :id;"; } > "$work/$v-update.sql"
done

pgbench_args() {  # $1 shape
    local c=${shape_clients[$1]}
    echo "-n -M prepared -U bench_app -D ready=0 -D base=${shape_base[$1]} -D tenants=${shape_tenants[$1]} -c $c -j $(( c < 2 ? c : 2 ))"
}
# One timed run; prints "tps WAL-bytes-per-transaction" (WAL of the whole cluster over the run,
# the sealer's and any checkpoint's included).
run_cell() {  # $1 variant, $2 op, $3 shape
    local out lsn0 lsn1 count
    lsn0=$(q -c "SELECT pg_current_wal_lsn()")
    # shellcheck disable=SC2046
    out=$(pgbench $(pgbench_args "$3") -T "$duration" -f "$work/$1-$2.sql" bench 2>&1) ||
        { echo "pgbench $1 $2 $3 failed:" >&2; echo "$out" >&2; exit 1; }
    lsn1=$(q -c "SELECT pg_current_wal_lsn()")
    grep -q 'aborted' <<<"$out" && { echo "pgbench $1 $2 $3 aborted:" >&2; echo "$out" >&2; exit 1; }
    count=$(grep -oE 'actually processed: [0-9]+' <<<"$out" | awk '{print $3}')
    printf '%s %s\n' "$(grep -oE 'tps = [0-9.]+' <<<"$out" | head -1 | awk '{print $3}')" \
        "$(q -c "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / greatest($count, 1))")"
}

# --- Check that every write does what it should (and warm up) -------------------------------
# A fixed number of transactions per client: inserts must add that many rows, updates must add that
# much to sum(grade) (an UPDATE that matched no row would be cheap and silent), and the audited
# table must add exactly one ledger entry per transaction.
echo "checking the writes (${SECONDS}s) ..."
state() { q -c "SELECT (SELECT count(*) FROM $1) || ' ' || (SELECT sum(grade) FROM $1) || ' ' || (SELECT count(*) FROM tenant_guard.audit_log)"; }
for s in "${shapes[@]}"; do
    for op in "${ops[@]}"; do
        for v in "${variants[@]}"; do
            n=$(( 30 * ${shape_clients[$s]} ))
            read -r rows0 sum0 entries0 <<<"$(state "$v")"
            # shellcheck disable=SC2046
            pgbench $(pgbench_args "$s") -t 30 -f "$work/$v-$op.sql" bench >"$work/check.log" 2>&1 ||
                { cat "$work/check.log" >&2; exit 1; }
            read -r rows1 sum1 entries1 <<<"$(state "$v")"
            want_rows=0; want_sum=$n; want_entries=0
            [ "$op" = insert ] && { want_rows=$n; want_sum=0; }
            [ "$v" = audited ] && want_entries=$n
            if [ $((rows1 - rows0)) != $want_rows ] || [ $((sum1 - sum0)) != $want_sum ] || [ $((entries1 - entries0)) != $want_entries ]; then
                echo "check failed for $v $op $s: rows +$((rows1 - rows0)) (want $want_rows), sum(grade) +$((sum1 - sum0)) (want $want_sum), entries +$((entries1 - entries0)) (want $want_entries)" >&2
                exit 1
            fi
        done
    done
done

# --- Rounds -----------------------------------------------------------------------------------
read -r size0 entries0 blocks_size0 measure_start <<<"$(q -c "SELECT pg_total_relation_size('tenant_guard.audit_log') || ' ' ||
    (SELECT count(*) FROM tenant_guard.audit_log) || ' ' || pg_total_relation_size('tenant_guard.audit_blocks') || ' ' ||
    extract(epoch FROM clock_timestamp())")"
# shellcheck disable=SC2034  # wal: read by cell_wal, through round_median
declare -A tps wal
echo "running: ${#shapes[@]} shapes x ${#ops[@]} writes x ${#variants[@]} variants x $rounds rounds x ${duration}s ..."
for round in $(seq "$rounds"); do
    q -c "VACUUM audited, plain"
    for s in "${shapes[@]}"; do
        for op in "${ops[@]}"; do
            # Alternate which variant goes first, so neither always runs on a warmer (or dirtier) system.
            order=(audited plain)
            (( round % 2 == 0 )) && order=(plain audited)
            for v in "${order[@]}"; do
                read -r "tps[$v-$op-$s-$round]" "wal[$v-$op-$s-$round]" <<<"$(run_cell "$v" "$op" "$s")"
            done
        done
    done
    echo "  round $round (${SECONDS}s): $(for s in "${shapes[@]}"; do for op in "${ops[@]}"; do
        printf '%s %s %.2f; ' "$s" "$op" "$(tps_ratio "audited-$op-$s-$round" "plain-$op-$s-$round")"; done; done)"
done

# --- Ledger: wait for the sealer, then lag and size ---------------------------------------------
echo "measuring the ledger (${SECONDS}s) ..."
read -r size1 entries1 heap1 index1 <<<"$(q -c "SELECT pg_total_relation_size('tenant_guard.audit_log') || ' ' ||
    (SELECT count(*) FROM tenant_guard.audit_log) || ' ' || pg_table_size('tenant_guard.audit_log') || ' ' ||
    pg_indexes_size('tenant_guard.audit_log')")"
for _ in $(seq 100); do
    [ "$(q -c "SELECT (SELECT max(xact_id) FROM tenant_guard.audit_log) < sealed_below FROM tenant_guard.audit_seal_state")" = t ] && break
    sleep 0.1
done
[ "$(q -c "SELECT (SELECT max(xact_id) FROM tenant_guard.audit_log) < sealed_below FROM tenant_guard.audit_seal_state")" = t ] ||
    { echo "the sealer did not seal the ledger within 10 s of the last write" >&2; exit 1; }
blocks_size1=$(q -c "SELECT pg_total_relation_size('tenant_guard.audit_blocks')")
# Per shape: entries, blocks, lag p50 / p99 / max (s), entries per block.
q -F ' ' > "$work/lag.txt" <<SQL
SELECT s.shape, count(*), count(DISTINCT (b.tenant_id, b.block_no)),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)::numeric, 3),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 3),
       round(max(lag)::numeric, 3)
  FROM tenant_guard.audit_log l
  JOIN bench_slots s ON s.tenant = l.tenant_id
  JOIN tenant_guard.audit_blocks b ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
 CROSS JOIN LATERAL (SELECT extract(epoch FROM b.sealed_at - l.logged_at)::float8) x(lag)
 WHERE l.logged_at >= to_timestamp($measure_start)
 GROUP BY s.shape;
SQL
# Average stored row size per action (pg_column_size of the entry row, before TOAST/page overhead).
q -F ' ' > "$work/rowsize.txt" <<SQL
SELECT action, count(*), round(avg(pg_column_size(l.*))) FROM tenant_guard.audit_log l
 WHERE logged_at >= to_timestamp($measure_start) AND entity_type = 'public.audited' GROUP BY action ORDER BY action;
SQL
# An independent check of the sealing, in SQL: every block's entry_count against the entries in its range.
count_mismatches=$(q -c "SELECT count(*) FROM tenant_guard.audit_blocks b WHERE entry_count <> (SELECT count(*)
    FROM tenant_guard.audit_log l WHERE l.tenant_id = b.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi)")
problems="not run (VERIFY=1)"
if [ "${VERIFY:-0}" = 1 ]; then
    echo "verifying the ledger (${SECONDS}s) ..."
    problems=$(q -c "SELECT coalesce(string_agg(problem || ' x' || n, ', '), 'none') FROM (SELECT problem, count(*) n FROM tenant_guard.verify_audit() GROUP BY problem) p")
fi

# --- Optional profile ---------------------------------------------------------------------------
# An extra audited 8w-1t run per write, its 8 backends sampled with DWARF call graphs (the postgres
# binary has no frame pointers, so -g would lose the callers). Each sample is put in one bucket: the
# most specific of a list of functions on its stack (inside tg_audit_trigger, or not), and the
# named symbols are listed by inclusive time.
classify_samples() {  # stdin: perf script -F tid,ip,sym
    perf_python -c '
import sys, collections
from perf_stacks import read_samples
inside = [("read_table_protection", "read_table_protection (pg_policy + pg_depend scans)"),
          ("EVP_Digest", "SHA-256 of the entry"), ("entry_hash", "canonical encoding of the entry"),
          ("jsonb_in", "jsonb_in (row JSON text to jsonb)"), ("jsonb_out", "jsonb_out (jsonb to text, for the hash)"),
          ("encode_row", "encode_row, other"), ("build_plan", "build_plan, other"),
          ("nextval_internal", "nextval(audit_entry_seq)"), ("btinsert", "audit_log index inserts"),
          ("heap_insert", "audit_log heap insert"), ("standard_ExecutorStart", "SPI executor start"),
          ("standard_ExecutorEnd", "SPI executor end"), ("insert_entry", "insert_entry, other (SPI)")]
outside = [("AfterTrigger", "after-trigger queue"), ("XLogFlush", "commit: WAL write (XLogFlush)"),
           ("CommitTransactionCommand", "commit: other"), ("pq_getbyte", "reading from the client (incl. waiting)"),
           ("secure_write", "writing to the client"), ("btinsert", "table: index inserts/updates"),
           ("heap_insert", "table: heap insert"), ("heap_update", "table: heap update"),
           ("standard_ExecutorStart", "statement: executor start"), ("standard_ExecutorRun", "statement: executor run, other"),
           ("PortalRun", "statement: other")]
samples = read_samples(sys.stdin)
counts = collections.Counter()
for stack in samples:
    names = [f for f in stack]
    if "tg_audit_trigger" in names:
        below = names[:names.index("tg_audit_trigger")]
        bucket = next(("trigger: " + b for m, b in inside if any(m in f for f in below)), "trigger: other")
    else:
        bucket = next((b for m, b in outside if any(m in f for f in names)), "other")
    counts[bucket] += 1
total = max(len(samples), 1)
trigger = sum(v for k, v in counts.items() if k.startswith("trigger:"))
print("%d samples of the backends; inside tg_audit_trigger: %.1f%%" % (len(samples), 100.0 * trigger / total))
for bucket, n in counts.most_common():
    print("%6.1f%%  %s" % (100.0 * n / total, bucket))
'
}
if [ "${PERF:-0}" = 1 ]; then
    {
        echo "# Where an audited write spends its time (bench/audit_overhead.sh, PERF=1, $(date -u '+%F %H:%M UTC'))"
        echo
        echo "perf record --call-graph dwarf of the 8 backends of an extra audited 8w-1t run per write."
        echo "Buckets: each sample goes to the first listed function found on its stack (inside"
        echo "tg_audit_trigger or not); percentages are of all the backends' samples."
        echo
    } > "${report_file%.md}-perf.md"
    for op in "${ops[@]}"; do
        echo "profiling audited $op at 8w-1t ..."
        # shellcheck disable=SC2046
        pgbench $(pgbench_args 8w-1t) -T $((duration + 4)) -f "$work/audited-$op.sql" bench >"$work/perf-pgbench.log" 2>&1 &
        bench_pid=$!
        sleep 2
        perf_record_backends bench_app "$work/perf-$op.data" 499 || cat "$work/perf-record.log" >&2
        wait "$bench_pid"
        {
            echo "## audited $op, 8w-1t ($(grep -oE 'tps = [0-9.]+' "$work/perf-pgbench.log" | head -1)), ${duration}s"
            echo
            echo '```'
            perf script -i "$work/perf-$op.data" -F tid,ip,sym >"$work/perf-$op.txt" 2>"$work/perf-script.log" ||
                cat "$work/perf-script.log" >&2
            classify_samples < "$work/perf-$op.txt"
            echo
            perf_top_symbols "$work/perf-$op.data" 60 100
            echo '```'
            echo
        } >> "${report_file%.md}-perf.md"
    done
fi

# --- Report -----------------------------------------------------------------------------------
cell_wal() { round_median wal "$1"; }
ratios() { round_ratios "audited-$1" "plain-$1"; }
lag_field() { awk -v s="$1" -v f="$2" '$1 == s {print $f}' "$work/lag.txt"; }
entries=$((entries1 - entries0))
goal_ratios=$(for op in "${ops[@]}"; do printf '%s %.3f, ' "$op" "$(ratios "$op-8w-1t" | median)"; done)
goal_ratio=$(for op in "${ops[@]}"; do ratios "$op-8w-1t" | median; done | sort -n | head -1)
goal_lag=$(lag_field 8w-1t 5)
{
    echo "# Audit ledger overhead"
    echo
    echo "Run of $started on $(machine),"
    echo "shared and noisy (load average before the run: $load_before), PostgreSQL $(pg_version),"
    echo "fsync = $(psql -X -At -c 'SHOW fsync'), default tenant_guard.audit_seal_interval (1 s); pgbench on the same machine."
    echo "Repository at commit $commit; tenant_guard.so installed $so_installed."
    echo
    echo "Method: \`bench/audit_overhead.sh\`. Two tables created by the same statement (id bigserial primary"
    echo "key, tenant_id uuid, name text, grade int, updated_at timestamptz), both protected by tenant_guard;"
    echo "\`audited\` has \`tenant_guard.audit_table()\`, \`plain\` does not. pgbench -n -M prepared as an"
    echo "application role, tenant context set once per connection with \`set_tenant(token, false)\`."
    echo "insert: one row per transaction; update: one existing row of the client's tenant by primary key"
    echo "($slots tenants x $rows_per_tenant seeded rows). $rounds rounds x ${duration}s per cell, the 12 cells of a"
    echo "round back to back, audited and plain adjacent (alternating which goes first). tps: median over the"
    echo "rounds; ratio: median of the per-round ratios audited / plain (min-max in brackets); WAL: median"
    echo "over the rounds of pg_current_wal_lsn() advance / transactions."
    echo
    echo "| shape | write | plain tps | audited tps | audited / plain | WAL bytes / txn, plain -> audited |"
    echo "|---|---|---|---|---|---|"
    for s in "${shapes[@]}"; do
        for op in "${ops[@]}"; do
            printf '| %s | %s | %.0f | %.0f | **%.3f** (%.2f-%.2f) | %s -> %s |\n' "$s" "$op" "$(cell_tps "plain-$op-$s")" \
                "$(cell_tps "audited-$op-$s")" "$(ratios "$op-$s" | median)" \
                "$(ratios "$op-$s" | sort -n | head -1)" "$(ratios "$op-$s" | sort -n | tail -1)" \
                "$(cell_wal "plain-$op-$s")" "$(cell_wal "audited-$op-$s")"
        done
    done
    echo
    echo "(1w: 1 writer; 8w-1t: 8 writers in one tenant; 16w-16t: 16 writers, each its own tenant.)"
    echo
    echo "Sealing lag, per entry written during the rounds: sealed_at of the block holding it minus the"
    echo "entry's logged_at (the transaction start; for these one-statement transactions within a fraction"
    echo "of a millisecond of the commit, so this is commit-to-seal):"
    echo
    echo "| shape | entries | blocks | entries / block | lag p50 s | lag p99 s | lag max s |"
    echo "|---|---|---|---|---|---|---|"
    for s in "${shapes[@]}"; do
        printf '| %s | %s | %s | %.0f | %s | %s | %s |\n' "$s" "$(lag_field "$s" 2)" "$(lag_field "$s" 3)" \
            "$(awk -v e="$(lag_field "$s" 2)" -v b="$(lag_field "$s" 3)" 'BEGIN {print e / b}')" \
            "$(lag_field "$s" 4)" "$(lag_field "$s" 5)" "$(lag_field "$s" 6)"
    done
    echo
    echo "Ledger growth over the rounds: $entries entries; audit_log $(( (size1 - size0) / 1024 / 1024 )) MiB"
    echo "(pg_total_relation_size: heap, TOAST and index) = **$(( (size1 - size0) / entries )) bytes per entry**"
    echo "(after: heap+TOAST $(( heap1 / 1024 / 1024 )) MiB, indexes $(( index1 / 1024 / 1024 )) MiB); audit_blocks $(( (blocks_size1 - blocks_size0) / 1024 )) KiB."
    echo "Average entry row (pg_column_size): $(awk '{printf "%s%s %s B", (NR > 1 ? ", " : ""), $1, $3}' "$work/rowsize.txt")."
    echo "After the run: verify_audit() problems: $problems; blocks whose entry_count differs from the entries"
    echo "in their transaction range (SQL check): $count_mismatches."
    echo
    echo "Goals at 8w-1t: audited >= 0.75x plain: ${goal_ratios}$(awk -v r="$goal_ratio" 'BEGIN {print (r >= 0.75 ? "met" : "NOT met")}');"
    echo "sealing lag p99 <= 2 s: $(awk -v l="$goal_lag" 'BEGIN {printf "%s s - %s", l, (l <= 2 ? "met" : "NOT met")}')."
    if [ "${PERF:-0}" = 1 ]; then
        echo
        echo "Profile of the audited 8w-1t writes: $(basename "${report_file%.md}-perf.md")."
    fi
} > "$report_file"
cat "$report_file"
[ "${PERF:-0}" = 1 ] && echo "profile: ${report_file%.md}-perf.md"
echo "wrote $report_file (${SECONDS}s)"
