#!/usr/bin/env bash
# Cost of set_tenant() per signature algorithm, cold (every call verifies: token_cache_size = 0)
# and cached (the same token presented again), on a throwaway cluster. Tokens for RS256, PS256,
# ES256 and EdDSA are signed by the openssl command line; HS256 by tenant_guard.sign_token().
# Median of 5 runs of N calls inside one statement. Not part of the pass/fail tests.
#   bash bench/verify_cost.sh [calls]        (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-20000}
source test/lib/cluster.sh
source test/lib/jws.sh
bash scripts/install-deps.sh >/dev/null
bash scripts/build.sh >/dev/null
tg_cluster_start >/dev/null
trap tg_cluster_stop EXIT

jws_make_keys "$TG_DIR/signing"
secret=$(openssl rand 32 | jws_b64)
cat > "$TG_KEYS.new" <<JSON
{"keys": [
  {"kty":"oct","kid":"hs256","alg":"HS256","k":"$secret"},
  {"kty":"RSA","kid":"rs256","alg":"RS256","n":"$jws_rsa_n","e":"AQAB"},
  {"kty":"RSA","kid":"ps256","alg":"PS256","n":"$jws_rsa_n","e":"AQAB"},
  {"kty":"EC","kid":"es256","alg":"ES256","crv":"P-256","x":"$jws_ec_x","y":"$jws_ec_y"},
  {"kty":"OKP","kid":"eddsa","alg":"EdDSA","crv":"Ed25519","x":"$jws_ed_x"}
]}
JSON
chown postgres "$TG_KEYS.new"; chmod 600 "$TG_KEYS.new"; mv "$TG_KEYS.new" "$TG_KEYS"
q() { psql -X -At -q -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE EXTENSION tenant_guard" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
claims='{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","sub":"bench","exp":'$(( $(date +%s) + 3600 ))'}'

# Microseconds per set_tenant() call; $1 token, $2 cache size.
per_call_us() {
    local runs=() i
    for i in 1 2 3 4 5; do
        runs+=("$(q -v token="$1" <<SQL | grep -oE 'Time: [0-9.]+' | awk -v n="$calls" '{printf "%.2f\n", $2 * 1000 / n}'
SET tenant_guard.token_cache_size = $2;
\\timing on
SELECT count(tenant_guard.set_tenant(:'token')) FROM generate_series(1, $calls);
SQL
)")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p
}

echo "# set_tenant() cost per algorithm ($(date -u +%F), $(nproc) cores, $calls calls x 5 runs, median)"
echo
echo "| algorithm | cold (verified every call) | cached | cold / cached |"
echo "|---|---|---|---|"
for alg in HS256 RS256 PS256 ES256 EdDSA; do
    if [ "$alg" = HS256 ]; then
        token=$(q -c "SELECT tenant_guard.sign_token('$claims'::jsonb, 'hs256')")
    else
        token=$(jws_sign "$alg" "$(echo "$alg" | tr A-Z a-z)" "$claims")
    fi
    cold=$(per_call_us "$token" 0)
    cached=$(per_call_us "$token" 256)
    echo "| $alg | $cold µs | $cached µs | $(awk -v a="$cold" -v b="$cached" 'BEGIN {printf "%.0f", a / b}')x |"
done
