#!/usr/bin/env bash
# The context cannot arrive through connection options or configuration files, and what changes
# when tenant_guard is not in shared_preload_libraries. Prints TAP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 10

q() { psql -X -At "$@" 2>&1; }
tenant=bbbbbbbb-0000-4000-8000-000000000002
q -c "CREATE EXTENSION tenant_guard; CREATE ROLE tg_app LOGIN;" >/dev/null

out=$(PGOPTIONS="-c tenant_guard.tenant_id=$tenant" q -U tg_app -c "SELECT coalesce(tenant_guard.current_tenant()::text, 'none')")
like "$out" "FATAL:  tenant_guard.tenant_id can only be set by tenant_guard.set_tenant" "app role: a startup option cannot carry a tenant (connection refused)"
out=$(PGOPTIONS="-c tenant_guard.tenant_id=$tenant" q -c "SELECT coalesce(tenant_guard.current_tenant()::text, 'none')")
like "$out" "FATAL:  tenant_guard.tenant_id can only be set by tenant_guard.set_tenant" "superuser: a startup option cannot carry a tenant (connection refused)"
out=$(q -c "ALTER SYSTEM SET tenant_guard.tenant_id = '$tenant'")
like "$out" "ERROR" "ALTER SYSTEM cannot set the context"
out=$(q -c "ALTER ROLE tg_app SET tenant_guard.tenant_id = '$tenant'")
like "$out" "can only be set by tenant_guard.set_tenant" "ALTER ROLE ... SET cannot set the context"
# A role setting written before tenant_guard existed (straight into the catalog) has no effect.
q -c "INSERT INTO pg_db_role_setting VALUES (0, (SELECT oid FROM pg_roles WHERE rolname = 'tg_app'), ARRAY['tenant_guard.tenant_id=$tenant'])" >/dev/null
out=$(q -U tg_app -c "SELECT coalesce(tenant_guard.current_tenant()::text, 'none')")
like "$out" "none$" "a stored role setting is refused at login (no context)"
q -c "DELETE FROM pg_db_role_setting WHERE setdatabase = 0 AND setrole = (SELECT oid FROM pg_roles WHERE rolname = 'tg_app')" >/dev/null

# Without shared_preload_libraries the library loads on first use in each session.
tg_as_server_user sed -i "s/^shared_preload_libraries = 'tenant_guard'/shared_preload_libraries = ''/" "$TG_DATA/postgresql.conf"
tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -w restart -l "$TG_DIR/server.log" >/dev/null
token=$(q -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','$tenant','exp',extract(epoch from now())::bigint+600), 'district-hs256')")
like "$token" "^ey" "without preload: the key file is read when the library loads"
out=$(q -U tg_app <<SQL
SET tenant_guard.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT 'placeholder=' || current_setting('tenant_guard.tenant_id');
SELECT 'context=' || coalesce(tenant_guard.current_tenant()::text, 'none');
SQL
)
like "$out" "placeholder=aaaaaaaa" "without preload: before the library loads, SET only makes a placeholder"
like "$out" "context=none" "without preload: the placeholder is discarded when the library loads"
out=$(q -U tg_app <<SQL
BEGIN;
SELECT tenant_guard.set_tenant('$token');
SELECT 'context=' || tenant_guard.current_tenant();
COMMIT;
SELECT 'after=' || coalesce(tenant_guard.current_tenant()::text, 'none');
SQL
)
like "$out" "context=$tenant" "without preload: set_tenant works once loaded"
like "$out" "after=none" "without preload: the context still ends with the transaction"
