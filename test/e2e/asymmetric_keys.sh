#!/usr/bin/env bash
# RSA (RS256, PS256), ECDSA (ES256) and Ed25519 (EdDSA) keys in the JWKS file, with tokens signed by
# the openssl command line (not by tenant_guard); an identity provider's JWKS as published; key
# rotation by reload with a token still in a session's verification cache; algorithm confusion.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 10

source "$here/../lib/jws.sh"
jws_make_keys "$TG_DIR/signing"
keys=$jws_keys
rsa_n=$jws_rsa_n; weak_n=$jws_weak_n; ec_x=$jws_ec_x; ec_y=$jws_ec_y; ed_x=$jws_ed_x
q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
b64() { jws_b64; }
try() { q -c "SELECT tenant_guard.set_tenant('$1')"; }
wait_for_log() { for _ in $(seq 50); do grep -q "$1" "$TG_DIR/server.log" && return 0; sleep 0.1; done; return 1; }
tenant=aaaaaaaa-0000-4000-8000-000000000001

write_jwks() {  # $1: "with-rsa" or "without-rsa"
    local rsa_keys=""
    [ "$1" = with-rsa ] && rsa_keys='{"kty":"RSA","kid":"rsa-rs256","alg":"RS256","use":"sig","n":"'$rsa_n'","e":"AQAB"},
  {"kty":"RSA","kid":"rsa-ps256","alg":"PS256","n":"'$rsa_n'","e":"AQAB"},
  {"kty":"RSA","use":"sig","kid":"entra-style","x5t":"bm90LWEtdGh1bWJwcmludA","n":"'$rsa_n'","e":"AQAB","x5c":["bm90LWEtY2VydA=="],"issuer":"https://login.example/tenant/v2.0"},'
    cat > "$TG_KEYS.new" <<JSON
{"keys": [
  $rsa_keys
  {"kty":"EC","kid":"ec-es256","alg":"ES256","crv":"P-256","x":"$ec_x","y":"$ec_y"},
  {"kty":"OKP","kid":"ed-eddsa","alg":"EdDSA","crv":"Ed25519","x":"$ed_x"},
  {"kty":"RSA","kid":"rsa-enc","use":"enc","alg":"RSA-OAEP","n":"$rsa_n","e":"AQAB"}
]}
JSON
    chown postgres "$TG_KEYS.new"; chmod 600 "$TG_KEYS.new"; mv "$TG_KEYS.new" "$TG_KEYS"
    q -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.5
}

sign() { jws_sign "$@"; }
claims='{"tenant_id":"'$tenant'","exp":'$(( $(date +%s) + 600 ))'}'

q -c "CREATE EXTENSION tenant_guard" >/dev/null
write_jwks with-rsa
for alg_kid in RS256:rsa-rs256 PS256:rsa-ps256 ES256:ec-es256 EdDSA:ed-eddsa; do
    is "$(try "$(sign "${alg_kid%%:*}" "${alg_kid#*:}" "$claims")")" "$tenant" "a ${alg_kid%%:*} token signed by openssl is accepted"
done
is "$(try "$(sign RS256 entra-style "$claims")")" "$tenant" "an RSA key published without alg (as Entra ID does) verifies RS256"

token=$(sign RS256 rsa-rs256 "$claims")
tampered="${token%%.*}.$(printf '{"tenant_id":"bbbbbbbb-0000-4000-8000-000000000002","exp":%d}' $(( $(date +%s) + 600 )) | b64).${token##*.}"
like "$(try "$tampered")" "signature is invalid" "an RS256 token with another tenant's payload is refused"

# Algorithm confusion: an HS256 token "signed" with the RSA public key as the HMAC secret.
pub=$(openssl pkey -in "$keys/rsa.pem" -pubout)
input="$(printf '{"alg":"HS256","kid":"rsa-rs256"}' | b64).$(printf %s "$claims" | b64)"
forged="$input.$(printf %s "$input" | openssl dgst -sha256 -hmac "$pub" -binary | b64)"
like "$(try "$forged")" "algorithm does not match" "an HS256 token made with the RSA public key as secret is refused"
like "$(try "$(sign RS256 rsa-enc "$claims")")" "kid\) is unknown" "a key marked use: enc never verifies"

# Rotation: a session that verified (and cached) the RS256 token loses it with the key.
coproc SESSION { psql -X -At -v ON_ERROR_STOP=0 2>&1; }
echo "SELECT tenant_guard.set_tenant('$token');" >&"${SESSION[1]}"; read -r first <&"${SESSION[0]}"
write_jwks without-rsa
echo "SELECT tenant_guard.set_tenant('$token');" >&"${SESSION[1]}"; read -r second <&"${SESSION[0]}"
echo '\q' >&"${SESSION[1]}"; wait "$SESSION_PID" 2>/dev/null
like "$first|$second" "^$tenant\|.*kid\) is unknown" "after the RSA key is removed and reloaded, the cached token is refused"

# A 1024-bit RSA key is refused: the reload keeps the previous key set and says why.
cat > "$TG_KEYS.new" <<JSON
{"keys": [{"kty":"RSA","kid":"weak","alg":"RS256","n":"$weak_n","e":"AQAB"}]}
JSON
chown postgres "$TG_KEYS.new"; chmod 600 "$TG_KEYS.new"; mv "$TG_KEYS.new" "$TG_KEYS"
q -c "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_for_log 'could not load key set' && echo yes)" "a 1024-bit RSA key is refused at reload (previous key set kept)"
