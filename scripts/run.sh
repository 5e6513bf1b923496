#!/usr/bin/env bash
# Installs what is missing, builds, and starts zlayer-agentd in the foreground with
# its embedded defaults. Extra arguments go to the agent (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --build-only
# The OCI backend needs a runtime; runc is Debian's.
if ! command -v runc >/dev/null && ! command -v crun >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc
fi
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZLAYER_BUILD_TESTS=OFF
cmake --build "$BUILD_DIR" -j"$(nproc)" --target zlayer-agentd zlayer-monitor zlayerctl
exec "$BUILD_DIR/agentd/zlayer-agentd" "$@"
