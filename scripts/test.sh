#!/usr/bin/env bash
# The whole test suite on a fresh machine (as root): installs what it needs, builds, then runs
# GoogleTest (CTest), a short libFuzzer run, pg_regress, pgTAP (pg_prove) and the end-to-end
# scripts against a throwaway cluster. Ends with "N passed, N failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logs=$root/build/test-logs
rm -rf "$logs"; mkdir -p "$logs"

bash scripts/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
if ! bash scripts/build.sh >"$logs/build.log" 2>&1; then
    cat "$logs/build.log"; echo "0 passed, 1 failed"; exit 1
fi

# A test-only extension whose script creates a tenant table (tenant_guard must leave it alone).
install -m 644 test/fixtures/tenant_guard_test_fixture.control test/fixtures/tenant_guard_test_fixture--*.sql \
    "$(pg_config --sharedir)/extension/"

passed=0
failed=0
count_tap() {  # counts "ok"/"not ok" lines of verbose TAP output in $1
    local p f
    p=$(grep -cE '^\s*ok [0-9]+' "$1")
    f=$(grep -cE '^\s*not ok [0-9]+' "$1")
    # A script that died or bailed out fails without a "not ok" line: count it once.
    if ! grep -q '^Result: PASS' "$1" && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    echo "   $p passed, $f failed"
}

echo "== unit tests (GoogleTest via CTest)"
(cd build/core && ctest --output-on-failure) >"$logs/ctest.log" 2>&1
p=$(grep -cE 'Test +#[0-9]+: .* Passed' "$logs/ctest.log")
f=$(grep -cE 'Test +#[0-9]+: .* (\*\*\*Failed|Failed|\*\*\*Exception|Not Run|\*\*\*Timeout)' "$logs/ctest.log")
grep -E '^[0-9]+% tests passed' "$logs/ctest.log"
[ "$f" -gt 0 ] && grep -E 'Failed|Exception' "$logs/ctest.log" | head -20
passed=$((passed + p)); failed=$((failed + f))
echo "   $p passed, $f failed"

echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (one suite)"
if cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        >"$logs/asan.log" 2>&1 &&
    cmake --build build/asan -j"$(nproc)" >>"$logs/asan.log" 2>&1 &&
    (cd build/asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure) >>"$logs/asan.log" 2>&1; then
    passed=$((passed + 1)); grep -E '^[0-9]+% tests passed' "$logs/asan.log" | sed 's/^/   /'; echo "   1 passed, 0 failed"
else
    failed=$((failed + 1)); grep -E 'ERROR: AddressSanitizer|runtime error|Failed' "$logs/asan.log" | head -20; echo "   0 passed, 1 failed"
fi

echo "== fuzz smoke (libFuzzer, ${TG_FUZZ_SECONDS:-60} s on the seed corpus)"
fuzz_ok=0
if cmake -S . -B build/fuzz -DTENANT_GUARD_FUZZ=ON -DTENANT_GUARD_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++ \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$logs/fuzz.log" 2>&1 &&
    cmake --build build/fuzz -j"$(nproc)" >>"$logs/fuzz.log" 2>&1; then
    rm -rf build/fuzz-corpus && cp -r test/fuzz/corpus build/fuzz-corpus
    build/fuzz/fuzz_verify_token -max_total_time="${TG_FUZZ_SECONDS:-60}" -max_len=20000 \
        -artifact_prefix=build/fuzz/ build/fuzz-corpus >>"$logs/fuzz.log" 2>&1 && fuzz_ok=1
fi
if [ "$fuzz_ok" = 1 ]; then
    passed=$((passed + 1)); grep -E '^Done [0-9]+ runs' "$logs/fuzz.log" | sed 's/^/   /'; echo "   1 passed, 0 failed"
else
    failed=$((failed + 1)); tail -30 "$logs/fuzz.log"; echo "   0 passed, 1 failed"
fi

source test/lib/cluster.sh
if ! tg_cluster_start >"$logs/cluster.log" 2>&1; then
    cat "$logs/cluster.log"; echo "$passed passed, $((failed + 1)) failed"; exit 1
fi
trap tg_cluster_stop EXIT

echo "== pg_regress (make installcheck)"
make installcheck >"$logs/regress.log" 2>&1
p=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' "$logs/regress.log")
f=$(grep -cE '\.\.\. FAILED|^not ok ' "$logs/regress.log")
grep -E '^test |^(not )?ok ' "$logs/regress.log" | sed 's/^/   /'
[ "$f" -gt 0 ] && [ -f regression.diffs ] && head -60 regression.diffs
passed=$((passed + p)); failed=$((failed + f))
echo "   $p passed, $f failed"

echo "== pgTAP (pg_prove)"
tg_psql -c "CREATE DATABASE tenant_guard_pgtap" && \
tg_psql -d tenant_guard_pgtap -c "CREATE EXTENSION pgtap; CREATE EXTENSION tenant_guard;"
pg_prove -v -d tenant_guard_pgtap test/pgtap/*.sql >"$logs/pgtap.log" 2>&1
grep -E '^not ok|^# ' "$logs/pgtap.log" | head -20
tail -1 "$logs/pgtap.log" | sed 's/^/   /'
count_tap "$logs/pgtap.log"

tg_cluster_stop; trap - EXIT

echo "== Citus for the scale-out suite (scripts/build-citus.sh)"
bash scripts/build-citus.sh >"$logs/citus-build.log" 2>&1
case $? in
    0) tail -1 "$logs/citus-build.log" | sed 's/^/   /' ;;
    3) echo "   skipped: ../shared/vendor/citus is absent, so test/e2e/citus.sh reports SKIP" ;;
    *) tail -30 "$logs/citus-build.log"; failed=$((failed + 1)); echo "   0 passed, 1 failed" ;;
esac

echo "== end-to-end scripts (prove)"
prove -v test/e2e/*.sh >"$logs/e2e.log" 2>&1
grep -E '^not ok|^# |Dubious|Bail out' "$logs/e2e.log" | head -20
tail -1 "$logs/e2e.log" | sed 's/^/   /'
count_tap "$logs/e2e.log"

echo "logs: $logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
