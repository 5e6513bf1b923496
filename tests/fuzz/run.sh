#!/usr/bin/env bash
# Builds every libFuzzer target with clang and fuzzes each one briefly: the short
# fuzz run CI calls. A crash fails the run; the input that caused it is kept under
# BUILD_DIR/tests/deploy/fuzz/artifacts/ (reproduce: ./fuzz_deploy_spec FILE).
#
#   tests/fuzz/run.sh [--build-dir DIR] [--seconds N]
#
# The fuzz targets and their seeds are listed in tests/fuzz/CMakeLists.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=build-fuzz
seconds=${FUZZ_SECONDS:-60}
while (($#)); do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DZLAYER_FUZZ=ON -DZLAYER_FUZZ_SECONDS="$seconds"
cmake --build "$build_dir" --target zlayer_fuzzers -j"$(nproc)"
ctest --test-dir "$build_dir" -L fuzz --output-on-failure
