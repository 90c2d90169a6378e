#!/usr/bin/env bash
# Debian packages the build, the demo and the tests need. Idempotent; apt only when something is missing.
set -euo pipefail
packages=(
    build-essential cmake pkg-config clang libclang-rt-14-dev
    postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-15-pgtap
    libtap-parser-sourcehandler-pgtap-perl pgbouncer
    libgtest-dev nlohmann-json3-dev libssl-dev libpq-dev openssl coreutils python3
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql-common may start a default cluster on 5432; tests use private clusters only.
