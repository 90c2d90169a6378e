#!/usr/bin/env bash
# Export the tenant_guard audit ledger as CSV files for an outside verifier:
#   tools/export_ledger.sh DIR [psql options...]
# writes DIR/audit_log.csv, audit_blocks.csv, audit_pruned_blocks.csv and audit_seal_state.csv in one
# REPEATABLE READ transaction, with the queries documented in tools/verify_ledger_export.py (its
# --help; --export-sql prints the psql script run here). Connects like psql: PGHOST, PGPORT, PGUSER,
# PGDATABASE, ... or psql options after DIR. Export as a member of tenant_guard_auditor (or a
# superuser) to get every tenant. $PYTHON (default python3) runs verify_ledger_export.py.
# Then: tools/verify_ledger_export.py [--digest FILE] DIR
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    echo "usage: $0 DIR [psql options...]" >&2
    exit 2
fi
dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
script=$("${PYTHON:-python3}" "$here/verify_ledger_export.py" --export-sql)
mkdir -p "$dir"
cd "$dir"
psql -X -q -v ON_ERROR_STOP=1 "$@" <<<"$script"
