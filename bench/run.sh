#!/usr/bin/env bash
# The whole performance suite in one command (docs/performance.md):
#   sudo bench/run.sh [zlayer_bench options]      e.g. --cases run,exec  or  --smoke
# Installs what is missing (containerd, runc, docker-registry, skopeo, ...), builds
# the agent, its monitor and the bench in $BUILD_DIR (default build-bench), then
# runs every case side by side: zlayer-agentd against raw runc and containerd,
# alternating after a warm-up. Every process it starts and every cgroup it creates
# is gone when it ends. Results: $OUT (default $BUILD_DIR/bench-results) holds
# results.json, results.txt and results.md.
#
# Figures from a busy machine are noise: with WAIT_QUIET=1 it first waits (up to
# 30 minutes) for the 1-minute load average to drop below QUIET_LOAD (default 1.0).
# The load is recorded in the results either way.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: needs root (containers, cgroups, mounts)" >&2
  exit 1
fi
./scripts/install-deps.sh --with-profilers
BUILD_DIR=${BUILD_DIR:-build-bench}
OUT=${OUT:-$BUILD_DIR/bench-results}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"${JOBS:-$(nproc)}" --target zlayer_bench zlayer-agentd zlayer-monitor
mkdir -p "$OUT"

if [ "${WAIT_QUIET:-0}" = 1 ]; then
  limit=${QUIET_LOAD:-1.0}
  for _ in $(seq 180); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v m="$limit" 'BEGIN { exit !(l < m) }'; then break; fi
    echo "bench/run.sh: load $load >= $limit, waiting for a quiet moment" >&2
    sleep 10
  done
fi
echo "bench/run.sh: $(uptime)" >&2

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || rev="$rev-dirty"
exec "$BUILD_DIR/bench/zlayer_bench" \
  --json "$OUT/results.json" --table "$OUT/results.txt" --markdown "$OUT/results.md" \
  --label "$rev" "$@"
