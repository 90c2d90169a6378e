#!/usr/bin/env bash
# Citus for the scale-out tests (test/e2e/citus.sh, bench/citus_routing.sh), built once from
# ../shared/vendor/citus: the upstream 13.2.2 source and one patch for recent PostgreSQL 15 minors.
# Citus is AGPL-3.0: a test fixture here, never linked into tenant_guard nor shipped with it.
# Exit status: 0 installed (now or before), 3 no vendor folder (the suite is skipped), else failed.
# TG_CITUS_REBUILD=1 builds and installs it again even if it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=${TG_CITUS_VENDOR:-$(pwd)/../shared/vendor/citus}
version=13.2.2
pg_config=$(pg_config --bindir)/pg_config
if [ "${TG_CITUS_REBUILD:-0}" != 1 ] && [ -f "$("$pg_config" --pkglibdir)/citus.so" ] &&
    [ -f "$("$pg_config" --sharedir)/extension/citus.control" ]; then
    echo "citus: already installed ($(grep default_version "$("$pg_config" --sharedir)/extension/citus.control"))"
    exit 0
fi
if [ ! -f "$vendor/citus-$version.tar.gz" ]; then
    echo "citus: $vendor/citus-$version.tar.gz not found"
    exit 3
fi
packages=(liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rm -rf build/citus && mkdir -p build/citus
tar xzf "$vendor/citus-$version.tar.gz" -C build/citus
cd "build/citus/citus-$version"
for fix in "$vendor"/*.patch; do patch -p1 < "$fix"; done
./configure PG_CONFIG="$pg_config"
make -j"$(nproc)"
make install
echo "citus: built and installed $version"
