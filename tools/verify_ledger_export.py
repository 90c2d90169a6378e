#!/usr/bin/env python3
"""Re-verify an exported tenant_guard audit ledger without PostgreSQL or tenant_guard code.

usage: verify_ledger_export.py [--digest FILE] [--tenant UUID] [--print-blocks] DIR
       verify_ledger_export.py --export-sql

DIR holds four CSV files (with a header line), written by the export below (tools/export_ledger.sh
runs it):

    audit_log.csv  audit_blocks.csv  audit_pruned_blocks.csv  audit_seal_state.csv

The tool recomputes what tenant_guard.verify_audit() recomputes, from the canonical encoding in the
README ("Canonical encoding") alone: every entry hash, every block's Merkle root (RFC 6962) over its
entries, every block hash (pruned blocks' headers included), the chain links (prev_hash), block_no
continuity, the contiguity of the blocks' transaction ranges, entries that lie below the seal horizon
(audit_seal_state.sealed_below) but in no block, and pruned blocks that are not a prefix of their chain
or that no PRUNE_AUDIT entry covers (checked, as verify_audit() checks it only for callers who can
read those entries, when the export holds the nil tenant's chain: an auditor's or a superuser's
export). With --digest FILE (the jsonb returned by tenant_guard.audit_digest(), kept outside the
database) it also checks that every block the digest names is still in the export with the same hash.

Output: one line per problem, "tenant_id|problem|detail", with the problems and details of
verify_audit(): entry_hash, merkle_root, block_hash, chain_broken, block_missing, block_range,
unsealed_entry, pruned_entry, pruned_out_of_order, unrecorded_prune, digest_mismatch,
digest_block_missing. Nothing when intact.
--print-blocks first prints "tenant_id|block_no|block_hash" for every block, with the block hash as
computed here (compare it with the database's).

Exit status: 0 intact, 1 problems found, 2 usage error or an export that cannot be read.

The export
----------
Run as a member of tenant_guard_auditor or a superuser to export every tenant (row-level security
applies: a tenant administrator exports only its own tenant). All four queries run in one
REPEATABLE READ transaction, so the files describe one consistent state of the ledger even while the
sealer works. Each query runs as `\\copy (<query>) TO '<file>' WITH (FORMAT csv, HEADER)` in psql,
in the directory that is to hold the files; `verify_ledger_export.py --export-sql` prints the
complete psql script, which tools/export_ledger.sh feeds to psql.

Column formats are chosen so that parsing is unambiguous: uuids as their text; bigint and xid8 as
decimal; timestamptz as integer microseconds since 1970-01-01 00:00 UTC; NOT NULL bytea as lower-case
hex (encode(..., 'hex')); jsonb as its text (never empty, so an empty field is SQL NULL); nullable
text columns, the nullable bytea prev_hash (as hex) and the text[] changed_columns through to_json(),
so that a value is a JSON string or array and only SQL NULL is an empty field (CSV cannot otherwise
tell NULL from the empty string for a reader that does not see quotes).

@EXPORT_SQL@
The digest: psql -XAt -c "SELECT tenant_guard.audit_digest()" > digest.json (one JSON document).
"""

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import uuid

ENTRY_FORMAT = b"tenant_guard.audit_entry.v1"
BLOCK_FORMAT = b"tenant_guard.audit_block.v1"
DIGEST_FORMAT = "tenant_guard.audit_digest.v1"

MICROS = "(extract(epoch FROM {0}) * 1000000)::bigint AS {0}_us"
BLOCK_COLUMNS = ("tenant_id, block_no, xact_lo::text AS xact_lo, xact_hi::text AS xact_hi, entry_count,"
                 " encode(merkle_root, 'hex') AS merkle_root, to_json(encode(prev_hash, 'hex')) AS prev_hash,"
                 " encode(block_hash, 'hex') AS block_hash, " + MICROS.format("sealed_at"))
# (file, query): the export. The queries are the documentation of the CSV files' columns.
EXPORT_QUERIES = [
    ("audit_log.csv",
     "SELECT tenant_id, entry_seq, xact_id::text AS xact_id, " + MICROS.format("logged_at") + ","
     " to_json(subject) AS subject, to_json(role_name) AS role_name, action,"
     " to_json(entity_type) AS entity_type, to_json(entity_id) AS entity_id,"
     " to_json(changed_columns) AS changed_columns, old_values::text AS old_values,"
     " new_values::text AS new_values, encode(entry_hash, 'hex') AS entry_hash"
     " FROM tenant_guard.audit_log ORDER BY tenant_id, xact_id, entry_seq"),
    ("audit_blocks.csv",
     "SELECT " + BLOCK_COLUMNS + " FROM tenant_guard.audit_blocks ORDER BY tenant_id, block_no"),
    ("audit_pruned_blocks.csv",
     "SELECT " + BLOCK_COLUMNS + ", " + MICROS.format("pruned_at") +
     " FROM tenant_guard.audit_pruned_blocks ORDER BY tenant_id, block_no"),
    ("audit_seal_state.csv",
     "SELECT sealed_below::text AS sealed_below, " + MICROS.format("sealed_at") +
     " FROM tenant_guard.audit_seal_state"),
]


def export_sql():
    """The psql script of the export: run it in the directory that is to hold the CSV files."""
    lines = [
        "-- tenant_guard audit ledger export (tools/verify_ledger_export.py --export-sql).",
        "-- Run with psql in the directory that is to hold the files, as tenant_guard_auditor or a superuser.",
        "\\set ON_ERROR_STOP on",
        "SET client_encoding = 'UTF8';",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
        "SET LOCAL search_path = pg_catalog, pg_temp;",
    ]
    for file_name, query in EXPORT_QUERIES:
        lines.append("\\copy (%s) TO '%s' WITH (FORMAT csv, HEADER)" % (query, file_name))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


__doc__ = __doc__.replace("@EXPORT_SQL@", "The psql script (--export-sql):\n\n" + export_sql())

LOG_COLUMNS = ["tenant_id", "entry_seq", "xact_id", "logged_at_us", "subject", "role_name", "action",
               "entity_type", "entity_id", "changed_columns", "old_values", "new_values", "entry_hash"]
BLOCK_FIELDS = ["tenant_id", "block_no", "xact_lo", "xact_hi", "entry_count", "merkle_root", "prev_hash",
                "block_hash", "sealed_at_us"]
PRUNED_FIELDS = BLOCK_FIELDS + ["pruned_at_us"]
STATE_FIELDS = ["sealed_below", "sealed_at_us"]

INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)
ZERO_DIGEST = bytes(32)
NIL_TENANT = "00000000-0000-0000-0000-000000000000"


class ExportError(Exception):
    """The export cannot be read: exit status 2."""


# ---- the canonical encoding (README "Canonical encoding") ----

def netstring(data):
    return str(len(data)).encode("ascii") + b":" + data + b","


def optional(text):
    return b"~," if text is None else netstring(text.encode("utf-8"))


def entry_encoding(e):
    out = [netstring(ENTRY_FORMAT), netstring(e["tenant_id"].encode("ascii")),
           netstring(str(e["entry_seq"]).encode("ascii")), netstring(str(e["xact_id"]).encode("ascii")),
           netstring(str(e["logged_at_us"]).encode("ascii")), optional(e["subject"]), optional(e["role_name"]),
           netstring(e["action"].encode("utf-8")), optional(e["entity_type"]), optional(e["entity_id"])]
    if e["changed_columns"] is None:
        out.append(b"~,")
    else:
        out.append(netstring(b"".join(netstring(c.encode("utf-8")) for c in e["changed_columns"])))
    out += [optional(e["old_values"]), optional(e["new_values"])]
    return b"".join(out)


def block_encoding(b):
    return b"".join([
        netstring(BLOCK_FORMAT), netstring(b["tenant_id"].encode("ascii")),
        netstring(str(b["block_no"]).encode("ascii")), netstring(str(b["xact_lo"]).encode("ascii")),
        netstring(str(b["xact_hi"]).encode("ascii")), netstring(str(b["entry_count"]).encode("ascii")),
        netstring(b["merkle_root"].hex().encode("ascii")),
        b"~," if b["prev_hash"] is None else netstring(b["prev_hash"].hex().encode("ascii")),
        netstring(str(b["sealed_at_us"]).encode("ascii"))])


def sha256(data):
    return hashlib.sha256(data).digest()


def merkle_root(leaves):
    """RFC 6962 section 2.1: leaf = H(0x00 || d), node = H(0x01 || l || r), split at the largest power
    of two below n; no leaves: H of nothing."""
    if not leaves:
        return sha256(b"")

    def subtree(lo, hi):
        if hi - lo == 1:
            return sha256(b"\x00" + leaves[lo])
        split = 1
        while split * 2 < hi - lo:
            split *= 2
        return sha256(b"\x01" + subtree(lo, lo + split) + subtree(lo + split, hi))

    return subtree(0, len(leaves))


# ---- reading the export ----

def read_csv(directory, file_name, required):
    path = os.path.join(directory, file_name)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError("%s: %s" % (path, error))
    if not rows:
        raise ExportError("%s: no header line" % path)
    header = rows[0]
    missing = [name for name in required if name not in header]
    if missing:
        raise ExportError("%s: missing column(s) %s (export with --export-sql's script)" % (path, ", ".join(missing)))
    index = {name: header.index(name) for name in required}
    records = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ExportError("%s line %d: %d fields, the header has %d" % (path, line, len(row), len(header)))
        records.append(({name: row[i] for name, i in index.items()}, "%s record %d" % (file_name, line - 1)))
    return records


def parse_int(text, where, name, bounds=INT64):
    if not re.fullmatch(r"-?[0-9]+", text):
        raise ExportError("%s: %s is not an integer: %r" % (where, name, text))
    value = int(text)
    if not bounds[0] <= value <= bounds[1]:
        raise ExportError("%s: %s is out of range: %s" % (where, name, text))
    return value


def parse_uuid(text, where, name="tenant_id"):
    try:
        return str(uuid.UUID(text))  # lower-case 8-4-4-4-12, like PostgreSQL's uuid output
    except ValueError:
        raise ExportError("%s: %s is not a uuid: %r" % (where, name, text))


def parse_json_field(text, where, name, kind):
    """A to_json() column: empty is SQL NULL, otherwise a JSON string (kind str) or array (kind list)."""
    if text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ExportError("%s: %s is not JSON: %r" % (where, name, text))
    if kind is str and not isinstance(value, str):
        raise ExportError("%s: %s is not a JSON string: %r" % (where, name, text))
    if kind is list:
        if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
            raise ExportError("%s: %s is not a JSON array of strings: %r" % (where, name, text))
        # verify_audit() reads a NULL element as the empty string.
        value = ["" if v is None else v for v in value]
    return value


def stored_digest(text):
    """A stored SHA-256 as verify_audit() reads it: (the 32 bytes, or zeros when the value is not 32
    bytes; the raw bytes or None when not hex)."""
    try:
        raw = bytes.fromhex(text) if re.fullmatch(r"([0-9a-fA-F]{2})*", text) else None
    except ValueError:
        raw = None
    digest = raw if raw is not None and len(raw) == 32 else ZERO_DIGEST
    return digest, raw


def load_entries(directory):
    entries = []
    for row, where in read_csv(directory, "audit_log.csv", LOG_COLUMNS):
        entry = {
            "tenant_id": parse_uuid(row["tenant_id"], where),
            "entry_seq": parse_int(row["entry_seq"], where, "entry_seq"),
            "xact_id": parse_int(row["xact_id"], where, "xact_id", UINT64),
            "logged_at_us": parse_int(row["logged_at_us"], where, "logged_at_us"),
            "action": row["action"],
            "changed_columns": parse_json_field(row["changed_columns"], where, "changed_columns", list),
            # jsonb text is never empty: an empty field is SQL NULL.
            "old_values": row["old_values"] or None,
            "new_values": row["new_values"] or None,
        }
        for name in ("subject", "role_name", "entity_type", "entity_id"):
            entry[name] = parse_json_field(row[name], where, name, str)
        entry["stored_hash"], raw = stored_digest(row["entry_hash"])
        entry["stored_valid"] = raw is not None and len(raw) == 32
        entries.append(entry)
    return entries


def load_blocks(directory, file_name, fields, pruned):
    blocks = []
    for row, where in read_csv(directory, file_name, fields):
        prev_hex = parse_json_field(row["prev_hash"], where, "prev_hash", str)
        block = {
            "tenant_id": parse_uuid(row["tenant_id"], where),
            "block_no": parse_int(row["block_no"], where, "block_no"),
            "xact_lo": parse_int(row["xact_lo"], where, "xact_lo", UINT64),
            "xact_hi": parse_int(row["xact_hi"], where, "xact_hi", UINT64),
            "entry_count": parse_int(row["entry_count"], where, "entry_count"),
            "merkle_root": stored_digest(row["merkle_root"])[0],
            "prev_hash": None if prev_hex is None else stored_digest(prev_hex)[0],
            "sealed_at_us": parse_int(row["sealed_at_us"], where, "sealed_at_us"),
            "pruned": pruned,
        }
        block["stored_hash"], block["stored_raw"] = stored_digest(row["block_hash"])
        blocks.append(block)
    return blocks


def load_sealed_below(directory):
    rows = read_csv(directory, "audit_seal_state.csv", STATE_FIELDS)
    if len(rows) != 1:
        return 0  # as verify_audit(): no horizon without exactly one state row
    row, where = rows[0]
    return parse_int(row["sealed_below"], where, "sealed_below", UINT64)


# ---- verification (the walk of verify_audit(), src/pg/ledger_seal.cpp) ----

def prune_horizon(entries):
    """The newest `before` of the PRUNE_AUDIT entries (nil tenant): every pruned block must have been
    sealed before it. None when no prune is recorded."""
    horizon = None
    for entry in entries:
        if entry["tenant_id"] != NIL_TENANT or entry["action"] != "PRUNE_AUDIT" or entry["new_values"] is None:
            continue
        try:
            details = json.loads(entry["new_values"])
        except ValueError:
            raise ExportError("PRUNE_AUDIT entry %d: new_values is not JSON" % entry["entry_seq"])
        before = details.get("before_unix_us") if isinstance(details, dict) else None
        if before is None:
            continue
        if isinstance(before, bool) or not isinstance(before, (int, str)) or not re.fullmatch(r"-?[0-9]+", str(before)):
            raise ExportError("PRUNE_AUDIT entry %d: before_unix_us is not an integer" % entry["entry_seq"])
        horizon = int(before) if horizon is None else max(horizon, int(before))
    return horizon


def verify_tenant(tenant, blocks, entries, sealed_below, prunes, problems, computed):
    """prunes: None when prune records are not checked, else (newest before or None,)."""
    def report(problem, detail):
        problems.append((tenant, problem, detail))

    blocks = sorted(blocks, key=lambda b: b["block_no"])
    entries = sorted(entries, key=lambda e: (e["xact_id"], e["entry_seq"]))

    def entry_ok(e):
        return e["stored_valid"] and sha256(entry_encoding(e)) == e["stored_hash"]

    previous = None  # (block_no, xact_hi, stored hash) of the block before
    seen_live_block = False
    position = 0
    for block in blocks:
        number = block["block_no"]
        # prune_audit() removes a prefix of the chain, and records it.
        if block["pruned"] and seen_live_block:
            report("pruned_out_of_order", "block %d is marked pruned, but a block before it is not" % number)
        if block["pruned"] and prunes is not None and (prunes[0] is None or block["sealed_at_us"] >= prunes[0]):
            report("unrecorded_prune", "block %d is marked pruned, but no PRUNE_AUDIT entry covers it" % number)
        if not block["pruned"]:
            seen_live_block = True
        expected = previous[0] + 1 if previous else 1
        if number != expected:
            report("block_missing", "expected block %d, found block %d" % (expected, number))
        if (block["prev_hash"] is not None) != (previous is not None) or (
                previous is not None and block["prev_hash"] != previous[2]):
            report("chain_broken", "block %d does not link to the block before it" % number)
        if block["xact_lo"] != (previous[1] if previous else 0) or block["xact_hi"] <= block["xact_lo"]:
            report("block_range", "block %d covers transactions %d to %d, not contiguous with the block before it"
                   % (number, block["xact_lo"], block["xact_hi"]))
        block_hash = sha256(block_encoding(block))
        computed.append((tenant, number, block_hash))
        if block_hash != block["stored_hash"]:
            report("block_hash", "block %d: its hash does not match its contents" % number)
        leaves = []
        while position < len(entries) and entries[position]["xact_id"] < block["xact_hi"]:
            entry = entries[position]
            position += 1
            if not entry_ok(entry):
                report("entry_hash", "entry %d (transaction %d) was changed" % (entry["entry_seq"], entry["xact_id"]))
            if block["pruned"]:
                report("pruned_entry", "entry %d lies in pruned block %d" % (entry["entry_seq"], number))
            else:
                leaves.append(entry["stored_hash"])
        if not block["pruned"] and (len(leaves) != block["entry_count"] or merkle_root(leaves) != block["merkle_root"]):
            report("merkle_root", "block %d: its %d entries do not match the sealed Merkle root (sealed with %d)"
                   % (number, len(leaves), block["entry_count"]))
        previous = (number, block["xact_hi"], block["stored_hash"])
    for entry in entries[position:]:
        if not entry_ok(entry):
            report("entry_hash", "entry %d (transaction %d) was changed" % (entry["entry_seq"], entry["xact_id"]))
        if entry["xact_id"] < sealed_below:
            report("unsealed_entry", "entry %d (transaction %d) is older than the seal horizon but in no block"
                   % (entry["entry_seq"], entry["xact_id"]))


def check_digest(path, blocks, only_tenant, problems):
    """verify_audit(tenant, digest): every block the digest names is in the ledger with the same hash."""
    try:
        with open(path, encoding="utf-8") as handle:
            digest = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExportError("%s: %s" % (path, error))
    if not isinstance(digest, dict) or digest.get("format") != DIGEST_FORMAT or not isinstance(digest.get("chains"), dict):
        raise ExportError("%s: not a tenant_guard audit digest (pass the jsonb returned by tenant_guard.audit_digest())"
                          % path)
    stored = {}
    for block in blocks:
        stored.setdefault((block["tenant_id"], block["block_no"]), []).append(block["stored_raw"])
    chains = []
    for key, value in digest["chains"].items():
        tenant = parse_uuid(key, path, "chain key")
        if not isinstance(value, dict):
            raise ExportError("%s: chain %s is not an object" % (path, key))
        number_text = value.get("block_no")
        number_text = str(number_text) if isinstance(number_text, (int, str)) and not isinstance(number_text, bool) else ""
        number = parse_int(number_text, path, "block_no of chain %s" % key)
        hash_text = value.get("block_hash")
        if not isinstance(hash_text, str) or stored_digest(hash_text)[1] is None:
            raise ExportError("%s: block_hash of chain %s is not hex" % (path, key))
        chains.append((tenant, number, value["block_no"], bytes.fromhex(hash_text)))
    for tenant, number, number_json, expected in sorted(chains, key=lambda c: c[0]):
        if only_tenant is not None and tenant != only_tenant:
            continue
        found = stored.get((tenant, number))
        if not found:
            problems.append((tenant, "digest_block_missing",
                             "block %s of the digest is no longer in the ledger" % number_json))
        else:
            for raw in found:
                if raw != expected:
                    problems.append((tenant, "digest_mismatch", "block %s of the digest has a different hash in the "
                                     "ledger: history was rewritten" % number_json))


def main(argv):
    parser = argparse.ArgumentParser(
        prog="verify_ledger_export.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [--digest FILE] [--tenant UUID] [--print-blocks] DIR\n       %(prog)s --export-sql",
        description=__doc__.split("\n", 1)[0], epilog=__doc__.split("\n", 4)[4])
    parser.add_argument("directory", nargs="?", metavar="DIR", help="directory of the CSV export")
    parser.add_argument("--digest", metavar="FILE", help="a saved tenant_guard.audit_digest() (JSON)")
    parser.add_argument("--tenant", metavar="UUID", help="verify this tenant's chain only")
    parser.add_argument("--print-blocks", action="store_true",
                        help="print tenant_id|block_no|block_hash (as computed here) for every block first")
    parser.add_argument("--export-sql", action="store_true", help="print the psql script of the export and exit")
    args = parser.parse_args(argv)
    if args.export_sql:
        if args.directory or args.digest or args.tenant or args.print_blocks:
            parser.error("--export-sql takes no other argument")
        sys.stdout.write(export_sql())
        return 0
    if not args.directory:
        parser.error("the export directory DIR is required")
    if not os.path.isdir(args.directory):
        parser.error("%s is not a directory" % args.directory)
    only_tenant = None
    if args.tenant is not None:
        try:
            only_tenant = str(uuid.UUID(args.tenant))
        except ValueError:
            parser.error("--tenant: not a uuid: %r" % args.tenant)
    csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))
    try:
        entries = load_entries(args.directory)
        blocks = (load_blocks(args.directory, "audit_blocks.csv", BLOCK_FIELDS, False) +
                  load_blocks(args.directory, "audit_pruned_blocks.csv", PRUNED_FIELDS, True))
        sealed_below = load_sealed_below(args.directory)
        tenants = sorted({b["tenant_id"] for b in blocks} | {e["tenant_id"] for e in entries})
        # An export that holds the nil tenant's chain was made by someone who reads the prune records.
        prunes = (prune_horizon(entries),) if NIL_TENANT in tenants else None
        if only_tenant is not None:
            tenants = [only_tenant]
        problems, computed = [], []
        for tenant in tenants:
            verify_tenant(tenant, [b for b in blocks if b["tenant_id"] == tenant],
                          [e for e in entries if e["tenant_id"] == tenant], sealed_below, prunes, problems, computed)
        if args.digest:
            check_digest(args.digest, blocks, only_tenant, problems)
    except ExportError as error:
        print("verify_ledger_export.py: error: %s" % error, file=sys.stderr)
        return 2
    except UnicodeEncodeError as error:  # a lone surrogate escaped in JSON: no PostgreSQL text has one
        print("verify_ledger_export.py: error: a value is not valid Unicode text: %s" % error, file=sys.stderr)
        return 2
    out = sys.stdout
    if args.print_blocks:
        for tenant, number, block_hash in computed:
            out.write("%s|%d|%s\n" % (tenant, number, block_hash.hex()))
    for tenant, problem, detail in problems:
        out.write("%s|%s|%s\n" % (tenant, problem, detail))
    out.flush()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
