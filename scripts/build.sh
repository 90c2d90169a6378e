#!/usr/bin/env bash
# Builds and installs the extension (PGXS) and builds the core's unit tests (CMake).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
make -s -j"$jobs" >/dev/null
make -s install >/dev/null
cmake -S . -B build/core -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/core -j"$jobs" >/dev/null
