#!/usr/bin/env bash
# Key rotation through pg_reload_conf(), a bad key file on reload, and tokens kept out of the log.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 9

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
q -c "CREATE EXTENSION tenant_guard" >/dev/null
mint() { q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','aaaaaaaa-0000-4000-8000-000000000001','exp',extract(epoch from now())::bigint+600), '$1')"; }
try() { q -c "SELECT tenant_guard.set_tenant('$1')"; }
wait_for_log() { for _ in $(seq 50); do grep -q "$1" "$TG_DIR/server.log" && return 0; sleep 0.1; done; return 1; }

old_token=$(mint district-hs256)
is "$(try "$old_token")" "aaaaaaaa-0000-4000-8000-000000000001" "a token signed with the configured key is accepted"

# An open session must see the rotation on its next command.
coproc LONG { psql -X -At -v ON_ERROR_STOP=0 2>&1; }
echo "SELECT 'ready';" >&"${LONG[1]}"; read -r line <&"${LONG[0]}"

# Rotate: a new file with a different key and kid, then reload.
new_secret=$(openssl rand 32 | basenc --base64url | tr -d '=\n')
cat > "$TG_KEYS.new" <<JSON
{"keys": [{"kty": "oct", "kid": "rotated-hs256", "alg": "HS256", "k": "$new_secret"}]}
JSON
chown postgres "$TG_KEYS.new"; chmod 600 "$TG_KEYS.new"; mv "$TG_KEYS.new" "$TG_KEYS"
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
like "$(try "$old_token")" "key id \(kid\) is unknown" "after reload, a token for the removed key is refused"
new_token=$(mint rotated-hs256)
is "$(try "$new_token")" "aaaaaaaa-0000-4000-8000-000000000001" "after reload, a token for the new key is accepted"
echo "SELECT tenant_guard.set_tenant('$old_token');" >&"${LONG[1]}"; read -r line <&"${LONG[0]}"
like "$line" "kid\) is unknown" "a session opened before the reload also drops the old key"
echo '\q' >&"${LONG[1]}"; wait "$LONG_PID" 2>/dev/null

# A broken file on reload keeps the previous key set and says why.
echo '{"keys": [ this is not json' > "$TG_KEYS"
q -c "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_for_log 'could not load key set' && echo yes)" "an invalid key file is reported in the server log"
is "$(try "$new_token")" "aaaaaaaa-0000-4000-8000-000000000001" "an invalid key file keeps the previous key set"
rm -f "$TG_KEYS"
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
is "$(try "$new_token")" "aaaaaaaa-0000-4000-8000-000000000001" "a missing key file keeps the previous key set"

# Refused tokens do not reach the server log (the statement is hidden for token errors).
try "${new_token}x" >/dev/null
signature=${new_token##*.}
sleep 0.2
ok "$(grep -q -- "$signature" "$TG_DIR/server.log" || echo clean)" "a refused token is not written to the server log"
ok "$(grep -qE 'terminated by signal|server process .* was terminated' "$TG_DIR/server.log" || echo clean)" "no backend crashed"
