#!/usr/bin/env bash
# The audit ledger verified outside the database: tools/export_ledger.sh writes CSV files, and
# tools/verify_ledger_export.py (Python standard library, no tenant_guard code) recomputes every hash
# from the README's canonical encoding, agrees with verify_audit() and the database's block hashes,
# checks a saved digest, and names each tampering of the exported files.
# Prints TAP; run by scripts/test.sh through prove.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../../tools" && pwd)
source "$here/../lib/tap.sh"
e2e_begin 24
# Debian's python3 (scripts/install-deps.sh) when there, else the first on PATH.
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3

q() { psql -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
bail_with() { sed 's/^/# /' "$1"; echo "Bail out! $2"; exit 1; }
tenant_a=aaaaaaaa-0000-4000-8000-00000000000a
tenant_b=bbbbbbbb-0000-4000-8000-00000000000b
L=tenant_guard

# Only seal_audit() seals here: the background sealer seals once when it starts, then sleeps.
q -c "ALTER SYSTEM SET tenant_guard.audit_seal_interval = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do [ "$(q -c "SHOW tenant_guard.audit_seal_interval")" = 1h ] && break; sleep 0.1; done

# --- 1. A ledger: two tenants, awkward values, several blocks, one prune, unsealed entries ----------
q -q >"$TG_DIR/setup.log" <<SQL || bail_with "$TG_DIR/setup.log" "setup failed"
CREATE EXTENSION tenant_guard;
CREATE TABLE students (id int primary key, tenant_id uuid not null, name text, born date, seen timestamptz,
                       score float8, tags text[]);
SELECT tenant_guard.audit_table('students', '{}');
SQL
seal="SELECT $L.seal_audit();"
q -q >"$TG_DIR/history.log" <<SQL || bail_with "$TG_DIR/history.log" "writing the history failed"
BEGIN;
INSERT INTO students VALUES
  (1, '$tenant_a', 'Zoë Łukasz 😀 日本', '2010-05-01', '2026-01-02 03:04:05.678901+02', 1.5, '{a,"b c"}'),
  (2, '$tenant_a', 'O''Brien "Bob"', NULL, NULL, NULL, NULL);
INSERT INTO students VALUES
  (3, '$tenant_b', E'Smith, John\nJr.', '2011-12-31', now(), 0.1, '{}'),
  (4, '$tenant_b', E'C:\\\\path\\\\to \\\\x41', NULL, NULL, -0.0, '{"x,y","q\\"uote",NULL}');
COMMIT;
$seal
BEGIN;
UPDATE students SET name = name || ' ✓', score = 1e300 WHERE id = 1;
UPDATE students SET tags = '{"back\\\\slash"}', born = '1999-01-01' WHERE id = 3;
COMMIT;
DELETE FROM students WHERE id = 2;
$seal
INSERT INTO students VALUES (5, '$tenant_a', '', 'infinity', NULL, 'NaN', '{""}'),
                            (6, '$tenant_b', E'tab\there', NULL, NULL, 2.5, NULL);
UPDATE students SET name = NULL WHERE id = 4;
INSERT INTO students SELECT g, '$tenant_b', 'bulk ' || g, NULL, NULL, g / 3.0, '{}' FROM generate_series(10, 16) g;
$seal
SQL
# The subject is the token's sub: none without a token (NULL), and an empty sub ('').
token=$(q -c "SELECT $L.sign_token(jsonb_build_object('tenant_id','$tenant_a','sub','','exp',extract(epoch from now())::bigint+600), 'district-hs256')")
[[ "$token" == ey* ]] || { echo "Bail out! could not mint a token: $token"; exit 1; }
q -q >>"$TG_DIR/history.log" <<SQL || bail_with "$TG_DIR/history.log" "writing the empty-subject entry failed"
BEGIN; SELECT $L.set_tenant('$token'); INSERT INTO students VALUES (7, '$tenant_a', 'empty sub', NULL, NULL, 7, '{}'); COMMIT;
$seal
SQL
# Prune the first blocks (sealed no later than tenant A's block 1), then more blocks, then unsealed entries.
q -q >>"$TG_DIR/history.log" <<SQL || bail_with "$TG_DIR/history.log" "prune and later entries failed"
SELECT $L.prune_audit((SELECT sealed_at FROM $L.audit_blocks WHERE tenant_id = '$tenant_a' AND block_no = 1)
                      + interval '1 microsecond');
UPDATE students SET score = score + 1 WHERE id IN (5, 6);
$seal
INSERT INTO students VALUES (8, '$tenant_a', 'late, unsealed', NULL, NULL, NULL, '{}');
DELETE FROM students WHERE id = 6;
SQL
shape=$(q -c "SELECT (SELECT count(DISTINCT tenant_id) = 3 AND min(n) >= 2 FROM (SELECT tenant_id, count(*) n FROM
                        (SELECT tenant_id FROM $L.audit_blocks UNION ALL SELECT tenant_id FROM $L.audit_pruned_blocks) x
                        GROUP BY 1) c)
                || '|' || (SELECT max(entry_count) >= 7 FROM $L.audit_blocks)
                || '|' || (SELECT count(*) > 0 FROM $L.audit_pruned_blocks WHERE tenant_id = '$tenant_a')
                || '|' || (SELECT count(*) > 0 FROM $L.audit_blocks WHERE tenant_id = '$tenant_b')
                || '|' || (SELECT count(*) > 0 FROM $L.audit_log l, $L.audit_seal_state s WHERE l.xact_id >= s.sealed_below)
                || '|' || (SELECT count(*) FILTER (WHERE subject IS NULL) > 0 AND count(*) FILTER (WHERE subject = '') = 1
                             FROM $L.audit_log WHERE tenant_id = '$tenant_a')")
is "$shape" "true|true|true|true|true|true" \
   "ledger: A, B and nil chains of 2+ blocks, a block of 7+ entries, pruned headers, live blocks, unsealed entries, NULL and '' subjects"
is "$(q -c "SELECT count(*) FROM $L.verify_audit()")" "0" "the database's verify_audit() finds nothing"
q -c "SELECT $L.audit_digest()" >"$TG_DIR/digest.json"
is "$(q -c "SELECT count(*) FROM $L.verify_audit(NULL, pg_read_file('$TG_DIR/digest.json')::jsonb)")" "0" \
   "the database also verifies against the saved digest"

# --- 2. The export, verified outside ---------------------------------------------------------------
# The tool's encoding is the one pinned byte for byte in test/unit/ledger_test.cpp.
pinned=$(PYTHONPATH=$tools "$python" -B -c '
import verify_ledger_export as v
print(v.entry_encoding(dict(tenant_id="0190a5c8-0000-7000-8000-000000000001", entry_seq=7, xact_id=745,
    logged_at_us=1764115200000000, subject="alice", role_name="app", action="UPDATE", entity_type="public.students",
    entity_id="42", changed_columns=["name"], old_values="{\"id\": 42, \"name\": \"Ann\"}",
    new_values="{\"id\": 42, \"name\": \"Anne\"}")).decode())' 2>&1)
is "$pinned" '27:tenant_guard.audit_entry.v1,36:0190a5c8-0000-7000-8000-000000000001,1:7,3:745,16:1764115200000000,5:alice,3:app,6:UPDATE,15:public.students,2:42,7:4:name,,25:{"id": 42, "name": "Ann"},26:{"id": 42, "name": "Anne"},' \
   "the tool encodes the unit tests' pinned entry byte for byte"
export=$TG_DIR/export
PYTHON=$python "$tools/export_ledger.sh" "$export" >"$TG_DIR/export.log" 2>&1
is "$?|$(cd "$export" && printf '%s ' *)" "0|audit_blocks.csv audit_log.csv audit_pruned_blocks.csv audit_seal_state.csv " \
   "export_ledger.sh writes the four CSV files"
verify() { "$python" "$tools/verify_ledger_export.py" "$@" 2>&1; echo "exit=$?"; }
is "$(verify "$export")" "exit=0" "the export verifies: exit 0, no output"
db_blocks=$(q -c "SELECT tenant_id || '|' || block_no || '|' || encode(block_hash, 'hex') FROM (
                    SELECT tenant_id, block_no, block_hash FROM $L.audit_blocks UNION ALL
                    SELECT tenant_id, block_no, block_hash FROM $L.audit_pruned_blocks) b ORDER BY tenant_id::text, block_no")
is "$(verify --print-blocks "$export")" "$db_blocks
exit=0" "the block hashes the tool computes are the database's, pruned blocks included ($(wc -l <<<"$db_blocks") blocks)"
is "$(verify --digest "$TG_DIR/digest.json" "$export")" "exit=0" "the export verifies against the saved digest"
is "$(verify --tenant "$tenant_b" --digest "$TG_DIR/digest.json" "$export")" "exit=0" "one tenant's chain verifies alone"

# --- 3. Tampering with the exported files: one copy of the export per change ----------------------
# Targets, found in the database: entries of live blocks as "entry_seq|xact_id|block_no".
live_entry() {  # $1 tenant, $2 condition on l
    q -c "SELECT l.entry_seq || '|' || l.xact_id || '|' || b.block_no FROM $L.audit_log l JOIN $L.audit_blocks b
           ON b.tenant_id = l.tenant_id AND l.xact_id >= b.xact_lo AND l.xact_id < b.xact_hi
          WHERE l.tenant_id = '$1' AND $2 ORDER BY l.entry_seq LIMIT 1"
}
IFS='|' read -r empty_seq empty_xact _ <<<"$(live_entry "$tenant_a" "l.subject = ''")"
IFS='|' read -r null_seq null_xact _ <<<"$(live_entry "$tenant_a" "l.subject IS NULL")"
IFS='|' read -r value_seq value_xact _ <<<"$(live_entry "$tenant_a" "l.new_values->>'name' LIKE 'Zoë%'")"
IFS='|' read -r gone_seq _ gone_block <<<"$(live_entry "$tenant_b" "true")"
gone_count=$(q -c "SELECT entry_count FROM $L.audit_blocks WHERE tenant_id = '$tenant_b' AND block_no = '$gone_block'")
chain_block=$(q -c "SELECT min(block_no) FROM $L.audit_blocks WHERE tenant_id = '$tenant_a' AND prev_hash IS NOT NULL")
newest_b=$(q -c "SELECT max(block_no) FROM $L.audit_blocks WHERE tenant_id = '$tenant_b'")
pruned_xact=$(q -c "SELECT xact_hi::text::bigint - 1 FROM $L.audit_pruned_blocks WHERE tenant_id = '$tenant_a' AND block_no = 1")
for v in empty_seq null_seq value_seq gone_seq gone_block gone_count chain_block newest_b pruned_xact; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "Bail out! no tampering target $v: '${!v}'"; exit 1; }
done
export export_dir=$export tenant_a tenant_b empty_seq null_seq value_seq gone_seq chain_block newest_b pruned_xact
# Prints tenant A's exported subject fields, writes $TG_DIR/t_<name>/ copies and a forged digest.
fields=$("$python" - "$TG_DIR" <<'PY'
import csv, json, os, shutil, sys
base, env = sys.argv[1], os.environ
A, B = env['tenant_a'], env['tenant_b']

def load(directory, name):
    with open(os.path.join(directory, name), newline='', encoding='utf-8') as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)

def tamper(copy, name, change, *more):  # more: further (name, change) pairs
    target = os.path.join(base, 't_' + copy)
    shutil.copytree(env['export_dir'], target)
    files = {}
    for name, change in [(name, change)] + list(zip(more[::2], more[1::2])):
        if name not in files:
            files[name] = load(target, name)
        change(files[name][1])
    for name, (header, rows) in files.items():
        if rows == load(env['export_dir'], name)[1]:
            sys.exit('tampering %s changed nothing in %s' % (copy, name))
        with open(os.path.join(target, name), 'w', newline='', encoding='utf-8') as handle:
            writer = csv.DictWriter(handle, header, lineterminator='\n')
            writer.writeheader()
            writer.writerows(rows)

def each(rows, match, change):
    for row in rows:
        if all(row[k] == v for k, v in match.items()):
            change(row)

def flip(text, i):  # one hex digit changed
    return text[:i] + ('0' if text[i] != '0' else '1') + text[i + 1:]

_, log = load(env['export_dir'], 'audit_log.csv')
print(sorted({r['subject'] for r in log if r['tenant_id'] == A}))

tamper('empty_to_null', 'audit_log.csv', lambda rows: each(rows, {'entry_seq': env['empty_seq']},
       lambda r: r.update(subject='')))
tamper('null_to_empty', 'audit_log.csv', lambda rows: each(rows, {'entry_seq': env['null_seq']},
       lambda r: r.update(subject='""')))
tamper('value', 'audit_log.csv', lambda rows: each(rows, {'entry_seq': env['value_seq']},
       lambda r: r.update(new_values=r['new_values'].replace('Zoë', 'Zoe', 1))))
tamper('deleted_entry', 'audit_log.csv', lambda rows: rows.remove(next(r for r in rows if r['entry_seq'] == env['gone_seq'])))
tamper('prev_hash', 'audit_blocks.csv', lambda rows: each(rows, {'tenant_id': A, 'block_no': env['chain_block']},
       lambda r: r.update(prev_hash=flip(r['prev_hash'], 5))))
newest_b = int(env['newest_b'])
tamper('dropped_block', 'audit_blocks.csv', lambda rows: rows.remove(
       next(r for r in rows if r['tenant_id'] == B and r['block_no'] == str(newest_b))))
tamper('renumbered', 'audit_blocks.csv', lambda rows: each(rows, {'tenant_id': B, 'block_no': str(newest_b - 1)},
       lambda r: r.update(block_no=str(newest_b + 1))))
tamper('range', 'audit_blocks.csv', lambda rows: each(rows, {'tenant_id': B, 'block_no': str(newest_b)},
       lambda r: r.update(xact_lo=str(int(r['xact_lo']) + 1))))
# A copy of an entry (its hash the original's) moved into tenant A's pruned block 1.
tamper('pruned', 'audit_log.csv', lambda rows: rows.append(
       dict(next(r for r in rows if r['entry_seq'] == env['value_seq']), xact_id=env['pruned_xact'])))

# A prune by hand: a live block's header moved to audit_pruned_blocks, its entries deleted, no
# PRUNE_AUDIT entry. Of A's first live block (so still a prefix), and of a later one.
_, live = load(env['export_dir'], 'audit_blocks.csv')
def hand_prune(number):
    block = next(r for r in live if r['tenant_id'] == A and r['block_no'] == str(number))
    lo, hi = int(block['xact_lo']), int(block['xact_hi'])
    return ('audit_blocks.csv', lambda rows: rows.remove(next(r for r in rows if r == block)),
            'audit_pruned_blocks.csv', lambda rows: rows.append(dict(block, pruned_at_us=block['sealed_at_us'])),
            'audit_log.csv', lambda rows: rows.__setitem__(slice(None), [
                r for r in rows if not (r['tenant_id'] == A and lo <= int(r['xact_id']) < hi)]))
tamper('hand_prune_first', *hand_prune(int(env['chain_block'])))
tamper('hand_prune_later', *hand_prune(int(env['chain_block']) + 1))
# A tenant administrator's export: no nil tenant, so the prune records cannot be checked.
NIL = '00000000-0000-0000-0000-000000000000'
drop_nil = lambda rows: rows.__setitem__(slice(None), [r for r in rows if r['tenant_id'] != NIL])
tamper('no_nil', 'audit_log.csv', drop_nil, 'audit_blocks.csv', drop_nil, 'audit_pruned_blocks.csv', drop_nil)

with open(os.path.join(base, 'digest.json'), encoding='utf-8') as handle:
    digest = json.load(handle)
digest['chains'][A]['block_hash'] = flip(digest['chains'][A]['block_hash'], 0)
with open(os.path.join(base, 'forged_digest.json'), 'w', encoding='utf-8') as handle:
    json.dump(digest, handle)
PY
) || { echo "Bail out! tampering the export failed: $fields"; exit 1; }

# NULL and the empty string are different values in the export and in the encoding.
is "$fields" "['', '\"\"']" "exported subjects of tenant A: empty field (NULL) and \"\" (the empty string)"
is "$(verify "$TG_DIR/t_empty_to_null")" "$tenant_a|entry_hash|entry $empty_seq (transaction $empty_xact) was changed
exit=1" "the empty-string subject made NULL: entry_hash"
is "$(verify "$TG_DIR/t_null_to_empty")" "$tenant_a|entry_hash|entry $null_seq (transaction $null_xact) was changed
exit=1" "a NULL subject made the empty string: entry_hash"

is "$(verify "$TG_DIR/t_value")" "$tenant_a|entry_hash|entry $value_seq (transaction $value_xact) was changed
exit=1" "one character of a new_values changed: entry_hash, exit 1"
is "$(verify "$TG_DIR/t_deleted_entry")" \
   "$tenant_b|merkle_root|block $gone_block: its $((gone_count - 1)) entries do not match the sealed Merkle root (sealed with $gone_count)
exit=1" "an entry row deleted: merkle_root of its block, exit 1"
is "$(verify "$TG_DIR/t_prev_hash")" "$tenant_a|chain_broken|block $chain_block does not link to the block before it
$tenant_a|block_hash|block $chain_block: its hash does not match its contents
exit=1" "one block's prev_hash changed: chain_broken and block_hash, exit 1"

like "$(verify --digest "$TG_DIR/digest.json" "$TG_DIR/t_dropped_block")" \
     "^(${tenant_b}[|]unsealed_entry[|]entry [0-9]+ \(transaction [0-9]+\) is older than the seal horizon but in no block
)+${tenant_b}[|]digest_block_missing[|]block $newest_b of the digest is no longer in the ledger
exit=1\$" "the newest block of B dropped: its entries are unsealed_entry, and the digest's block is missing"
like "$(verify "$TG_DIR/t_renumbered")" "^${tenant_b}[|]block_missing[|]expected block $((newest_b - 1)), found block $newest_b
.*exit=1\$" "a block renumbered: block_missing"
like "$(verify "$TG_DIR/t_range")" "^${tenant_b}[|]block_range[|]block $newest_b covers transactions .*
${tenant_b}[|]block_hash[|]block $newest_b: .*
exit=1\$" "a block's range moved: block_range and block_hash"
is "$(verify "$TG_DIR/t_pruned")" "$tenant_a|entry_hash|entry $value_seq (transaction $pruned_xact) was changed
$tenant_a|pruned_entry|entry $value_seq lies in pruned block 1
exit=1" "an entry forged into a pruned block: entry_hash and pruned_entry"
is "$(verify "$TG_DIR/t_hand_prune_first")" "$tenant_a|unrecorded_prune|block $chain_block is marked pruned, but no PRUNE_AUDIT entry covers it
exit=1" "A's first live block pruned by hand: unrecorded_prune"
is "$(verify "$TG_DIR/t_hand_prune_later")" "$tenant_a|pruned_out_of_order|block $((chain_block + 1)) is marked pruned, but a block before it is not
$tenant_a|unrecorded_prune|block $((chain_block + 1)) is marked pruned, but no PRUNE_AUDIT entry covers it
exit=1" "a later block pruned by hand: pruned_out_of_order and unrecorded_prune"
is "$(verify "$TG_DIR/t_no_nil")" "exit=0" \
   "an export without the nil tenant (a tenant administrator's) verifies: prune records are not checked there"
# A consistent rewrite of the exported chain is found only by the digest.
like "$(verify --digest "$TG_DIR/forged_digest.json" "$export")" \
     "^${tenant_a}[|]digest_mismatch[|]block [0-9]+ of the digest has a different hash in the ledger: history was rewritten
exit=1\$" "a digest the chain does not extend: digest_mismatch"

# Usage errors and exports that cannot be read: exit 2.
is "$(verify | tail -1)|$(verify --digest "$TG_DIR/t_value/audit_log.csv" "$export" | tail -1)" "exit=2|exit=2" \
   "no directory, a file that is not a digest: exit 2"
