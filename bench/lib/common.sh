# shellcheck shell=bash
# shellcheck disable=SC2154  # duration, rounds, tps, load_after: set by the script that sources this file
# What the benchmark scripts in bench/ share. Source it from the repository root, after the script's
#   set -euo pipefail; cd "$(dirname "$0")/.."
# It sources test/lib/cluster.sh (the throwaway cluster) and defines, running nothing itself:
#
#   bench_start            root (the repository), results (bench/results, created), load_before (the load
#                          average now), started (UTC), commit (HEAD, short, noting uncommitted changes in src/)
#   bench_library          installs tenant_guard.so only if none is installed; sets so_file, so_installed
#                          (UTC), so_sum (sha256, 12 digits) and what check_library compares against
#   check_library          stops the run if tenant_guard.so has been reinstalled since bench_library
#   bench_cluster_start N  starts the throwaway cluster with max_connections = N, stopped (and deleted)
#                          on exit, then bench_workdir
#   bench_workdir          work=$TG_DIR/bench, a directory every user may write (pgbench scripts, logs)
#   q [psql args]          psql on the database bench: quiet, unaligned, tuples only, stops at an error
#   district_prologue      a pgbench script's first lines: each client acts for district client_id % 100
#                          and looks up the district's tenant and token once (pgbench keeps a client's
#                          variables from one transaction to the next; -D ready=0 starts them); the line
#                          CONTEXT is to be replaced by what sets the context (or by nothing)
#   median                 the median of the numbers on stdin, one a line (the lower middle one of an
#                          even count)
#   round_median ARRAY KEY the median over the rounds 1..$rounds of ARRAY[KEY-round] (ARRAY: the name
#                          of an associative array)
#   cell_tps KEY           round_median tps KEY: a cell's median tps
#   tps_ratio A B          tps[A] / tps[B]
#   round_ratios A B       tps[A-round] / tps[B-round] for every round, one a line
#   machine                "<n> cores (<CPU model>)"
#   pg_version             PostgreSQL's version (pg_config), e.g. 15.8
#   report_run             a report's first lines (after bench_start, bench_library and, after the
#                          rounds, load_after): when, on what, how loaded, PostgreSQL, commit and
#                          library, ending in "(sha256 <sum>...," for the script to finish the sentence
#   perf_record_backends USER DATA FREQ
#                          perf record --call-graph dwarf at FREQ Hz of USER's backends of the database
#                          bench into DATA, for $duration s (perf's output in $work/perf-record.log);
#                          returns perf's status, which is not 0 after the SIGINT that stops it
#   perf_python ARGS       python3 ARGS with bench/lib on the module path (perf_stacks.py: the samples
#                          of `perf script -F tid,ip,sym`), writing no __pycache__ there
#   perf_top_symbols DATA N WIDTH
#                          "Named symbols by inclusive time (children):" and the first N of them in
#                          DATA (perf report), each line cut to WIDTH characters

source test/lib/cluster.sh

bench_start() {
    root=$(pwd)
    results=$root/bench/results
    load_before=$(cut -d" " -f1-3 /proc/loadavg)
    started=$(date -u '+%F %H:%M UTC')
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -n "$(git status --porcelain -- src 2>/dev/null)" ] && commit="$commit (src/ has uncommitted changes)"
    mkdir -p "$results"
}

bench_library() {
    [ -f "$(pg_config --pkglibdir)/tenant_guard.so" ] || make -s install >/dev/null
    so_file=$(pg_config --pkglibdir)/tenant_guard.so
    so_installed=$(date -u -r "$so_file" '+%F %H:%M UTC')
    so_sum=$(sha256sum "$so_file" | cut -c1-12)
    so_stat=$(stat -c '%i %s %Y' "$so_file")
}

# Others may reinstall the library while a benchmark runs (a shared machine): new connections would
# then load another build, and the results would mix two. Checked before every cell; the run stops.
check_library() {
    [ "$(stat -c '%i %s %Y' "$so_file")" = "$so_stat" ] && return 0
    echo "$so_file was reinstalled during the run ($(date -u -r "$so_file" '+%F %H:%M:%S UTC')): the results would mix two builds; run again" >&2
    exit 1
}

bench_cluster_start() {  # $1 max_connections
    TG_MAX_CONNECTIONS=$1 tg_cluster_start >/dev/null
    trap tg_cluster_stop EXIT
    bench_workdir
}

bench_workdir() {
    work=$TG_DIR/bench
    mkdir -p "$work"; chmod 777 "$work"
}

q() { psql -X -At -q -v ON_ERROR_STOP=1 -d bench "$@"; }

# shellcheck disable=SC2034  # used by the scripts that source this file
district_prologue='\set district :client_id % 100
\if :ready = 0
SELECT tenant, token FROM bench_tokens WHERE district = :district \gset
CONTEXT
\set ready 1
\endif'

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

round_median() {  # $1 name of an associative array, $2 key (without the round)
    local -n cells=$1
    local r
    for r in $(seq "$rounds"); do echo "${cells[$2-$r]}"; done | median
}

cell_tps() { round_median tps "$1"; }

tps_ratio() { awk -v a="${tps[$1]}" -v b="${tps[$2]}" 'BEGIN {print a / b}'; }

round_ratios() {  # $1, $2 keys (without the round) of the numerator and the denominator
    local r
    for r in $(seq "$rounds"); do tps_ratio "$1-$r" "$2-$r"; done
}

machine() { echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))"; }

pg_version() { pg_config --version | awk '{print $2}'; }

report_run() {
    echo "Run of $started on $(machine),"
    echo "shared and noisy (load average before the run: $load_before, after: $load_after), PostgreSQL"
    echo "$(pg_version), fsync = off; pgbench on the same machine."
    echo "Repository at commit $commit; tenant_guard.so installed $so_installed (sha256 $so_sum...,"
}

# The postgres binary has no frame pointers, hence DWARF call graphs (-g would lose the callers).
perf_record_backends() {  # $1 role, $2 perf data file, $3 samples per second
    local backends perf_pid
    backends=$(q -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$1' AND datname = 'bench'") || exit 1
    # Stopped by SIGINT (perf record -p with a workload command signals this script's process group).
    perf record --call-graph dwarf,8192 -F "$3" -p "$backends" -o "$2" >"$work/perf-record.log" 2>&1 &
    perf_pid=$!
    sleep "$duration"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid"
}

perf_python() { PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$root/bench/lib${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }

perf_top_symbols() {  # $1 perf data file, $2 how many symbols, $3 line width
    echo "Named symbols by inclusive time (children):"
    perf report -i "$1" --children --sort symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | grep -v '0x0000' | head -"$2" | cut -c1-"$3" || true
}
