#!/usr/bin/env bash
# Second command of the README: install what is missing, build, run every test
# (doctest through CTest, then pytest for the Python analysis package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs"
# Debian's interpreter sees Debian's python3-* packages; pytest exits 5 when no test ran.
SNNSIM_BIN="$PWD/build/snnsim" /usr/bin/python3 -m pytest -q tests/python
