#!/usr/bin/env bash
# Installs every Debian 12 package zlayer-agentd needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run touches no network.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev catch2 libsystemd-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev nlohmann-json3-dev libsqlite3-dev
  libzstd-dev zlib1g-dev libmicrohttpd-dev
)
# Real parts the tests drive: OCI runtimes, a registry, image tooling, systemd tools,
# an independent gRPC client.
TEST_PKGS=(
  runc crun docker-registry skopeo umoci busybox-static
  containernetworking-plugins iptables
  systemd iproute2 procps openssl util-linux
  grpc-proto python3-grpcio python3-protobuf
  clang libclang-rt-14-dev
  apache2-utils python3-cryptography
  python3-prometheus-client tmux tini curl
)
BENCH_PKGS=(containerd)
# Profilers behind docs/performance.md's causes (bench/run.sh installs them; CI does not).
PROFILE_PKGS=(linux-perf valgrind heaptrack)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
case "${1:-}" in
  --with-bench) want+=("${BENCH_PKGS[@]}") ;;
  --with-profilers) want+=("${BENCH_PKGS[@]}" "${PROFILE_PKGS[@]}") ;;
  --build-only) want=("${BUILD_PKGS[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker-registry's postinst starts a service listening on all interfaces where an init
  # system runs; policy-rc.d stops that (tests start their own loopback registry).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
else
  echo "install-deps: all packages present"
fi
