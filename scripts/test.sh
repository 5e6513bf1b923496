#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
# Every service a test needs (a loopback registry, a QEMU guest, ...) is started by
# the test itself and stopped with it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"${TEST_JOBS:-2}" "$@"
