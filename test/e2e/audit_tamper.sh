#!/usr/bin/env bash
# Tampering with the audit ledger. While tenant_guard is loaded even a superuser cannot change it;
# with the server restarted without the library a superuser can (one copy of the database per
# kind: a changed value, a deleted, forged, replayed or moved entry, a dropped newest block, a
# consistent rewrite of one tenant), and with the library back verify_audit() reports each, the
# rewrite through an audit_digest() saved before.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 40

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
tenant_a=aaaaaaaa-0000-4000-8000-00000000000a
tenant_b=bbbbbbbb-0000-4000-8000-00000000000b
nil_tenant=00000000-0000-0000-0000-000000000000
src=ledger_source
ledger=tenant_guard
# Tenants as short labels in problem lists.
label="CASE tenant_id WHEN '$tenant_a' THEN 'A' WHEN '$tenant_b' THEN 'B' WHEN '$nil_tenant' THEN 'nil' ELSE tenant_id::text END"

# verify_audit() of database $1 as "tenant|problem|rows" lines; $2: the digest (optional), $3: the tenant (optional).
problems() {
    local tenant=NULL args
    [ -n "${3:-}" ] && tenant="'$3'"
    args="$tenant::uuid"
    [ -n "${2:-}" ] && args+=", \$digest\$$2\$digest\$::jsonb"
    q -d "$1" -c "SELECT $label || '|' || problem || '|' || count(*) FROM $ledger.verify_audit($args)
                   GROUP BY tenant_id, problem ORDER BY 1"
}
details() {  # the detail column of verify_audit() in $1 for problem $2, one line each
    q -d "$1" -c "SELECT $label || '|' || detail FROM $ledger.verify_audit() WHERE problem = '$2' ORDER BY 1"
}
root_detail() {  # the merkle_root detail expected in $1 for block $3 of tenant label $2 ($4: tenant uuid) with $5 entries more
    local sealed
    sealed=$(q -d "$1" -c "SELECT entry_count FROM $ledger.audit_blocks WHERE tenant_id = '$4' AND block_no = $3")
    echo "$2|block $3: its $((sealed + $5)) entries do not match the sealed Merkle root (sealed with $sealed)"
}
restart_server() {
    tg_as_server_user "$TG_PG_BIN/pg_ctl" -D "$TG_DATA" -w -t 60 restart -l "$TG_DIR/server.log" >/dev/null \
        || { tail -20 "$TG_DIR/server.log"; echo "Bail out! the server did not restart"; exit 1; }
}
bail_with() { sed 's/^/# /' "$1"; echo "Bail out! $2"; exit 1; }

# --- 1. A ledger with history: two tenants, several transactions, at least three blocks each ----
createdb "$src"
q -q -d "$src" >"$TG_DIR/setup.log" <<SQL || bail_with "$TG_DIR/setup.log" "setup failed"
CREATE EXTENSION tenant_guard;
CREATE ROLE ledger_app LOGIN;
CREATE TABLE grades (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
                     student text NOT NULL, score int);
SELECT tenant_guard.audit_table('grades');
GRANT SELECT, INSERT, UPDATE, DELETE ON grades TO ledger_app;
SQL
mint() { q -d "$1" -c "SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id','$2','sub','$3','exp',extract(epoch from now())::bigint+600), 'district-hs256')"; }
token_a=$(mint "$src" "$tenant_a" teacher-a)
token_b=$(mint "$src" "$tenant_b" teacher-b)
[[ "$token_a" == ey* && "$token_b" == ey* ]] || { echo "Bail out! could not mint tokens: $token_a"; exit 1; }

# Round r: A inserts two rows, B inserts one and updates last round's, A updates one and deletes
# last round's; then a seal. The background sealer may cut a round in two: that only adds blocks.
history=""
for r in 1 2 3 4; do
    p=$((r - 1))
    history+="
SET ROLE ledger_app;
BEGIN; SELECT tenant_guard.set_tenant('$token_a');
INSERT INTO grades (student, score) VALUES ('ann-$r', $r), ('abe-$r', 10 * $r); COMMIT;
BEGIN; SELECT tenant_guard.set_tenant('$token_b');
INSERT INTO grades (student, score) VALUES ('bea-$r', 20 + $r);
UPDATE grades SET score = score + 1 WHERE student = 'bea-$p'; COMMIT;
BEGIN; SELECT tenant_guard.set_tenant('$token_a');
UPDATE grades SET score = score + 5 WHERE student = 'ann-$r';
DELETE FROM grades WHERE student = 'abe-$p'; COMMIT;
RESET ROLE;
SELECT tenant_guard.seal_audit();"
done
q -q -d "$src" >"$TG_DIR/history.log" <<<"$history" || bail_with "$TG_DIR/history.log" "writing the history failed"

is "$(q -d "$src" -c "SELECT $label || ':' || string_agg(action, ',' ORDER BY action) || ':' || sum(n) FROM (
        SELECT tenant_id, action, count(*) n FROM $ledger.audit_log GROUP BY 1, 2) s GROUP BY tenant_id ORDER BY 1")" \
"A:DELETE,INSERT,UPDATE:15
B:INSERT,UPDATE:7
nil:AUDIT_TABLE:1" "history: 15 entries of tenant A, 7 of B (app role, four rounds), 1 about the ledger"
is "$(q -d "$src" -c "SELECT string_agg($label || '=' || (n >= 3), ',' ORDER BY tenant_id) FROM (
        SELECT tenant_id, count(*) n FROM $ledger.audit_blocks GROUP BY 1) b WHERE tenant_id <> '$nil_tenant'")|$(
   q -d "$src" -c "SELECT count(*) FROM $ledger.audit_log l, $ledger.audit_seal_state s WHERE l.xact_id >= s.sealed_below")" \
   "A=true,B=true|0" "history: tenants A and B have at least three blocks each, every entry is below the seal horizon"
is "$(problems "$src")" "" "history: verify_audit() finds nothing"

digest=$(q -d "$src" -c "SELECT $ledger.audit_digest()")
echo "$digest" >"$TG_DIR/digest.json"
blocks_a=$(q -d "$src" -c "SELECT max(block_no) FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a'")
blocks_b=$(q -d "$src" -c "SELECT max(block_no) FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_b'")
is "$(q -d "$src" -c "SELECT (d->'chains'->'$tenant_a'->>'block_no') || ',' || (d->'chains'->'$tenant_b'->>'block_no')
        FROM (SELECT \$d\$$(cat "$TG_DIR/digest.json")\$d\$::jsonb d) s")" "$blocks_a,$blocks_b" \
   "audit_digest() names the newest block of each tenant (saved to a file)"

# Targets of the tampering, found now (while everything verifies): "entry_seq|xact_id|block_no".
target() {  # $1 tenant, $2 action, $3 student
    q -d "$src" -c "SELECT l.entry_seq || '|' || l.xact_id || '|' || b.block_no
        FROM $ledger.audit_log l JOIN $ledger.audit_blocks b
          ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
       WHERE l.tenant_id = '$1' AND l.action = '$2' AND coalesce(l.new_values, l.old_values)->>'student' = '$3'"
}
block_covering() {  # $1 tenant, $2 xact_id
    q -d "$src" -c "SELECT block_no FROM $ledger.audit_blocks WHERE tenant_id = '$1' AND xact_lo <= '$2' AND '$2' < xact_hi"
}
IFS='|' read -r value_seq value_xact _ <<<"$(target "$tenant_a" UPDATE ann-2)"
IFS='|' read -r delete_seq _ delete_block <<<"$(target "$tenant_b" UPDATE bea-2)"
IFS='|' read -r forge_seq forge_xact forge_block <<<"$(target "$tenant_a" INSERT abe-3)"
IFS='|' read -r replay_seq _ replay_block <<<"$(target "$tenant_b" INSERT bea-1)"
IFS='|' read -r move_seq move_xact move_block <<<"$(target "$tenant_a" DELETE abe-2)"
move_block_b=$(block_covering "$tenant_b" "$move_xact")
drop_entries=$(q -d "$src" -c "SELECT count(*) FROM $ledger.audit_log l JOIN $ledger.audit_blocks b
        ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
     WHERE b.tenant_id = '$tenant_a' AND b.block_no = $blocks_a")
for v in value_seq value_xact delete_seq delete_block forge_seq forge_block replay_seq replay_block move_seq move_block move_block_b; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "Bail out! no tampering target $v: '${!v}'"; exit 1; }
done
ledger_state() {  # everything in the ledger tables, as one checksum
    q -d "$1" -c "SELECT md5(string_agg(t, E'\n' ORDER BY t)) FROM (
        SELECT l::text t FROM $ledger.audit_log l UNION ALL SELECT b::text FROM $ledger.audit_blocks b
        UNION ALL SELECT s::text FROM $ledger.audit_seal_state s) x"
}
state_before=$(ledger_state "$src")

# --- 2. With the library loaded, a superuser cannot change the ledger ------------------------------
# Every attempt in one superuser session that goes on after errors; \warn marks each on stderr.
attempts=$(psql -X -At -v VERBOSITY=verbose -d "$src" 2>&1 >/dev/null <<SQL
\warn @value
UPDATE $ledger.audit_log SET new_values = jsonb_set(new_values, '{score}', '100')
 WHERE tenant_id = '$tenant_a' AND entry_seq = $value_seq;
\warn @delete
DELETE FROM $ledger.audit_log WHERE tenant_id = '$tenant_b' AND entry_seq = $delete_seq;
\warn @forge
INSERT INTO $ledger.audit_log SELECT tenant_id, entry_seq + 100000, xact_id, logged_at, subject, role_name, action,
       entity_type, entity_id, changed_columns, old_values, new_values, entry_hash
  FROM $ledger.audit_log WHERE tenant_id = '$tenant_a' AND entry_seq = $forge_seq;
\warn @move
UPDATE $ledger.audit_log SET tenant_id = '$tenant_b' WHERE tenant_id = '$tenant_a' AND entry_seq = $move_seq;
\warn @drop_block
DELETE FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a' AND block_no = $blocks_a;
\warn @horizon
UPDATE $ledger.audit_seal_state SET sealed_below = '1';
\warn @truncate_log
TRUNCATE $ledger.audit_log;
\warn @truncate_blocks
TRUNCATE $ledger.audit_blocks;
\warn @drop_table
DROP TABLE $ledger.audit_log;
\warn @drop_unmembered
BEGIN;
ALTER EXTENSION tenant_guard DROP TABLE $ledger.audit_log;
DROP TABLE $ledger.audit_log;
COMMIT;
\warn @drop_schema
DROP SCHEMA tenant_guard CASCADE;
\warn @rename_schema
ALTER SCHEMA tenant_guard RENAME TO tg_hidden;
\warn @end
SQL
)
attempt() {  # the first error line (with SQLSTATE) of attempt $1; empty if it went through
    awk -v mark="@$1" '$0 == mark { on = 1; next } /^@/ { on = 0 } on && /^ERROR:/ { print; exit }' <<<"$attempts"
}
refused="ERROR:  42501: the tenant_guard audit ledger is append-only"
is "$(attempt value)" "$refused" "superuser with the library: changing a value of an entry is refused (42501)"
is "$(attempt delete)" "$refused" "superuser with the library: deleting an entry is refused"
is "$(attempt forge)" "$refused" "superuser with the library: inserting a forged entry is refused"
is "$(attempt move)" "$refused" "superuser with the library: moving an entry to another tenant is refused"
is "$(attempt drop_block)|$(attempt horizon)" "$refused|$refused" \
   "superuser with the library: deleting the newest block and moving the seal horizon are refused"
is "$(attempt truncate_log)|$(attempt truncate_blocks)" "$refused|$refused" \
   "superuser with the library: TRUNCATE of entries and blocks is refused"
# DROP TABLE of an extension member stops in PostgreSQL itself (2BP01); without the membership,
# or dropped through the schema, tenant_guard's object-access hook refuses it.
is "$(attempt drop_table)|$(attempt drop_unmembered)|$(attempt drop_schema)" \
   "ERROR:  2BP01: cannot drop table tenant_guard.audit_log because extension tenant_guard requires it|$refused|$refused" \
   "superuser with the library: DROP TABLE of the ledger is refused (also outside the extension, also by DROP SCHEMA CASCADE)"
is "$(attempt rename_schema)" "$refused" \
   "superuser with the library: renaming schema tenant_guard (which would hide the ledger from the guards) is refused"
is "$(ledger_state "$src")|$(problems "$src")|$(q -d "$src" -c "SELECT count(*) FROM pg_depend
        WHERE classid = 'pg_class'::regclass AND objid = '$ledger.audit_log'::regclass AND deptype = 'e'")" \
   "$state_before||1" "superuser with the library: the ledger is unchanged, verifies, and is still part of the extension"

# --- 3. Without the library a superuser can rewrite it: one copy of the database per kind ---------
tg_as_server_user sed -i "s/^shared_preload_libraries = 'tenant_guard'/shared_preload_libraries = ''/" "$TG_DATA/postgresql.conf"
restart_server
is "$(q -c "SHOW shared_preload_libraries")|$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'tenant_guard%'")" \
   "|0" "restarted without tenant_guard: nothing preloaded, no ledger worker"

copies="tamper_none tamper_value tamper_delete tamper_forge tamper_replay tamper_move tamper_drop_block tamper_rewrite
        tamper_prune_middle tamper_prune_first"
for db in $copies; do q -c "CREATE DATABASE $db TEMPLATE $src"; done >"$TG_DIR/copies.log"
is "$(q -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'tamper\_%'")" "10" \
   "without the library: ten copies of the source database (no sealer holds it open)"

# Plain SQL only: calling any tenant_guard function would load the library and its hooks.
tamper() {  # $1 database; SQL on stdin; prints the command tags
    q -d "$1" -v VERBOSITY=verbose
}
out=$(tamper tamper_value <<SQL
UPDATE $ledger.audit_log SET new_values = jsonb_set(new_values, '{score}', '100')
 WHERE tenant_id = '$tenant_a' AND entry_seq = $value_seq;
SQL
)
out+="|"$(tamper tamper_delete <<SQL
DELETE FROM $ledger.audit_log WHERE tenant_id = '$tenant_b' AND entry_seq = $delete_seq;
SQL
)
# A forged entry: a copy of a sealed entry with another value, in the same transaction (so in a
# sealed block's range, which the sealer never reopens); it keeps the copied entry hash.
out+="|"$(tamper tamper_forge <<SQL
INSERT INTO $ledger.audit_log
SELECT tenant_id, (SELECT max(entry_seq) + 1 FROM $ledger.audit_log), xact_id, logged_at, subject, role_name, action,
       entity_type, entity_id, changed_columns, old_values, jsonb_set(new_values, '{score}', '99'), entry_hash
  FROM $ledger.audit_log WHERE tenant_id = '$tenant_a' AND entry_seq = $forge_seq;
SQL
)
# A replayed entry: an exact copy of a sealed entry, so its own entry hash is valid.
out+="|"$(tamper tamper_replay <<SQL
INSERT INTO $ledger.audit_log SELECT * FROM $ledger.audit_log WHERE tenant_id = '$tenant_b' AND entry_seq = $replay_seq;
SQL
)
out+="|"$(tamper tamper_move <<SQL
UPDATE $ledger.audit_log SET tenant_id = '$tenant_b' WHERE tenant_id = '$tenant_a' AND entry_seq = $move_seq;
SQL
)
out+="|"$(tamper tamper_drop_block <<SQL
DELETE FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a' AND block_no = $blocks_a;
SQL
)
# The consistent rewrite: tenant A's whole history goes, a new one is written after the restart.
# The seal horizon stays: moved back, the sealer would seal B's old entries again into a new block,
# which verify_audit() reports (merkle_root of B), so the rewrite would not be consistent.
out+="|"$(tamper tamper_rewrite <<SQL
DELETE FROM $ledger.audit_log WHERE tenant_id = '$tenant_a';
DELETE FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a';
SQL
)
# A hand-made "prune": the block's header moved to audit_pruned_blocks, its entries deleted, and no
# PRUNE_AUDIT entry. Of a middle block (not a prefix, which prune_audit() never leaves), and of block 1.
hand_prune() {  # $1 block number
    cat <<SQL
INSERT INTO $ledger.audit_pruned_blocks SELECT *, now() FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a' AND block_no = $1;
DELETE FROM $ledger.audit_log l USING $ledger.audit_blocks b
 WHERE b.tenant_id = '$tenant_a' AND b.block_no = $1 AND l.tenant_id = b.tenant_id
   AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi;
DELETE FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a' AND block_no = $1;
SQL
}
out+="|"$(hand_prune 2 | tamper tamper_prune_middle | tail -1)
out+="|"$(hand_prune 1 | tamper tamper_prune_first | tail -1)
is "$out" "UPDATE 1|DELETE 1|INSERT 0 1|INSERT 0 1|UPDATE 1|DELETE 1|DELETE 15
DELETE $blocks_a|DELETE 1|DELETE 1" \
   "without the library: a superuser changes a value, deletes an entry, forges one, replays one, moves one, drops a block, erases a tenant"
is "$(ledger_state tamper_none)" "$state_before" "without the library: the untouched copy holds the same ledger as the source"

# --- 4. With the library again: verify_audit() finds each change --------------------------------
tg_as_server_user sed -i "s/^shared_preload_libraries = ''/shared_preload_libraries = 'tenant_guard'/" "$TG_DATA/postgresql.conf"
restart_server
launcher_running() {
    for _ in $(seq 50); do
        [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_guard launcher'")" = 1 ] && echo 1 && return
        sleep 0.1
    done
    echo 0
}
is "$(q -c "SHOW shared_preload_libraries")|$(launcher_running)" "tenant_guard|1" \
   "restarted with tenant_guard preloaded: the launcher runs again"

is "$(problems tamper_none)|$(problems tamper_none "$digest")|$(problems "$src" "$digest")" "||" \
   "untouched copy and source: verify_audit() finds nothing, also against the saved digest"

is "$(problems tamper_value)" "A|entry_hash|1" "changed value: verify_audit() reports an entry_hash problem of tenant A only"
is "$(details tamper_value entry_hash)" "A|entry $value_seq (transaction $value_xact) was changed" \
   "changed value: the report names the changed entry and its transaction"

is "$(problems tamper_delete)" "B|merkle_root|1" "deleted entry: verify_audit() reports a merkle_root problem of tenant B only"
is "$(details tamper_delete merkle_root)" "$(root_detail tamper_delete B "$delete_block" "$tenant_b" -1)" \
   "deleted entry: the report names the block that lost it, with one entry fewer than it was sealed with"

is "$(problems tamper_forge)" "A|entry_hash|1
A|merkle_root|1" "forged entry: verify_audit() reports its entry hash and the Merkle root of tenant A's block"
is "$(details tamper_forge merkle_root)|$(details tamper_forge entry_hash)" \
   "$(root_detail tamper_forge A "$forge_block" "$tenant_a" 1)|A|entry $(q -d tamper_forge -c "SELECT max(entry_seq) FROM $ledger.audit_log") (transaction $forge_xact) was changed" \
   "forged entry: reported in the block of the transaction it claims (one entry more), and by its own entry number"

is "$(problems tamper_replay)" "B|merkle_root|1" "replayed entry (valid entry hash): verify_audit() still reports tenant B's Merkle root"
is "$(details tamper_replay merkle_root)" "$(root_detail tamper_replay B "$replay_block" "$tenant_b" 1)" \
   "replayed entry: reported in the block it was copied into, with one entry more"

is "$(problems tamper_move)" "A|merkle_root|1
B|entry_hash|1
B|merkle_root|1" "moved entry: verify_audit() reports A's block that lost it, and the entry and block of B that gained it"
is "$(details tamper_move merkle_root)" "$(root_detail tamper_move A "$move_block" "$tenant_a" -1)
$(root_detail tamper_move B "$move_block_b" "$tenant_b" 1)" \
   "moved entry: A's block has one entry fewer, B's block one more"

is "$(problems tamper_drop_block)" "A|unsealed_entry|$drop_entries" \
   "dropped newest block: verify_audit() reports its $drop_entries entries of tenant A as unsealed"
is "$(problems tamper_drop_block "$digest")" "A|digest_block_missing|1
A|unsealed_entry|$drop_entries" "dropped newest block: against the saved digest, the block is reported missing"
like "$(q -d tamper_drop_block -c "SELECT detail FROM $ledger.verify_audit(NULL, \$d\$$digest\$d\$::jsonb) WHERE problem = 'digest_block_missing'")" \
   "^block $blocks_a of the digest is no longer in the ledger$" "dropped newest block: the report names the block"

# The consistent rewrite: tenant A gets a new history through the ordinary trigger path, sealed
# into as many blocks as before; only the digest kept outside can tell.
is "$(problems tamper_rewrite)|$(problems tamper_rewrite "$digest" "$tenant_a")" "|A|digest_block_missing|1" \
   "erased tenant: verify_audit() sees nothing, the saved digest misses A's newest block"
fake_token=$(mint tamper_rewrite "$tenant_a" teacher-a)
fake=""
for r in $(seq "$blocks_a"); do
    fake+="
SET ROLE ledger_app;
BEGIN; SELECT tenant_guard.set_tenant('$fake_token');
INSERT INTO grades (student, score) VALUES ('ann-$r', $r); COMMIT;
RESET ROLE;
SELECT tenant_guard.seal_audit();"
done
q -q -d tamper_rewrite >"$TG_DIR/fake.log" <<<"$fake" || bail_with "$TG_DIR/fake.log" "writing the fake history failed"
is "$(q -d tamper_rewrite -c "SELECT count(*) FROM $ledger.audit_log WHERE tenant_id = '$tenant_a'")|$(
      q -d tamper_rewrite -c "SELECT max(block_no) >= $blocks_a FROM $ledger.audit_blocks WHERE tenant_id = '$tenant_a'")" \
   "$blocks_a|t" "rewrite: tenant A's new history is sealed into at least as many blocks as the old one"
is "$(problems tamper_rewrite)|$(problems tamper_rewrite "" "$tenant_a")" "|" \
   "rewrite: verify_audit() alone finds nothing, for A or any tenant"
is "$(problems tamper_rewrite "$digest" "$tenant_a")|$(problems tamper_rewrite "$digest" "$tenant_b")" "A|digest_mismatch|1|" \
   "rewrite: verify_audit(A, saved digest) reports digest_mismatch; B still matches the digest"
is "$(q -d tamper_rewrite -c "SELECT detail FROM $ledger.verify_audit('$tenant_a', \$d\$$digest\$d\$::jsonb)")" \
   "block $blocks_a of the digest has a different hash in the ledger: history was rewritten" \
   "rewrite: the report names the block of the digest"

is "$(problems tamper_prune_middle)|$(problems tamper_prune_middle "$digest")" \
   "A|pruned_out_of_order|1
A|unrecorded_prune|1|A|pruned_out_of_order|1
A|unrecorded_prune|1" \
   "a middle block pruned by hand: verify_audit() reports it (pruned after a live block, no PRUNE_AUDIT entry)"
is "$(problems tamper_prune_first)" "A|unrecorded_prune|1" \
   "block 1 pruned by hand: verify_audit() reports a prune that no PRUNE_AUDIT entry records"
ok "$(grep -qE 'terminated by signal|server process .* was terminated' "$TG_DIR/server.log" || echo clean)" "no backend crashed"
