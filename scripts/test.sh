#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
# Every service a test needs (a loopback registry, a QEMU guest, ...) is started by
# the test itself and stopped with it.
set -euo pipefail
cd "$(dirname "$0")/.."

# --with-bench: containerd, so that the bench smoke test (bench_smoke) compares with it too.
./scripts/install-deps.sh --with-bench
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j"$(nproc)"
# The production-host suite (ctest host_vm_suite, a QEMU guest) skips where QEMU cannot
# run; say why here, since ctest shows a skipped test's output nowhere.
tests/host/run.sh --probe "$BUILD_DIR" || true
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"${TEST_JOBS:-2}" "$@"
# A short fuzz run of the deployment-spec and image-reference parsers (libFuzzer,
# clang, in a build directory of its own).
tests/fuzz/run.sh --build-dir "${BUILD_DIR}-fuzz" --seconds "${FUZZ_SECONDS:-30}"
