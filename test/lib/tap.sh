# Minimal TAP producer for the end-to-end scripts (read by prove).
TAP_COUNT=0
TAP_FAILED=0
plan() { echo "1..$1"; }
_tap() {
    TAP_COUNT=$((TAP_COUNT + 1))
    if [ "$1" = 0 ]; then echo "ok $TAP_COUNT - $2"; else echo "not ok $TAP_COUNT - $2"; TAP_FAILED=$((TAP_FAILED + 1)); fi
}
ok() { [ -n "$1" ]; _tap $? "$2"; }
is() { if [ "$1" = "$2" ]; then _tap 0 "$3"; else _tap 1 "$3"; echo "#   got:      '$1'"; echo "#   expected: '$2'"; fi; }
like() { if [[ "$1" =~ $2 ]]; then _tap 0 "$3"; else _tap 1 "$3"; echo "#   got: '$1'"; echo "#   expected to match: '$2'"; fi; }

# Common start of an end-to-end script: a fresh cluster (stopped on exit) and the plan.
e2e_begin() {
    source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
    tg_cluster_start >/dev/null || { echo "Bail out! cluster did not start"; exit 1; }
    trap tg_cluster_stop EXIT
    plan "$1"
}
