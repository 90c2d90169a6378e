# pgbouncer in front of the throwaway cluster (source test/lib/cluster.sh and start it first).
#   tg_pgbouncer_start NAME MODE DBNAME [pool_size]   start an instance; sets TG_BOUNCER_PORT
#   tg_pgbouncer_stop NAME
# It listens on 127.0.0.1 only, runs as the server's OS user (pgbouncer refuses root), trusts the
# users listed in its userlist, and checks a server connection before reusing it, so that a crashed
# server is noticed at once.
tg_pgbouncer_start() {
    local name=$1 mode=$2 dbname=$3 pool_size=${4:-4}
    local dir=$TG_DIR/pgbouncer-$name
    TG_BOUNCER_PORT=$(tg_free_port $((TG_PORT + 100)))
    tg_as_server_user mkdir -p "$dir"
    tg_as_server_user tee "$dir/userlist.txt" >/dev/null <<USERS
"postgres" ""
"pool_app" ""
USERS
    tg_as_server_user tee "$dir/pgbouncer.ini" >/dev/null <<INI
[databases]
$dbname = host=$TG_SOCKET_DIR port=$TG_PORT dbname=$dbname
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $TG_BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = $pool_size
min_pool_size = 0
max_client_conn = 200
server_reset_query = DISCARD ALL
server_check_delay = 0
server_check_query = SELECT 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    tg_as_server_user pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || { cat "$dir/pgbouncer.log"; return 1; }
    local _
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/"$TG_BOUNCER_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$dir/pgbouncer.log"; return 1
}

tg_pgbouncer_stop() {
    local pidfile=$TG_DIR/pgbouncer-$1/pgbouncer.pid
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
    return 0
}
