# Throwaway PostgreSQL cluster shared by every script (demo, tests, benchmarks). Source it, then:
#   tg_cluster_start [dir]   initdb + start with tenant_guard preloaded and a fresh key set
#   tg_psql [args...]        psql as the superuser against the cluster
#   tg_cluster_stop          stop and delete (unless TG_KEEP_CLUSTER=1)
# The server runs as the `postgres` OS user (initdb/postgres refuse root), on a private port and a
# private unix-socket directory; nothing listens on TCP unless TG_LISTEN is set.

TG_PG_BIN=${TG_PG_BIN:-$(pg_config --bindir)}
TG_OS_USER=${TG_OS_USER:-postgres}

tg_as_server_user() {
    if [ "$(id -un)" = "$TG_OS_USER" ]; then "$@"; else runuser -u "$TG_OS_USER" -- "$@"; fi
}

tg_free_port() {
    local port
    for port in $(seq "${1:-55432}" 65000); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$port" ] &&
            ! compgen -G "/tmp/tenant_guard*/socket/.s.PGSQL.$port" >/dev/null &&
            ! compgen -G "/tmp/tenant_guard*/node*/socket/.s.PGSQL.$port" >/dev/null; then
            echo "$port"; return 0
        fi
    done
    return 1
}

# Random HMAC secrets, one per HS algorithm, as a JWKS file only the server user can read; with
# "cluster" as $2 also the key Citus nodes sign their context assertions with (tenant_guard-cluster).
tg_write_key_set() {
    local file=$1
    local k256 k384 k512 cluster=
    k256=$(openssl rand 32 | basenc --base64url | tr -d '=\n')
    k384=$(openssl rand 48 | basenc --base64url | tr -d '=\n')
    k512=$(openssl rand 64 | basenc --base64url | tr -d '=\n')
    [ "${2:-}" = cluster ] && cluster=",
  {\"kty\": \"oct\", \"kid\": \"tenant_guard-cluster\", \"alg\": \"HS256\", \"use\": \"sig\", \"k\": \"$(openssl rand 32 | basenc --base64url | tr -d '=\n')\"}"
    cat > "$file" <<JSON
{"keys": [
  {"kty": "oct", "kid": "district-hs256", "alg": "HS256", "use": "sig", "k": "$k256"},
  {"kty": "oct", "kid": "district-hs384", "alg": "HS384", "use": "sig", "k": "$k384"},
  {"kty": "oct", "kid": "district-hs512", "alg": "HS512", "use": "sig", "k": "$k512"}$cluster
]}
JSON
    chown "$TG_OS_USER" "$file" 2>/dev/null || true
    chmod 600 "$file"
}

tg_cluster_start() {
    TG_DIR=${1:-$(mktemp -d /tmp/tenant_guard.XXXXXX)}
    mkdir -p "$TG_DIR"
    chown "$TG_OS_USER" "$TG_DIR" 2>/dev/null || true
    chmod 700 "$TG_DIR"
    TG_DATA=$TG_DIR/data
    TG_SOCKET_DIR=$TG_DIR/socket
    TG_KEYS=$TG_DIR/jwks.json
    TG_PORT=${TG_PORT:-$(tg_free_port)}
    tg_as_server_user mkdir -p "$TG_SOCKET_DIR"
    tg_as_server_user "$TG_PG_BIN/initdb" -D "$TG_DATA" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$TG_DIR/initdb.log" 2>&1 \
        || { cat "$TG_DIR/initdb.log"; return 1; }
    tg_write_key_set "$TG_KEYS"
    tg_as_server_user tee -a "$TG_DATA/postgresql.conf" >/dev/null <<CONF
port = $TG_PORT
listen_addresses = '${TG_LISTEN:-}'
unix_socket_directories = '$TG_SOCKET_DIR'
shared_preload_libraries = 'tenant_guard'
tenant_guard.jwks_file = '$TG_KEYS'
fsync = off
max_connections = ${TG_MAX_CONNECTIONS:-100}
max_prepared_transactions = 10
log_min_messages = warning
CONF
    tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -l "$TG_DIR/server.log" -w -t 60 start >/dev/null \
        || { cat "$TG_DIR/server.log"; return 1; }
    export PGHOST=$TG_SOCKET_DIR PGPORT=$TG_PORT PGUSER=postgres PGDATABASE=postgres
    export TG_DIR TG_DATA TG_SOCKET_DIR TG_KEYS TG_PORT
}

tg_psql() {
    psql -X -q -v ON_ERROR_STOP=1 "$@"
}

tg_reload() {
    tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" reload >/dev/null
}

tg_cluster_stop() {
    [ -n "${TG_DATA:-}" ] || return 0
    tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    if [ "${TG_KEEP_CLUSTER:-0}" != 1 ]; then rm -rf "$TG_DIR"; fi
}
