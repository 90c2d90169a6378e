#!/usr/bin/env bash
# The main job: build and install tenant_guard, start a throwaway cluster with it preloaded, create
# a demo district database, and show tenant isolation at work.
#   bash scripts/demo.sh        start (replacing an earlier demo cluster) and show
#   bash scripts/demo.sh stop   stop the demo cluster and delete it
set -euo pipefail
cd "$(dirname "$0")/.."
demo_dir=/tmp/tenant_guard-demo
source test/lib/cluster.sh

if [ -f "$demo_dir/data/postmaster.pid" ] || [ "${1:-}" = stop ]; then
    TG_DIR=$demo_dir TG_DATA=$demo_dir/data tg_cluster_stop
    rm -rf "$demo_dir"
    [ "${1:-}" = stop ] && { echo "demo cluster stopped and removed"; exit 0; }
fi

bash scripts/install-deps.sh
echo "building and installing tenant_guard ..."
bash scripts/build.sh
tg_cluster_start "$demo_dir"

district_a=aaaaaaaa-0000-4000-8000-00000000000a
district_b=bbbbbbbb-0000-4000-8000-00000000000b
tg_psql -c "CREATE DATABASE district_demo"
tg_psql -d district_demo <<SQL
CREATE EXTENSION tenant_guard;
CREATE ROLE district_app LOGIN;  -- what the application connects as: not the owner, no BYPASSRLS
-- No policy, no ENABLE ROW LEVEL SECURITY, no index: tenant_guard's event trigger adds them all
-- because the table has a tenant_id uuid column.
CREATE TABLE public.students (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    name       text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.students TO district_app;
GRANT USAGE ON SCHEMA tenant_guard TO district_app;
-- Every change to students goes to the tamper-evident audit ledger.
SELECT tenant_guard.audit_table('public.students');
INSERT INTO public.students (tenant_id, name) VALUES
    ('$district_a', 'Ada (district A)'), ('$district_a', 'Alan (district A)'),
    ('$district_b', 'Barbara (district B)'), ('$district_b', 'Brian (district B)'), ('$district_b', 'Beth (district B)');
SQL

mint() {
    tg_psql -At -d district_demo -c "SELECT tenant_guard.sign_token(jsonb_build_object(
        'tenant_id', '$1', 'sub', '$2', 'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256')"
}
token_a=$(mint "$district_a" teacher-a)
token_b=$(mint "$district_b" teacher-b)
admin_a=$(tg_psql -At -d district_demo -c "SELECT tenant_guard.sign_token(jsonb_build_object(
    'tenant_id', '$district_a', 'sub', 'admin-a', 'roles', jsonb_build_array('tenant_admin'),
    'exp', extract(epoch FROM now())::bigint + 3600), 'district-hs256')")
echo "$token_a" > "$demo_dir/token_district_a.jwt"
echo "$token_b" > "$demo_dir/token_district_b.jwt"
chmod 644 "$demo_dir"/*.jwt

as_app() { psql -X -d district_demo -U district_app "$@"; }
show() { printf '\n\033[1m%s\033[0m\n' "$1"; }

list_students_as() {  # $1: token
    as_app -v token="$1" <<'SQL'
BEGIN;
SELECT tenant_guard.set_tenant(:'token') AS tenant;
SELECT id, name FROM public.students ORDER BY id;
COMMIT;
SQL
}

show "The event trigger protected the new table (forced row-level security, policies, default, index):"
tg_psql -d district_demo -c '\d public.students'
tg_psql -d district_demo -c 'SELECT * FROM tenant_guard.protected_tables'

show "District A's teacher (a token signed for district A) sees only district A:"
list_students_as "$token_a"

show "District B's teacher sees only district B:"
list_students_as "$token_b"

show "Without a tenant context the table looks empty:"
as_app -c "SELECT count(*) AS visible_rows FROM public.students"

show "A forged token (district B's claims, district A's signature) is refused:"
forged="$(echo "$token_a" | cut -d. -f1).$(echo "$token_b" | cut -d. -f2).$(echo "$token_a" | cut -d. -f3)"
as_app -v token="$forged" 2>&1 <<'SQL' || true
SELECT tenant_guard.set_tenant(:'token');
SQL

show "District A's teacher adds a student without naming the district; the default fills it in:"
as_app -v token="$token_a" <<'SQL'
BEGIN;
SELECT tenant_guard.set_tenant(:'token') IS NOT NULL AS context_set;
INSERT INTO public.students (name) VALUES ('Amir (district A)') RETURNING tenant_id, name;
COMMIT;
SQL

show "Writing a row for another district is refused:"
as_app -v token="$token_a" 2>&1 <<SQL || true
BEGIN;
SELECT tenant_guard.set_tenant(:'token') IS NOT NULL AS context_set;
INSERT INTO public.students (tenant_id, name) VALUES ('$district_b', 'Mallory');
ROLLBACK;
SQL

show "A plain SET of the context is refused (for the app role and even for a superuser):"
as_app -c "SET tenant_guard.tenant_id = '$district_b'" 2>&1 || true
tg_psql -d district_demo -c "SELECT set_config('tenant_guard.tenant_id', '$district_b', false)" 2>&1 || true

show "The audit ledger: district A's administrator sees district A's trail, and nothing of district B's:"
as_app -v token="$admin_a" <<'SQL'
BEGIN;
SELECT tenant_guard.set_tenant(:'token') IS NOT NULL AS context_set;
SELECT action, subject, new_values->>'name' AS name, encode(entry_hash, 'hex') AS entry_hash
  FROM tenant_guard.audit_log ORDER BY entry_seq;
COMMIT;
SQL

show "Nobody can rewrite it, not even a superuser; sealed into hash-chained blocks, it verifies:"
tg_psql -d district_demo -c "UPDATE tenant_guard.audit_log SET new_values = '{}'" 2>&1 || true
tg_psql -d district_demo -c "SELECT tenant_guard.seal_audit() >= 0 AS sealed" \
    -c "SELECT tenant_id, block_no, entry_count, encode(block_hash, 'hex') AS block_hash FROM tenant_guard.audit_blocks ORDER BY 1, 2" \
    -c "SELECT count(*) AS problems FROM tenant_guard.verify_audit()"

cat <<EOF

The demo cluster is running (port $TG_PORT, socket directory $TG_SOCKET_DIR).
Connect as the application role:
  psql -h $TG_SOCKET_DIR -p $TG_PORT -U district_app district_demo
then, for example (the tokens are in $demo_dir/token_district_{a,b}.jwt):
  \\set token \`cat $demo_dir/token_district_a.jwt\`
  BEGIN; SELECT tenant_guard.set_tenant(:'token'); TABLE students; COMMIT;
Connect as superuser: psql -h $TG_SOCKET_DIR -p $TG_PORT -U postgres district_demo
Stop and remove it:   bash scripts/demo.sh stop
EOF
