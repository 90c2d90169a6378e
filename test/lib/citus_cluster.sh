# A throwaway Citus cluster: a coordinator and two workers on 127.0.0.1, private ports and
# socket directories, citus then tenant_guard preloaded on every node, one JWKS file shared by all
# (with the cluster key, tenant_guard.cluster_key, that signs the coordinator's context assertions).
# Source it, then:
#   tg_citus_available           0 when Citus is installed for this PostgreSQL (see scripts/build-citus.sh)
#   tg_citus_start [dir]         initdb + start the three nodes; exports TG_COORD_PORT, TG_WORKER1_PORT,
#                                TG_WORKER2_PORT, TG_CITUS_DIR; PGHOST/PGPORT point at the coordinator
#   tg_citus_node N args...      psql as the superuser on node N (0 = coordinator, 1, 2 = workers)
#   tg_citus_stop                stop and delete (unless TG_KEEP_CLUSTER=1)
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

tg_citus_available() {
    [ -f "$("$TG_PG_BIN/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)/citus.so" ] &&
        [ -f "$(pg_config --sharedir)/extension/citus.control" ]
}

tg_citus_start() {
    TG_CITUS_DIR=${1:-$(mktemp -d /tmp/tenant_guard_citus.XXXXXX)}
    mkdir -p "$TG_CITUS_DIR"
    chown "$TG_OS_USER" "$TG_CITUS_DIR" 2>/dev/null || true
    chmod 700 "$TG_CITUS_DIR"
    tg_write_key_set "$TG_CITUS_DIR/jwks.json" cluster
    local n port previous=55700
    TG_CITUS_PORTS=()
    for n in 0 1 2; do
        port=$(tg_free_port $((previous + 1))) || return 1
        previous=$port
        TG_CITUS_PORTS+=("$port")
        local dir=$TG_CITUS_DIR/node$n
        tg_as_server_user mkdir -p "$dir/socket"
        tg_as_server_user "$TG_PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
        tg_as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
shared_preload_libraries = 'citus,tenant_guard'
tenant_guard.jwks_file = '$TG_CITUS_DIR/jwks.json'
tenant_guard.cluster_key = 'tenant_guard-cluster'
fsync = off
max_connections = 100
max_prepared_transactions = 100
max_worker_processes = 24
wal_level = logical
log_min_messages = warning
citus.shard_count = ${TG_CITUS_SHARD_COUNT:-32}
CONF
        # Scripts reach every node over loopback as whichever role they test: trust is fine here,
        # the JWKS is what proves a tenant.
        tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
            || { cat "$dir/server.log"; return 1; }
    done
    TG_COORD_PORT=${TG_CITUS_PORTS[0]} TG_WORKER1_PORT=${TG_CITUS_PORTS[1]} TG_WORKER2_PORT=${TG_CITUS_PORTS[2]}
    export PGHOST=127.0.0.1 PGPORT=$TG_COORD_PORT PGUSER=postgres PGDATABASE=postgres
    export TG_CITUS_DIR TG_COORD_PORT TG_WORKER1_PORT TG_WORKER2_PORT
    # Citus expects the extension in every node's database before the nodes are joined.
    for port in "${TG_CITUS_PORTS[@]}"; do
        psql -X -q -v ON_ERROR_STOP=1 -p "$port" -c "CREATE EXTENSION citus" >/dev/null || return 1
    done
    psql -X -q -v ON_ERROR_STOP=1 -c "SELECT citus_set_coordinator_host('127.0.0.1', $TG_COORD_PORT)" \
        -c "SELECT citus_add_node('127.0.0.1', $TG_WORKER1_PORT)" \
        -c "SELECT citus_add_node('127.0.0.1', $TG_WORKER2_PORT)" >/dev/null || return 1
}

tg_citus_node() {
    local n=$1; shift
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${TG_CITUS_PORTS[$n]}" "$@"
}

tg_citus_stop() {
    [ -n "${TG_CITUS_DIR:-}" ] || return 0
    local n
    for n in 0 1 2; do
        [ -d "$TG_CITUS_DIR/node$n/data" ] &&
            tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_CITUS_DIR/node$n/data" -m immediate -w stop >/dev/null 2>&1
    done
    if [ "${TG_KEEP_CLUSTER:-0}" != 1 ]; then rm -rf "$TG_CITUS_DIR"; fi
    return 0
}
