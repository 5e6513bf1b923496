#!/bin/bash
# The production-host suite: zlayer-agentd as a systemd service on pure cgroup v2, in a
# Debian bookworm QEMU guest (systemd 252 as PID 1, crun and runc).
#
#   tests/host/run.sh BUILD_DIR          run the suite (ctest: host_vm_suite)
#   tests/host/run.sh --probe BUILD_DIR  only say whether it can run here: prints one
#                                        "host_vm_suite: SKIPPED: why" line and exits
#                                        77 when it cannot, exits 0 silently when it can
#
# Steps: install QEMU and debootstrap if missing; build the guest image, or reuse the
# cached one (ZLAYER_VM_CACHE, default /var/cache/zlayer-vm/host-suite; rebuilt when
# packages.txt, make-image.sh or the agent's library dependencies change); install the
# agent from BUILD_DIR with `cmake --install --prefix /usr` into a staging tree
# (DESTDIR), which the guest copies to / as a package would; build a busybox OCI image
# with umoci; boot the guest and run guest/suite.sh there. Exit code: the suite's
# (0 = all checks passed), 124 if the guest timed out, 77 when skipped. On failure the
# guest's journal for zlayer-agentd is printed.
#
# env: ZLAYER_VM_SUITE=0 skips it; ZLAYER_VM_CACHE; TIMEOUT (guest, seconds, default
#      1500); KEEP_SHARE=1 keeps the share directory (always kept on failure).
# Needs root. TCG only (no KVM needed). With the image cached a run takes about 3
# minutes here; building the image first adds about 4 (up to 10 on a loaded host);
# docs/testing.md has the measured times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
probe_only=0
if [ "${1:-}" = --probe ]; then probe_only=1; shift; fi
build=${1:?usage: run.sh [--probe] BUILD_DIR}
cache=${ZLAYER_VM_CACHE:-/var/cache/zlayer-vm/host-suite}

skip() { echo "host_vm_suite: SKIPPED: $*"; exit 77; }

# Why this host cannot run the suite, or nothing.
why_not() {
  [ "${ZLAYER_VM_SUITE:-1}" != 0 ] || { echo "disabled by ZLAYER_VM_SUITE=0"; return; }
  [ "$(uname -m)" = x86_64 ] || { echo "needs an x86_64 host (this is $(uname -m))"; return; }
  [ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot, cmake --install)"; return; }
  [ -x "$build/agentd/zlayer-agentd" ] || { echo "no zlayer-agentd in $build (build first)"; return; }
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      apt-cache show "${missing[@]}" >/dev/null 2>&1 ||
        { echo "${missing[*]} not installed and not installable from the apt sources"; return; }
    fi
  fi
  mkdir -p "$cache" 2>/dev/null || { echo "cannot create the image cache $cache"; return; }
  local free_kb
  free_kb=$(df -Pk "$cache" | awk 'NR == 2 {print $4}')
  [ "${free_kb:-0}" -ge $((4 * 1024 * 1024)) ] ||
    { echo "needs 4 GiB free for the guest image in $cache ($((free_kb / 1024)) MiB free)"; return; }
  local mem_kb
  mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  [ "${mem_kb:-0}" -ge $((3 * 1024 * 1024)) ] ||
    { echo "needs 3 GiB of available memory for the 2 GiB guest ($((mem_kb / 1024)) MiB available)"; return; }
}

reason=$(why_not)
[ -z "$reason" ] || skip "$reason"
((probe_only)) && exit 0

t0=$(date +%s)
say() { echo "host_vm_suite: [$(($(date +%s) - t0))s] $*"; }

# 1. Host tools.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v objdump >/dev/null || need+=(binutils)
command -v umoci >/dev/null || need+=(umoci)
[ -x /bin/busybox ] || need+=(busybox-static)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

share=$(mktemp -d /tmp/zlayer-hostsuite.XXXXXX)
keep=${KEEP_SHARE:-0}
finish() { if [ "$keep" = 1 ]; then echo "host_vm_suite: share kept in $share"; else rm -rf "$share"; fi; }
trap finish EXIT

# 2. The agent, installed as an operator would: the project's own install step into a
#    staging tree that the guest copies to /.
say "cmake --install $build --prefix /usr (DESTDIR=share/root)"
DESTDIR="$share/root" cmake --install "$build" --prefix /usr --strip > "$share/install.log" 2>&1 ||
  { cat "$share/install.log"; echo "host_vm_suite: cmake --install failed"; exit 1; }
for f in usr/bin/zlayer-agentd usr/bin/zlayerctl usr/libexec/zlayer/zlayer-monitor \
         usr/lib/systemd/system/zlayer-agentd.service usr/lib/systemd/system/zlayer-agentd.socket \
         etc/zlayer/agentd.yaml; do
  [ -e "$share/root/$f" ] || {
    echo "host_vm_suite: cmake --install did not install /$f; installed:"
    (cd "$share/root" && find . -type f | sort)
    exit 1
  }
done

# 3. The image: packages.txt plus the package of every library the installed binaries
#    link to directly.
listed() { grep -v '^\s*#' "$here/packages.txt" | awk 'NF {print $1}' | sort -u; }
# The Debian package that owns a library (as ldd names it, or its real path).
pkg_of() {
  local p
  for p in "$1" "$(readlink -f "$1")"; do
    dpkg -S "$p" 2>/dev/null | awk -F: 'NR == 1 {print $1}' | grep . && return 0
  done
  echo "host_vm_suite: no Debian package owns $1" >&2; return 1
}
linked_packages() {
  local bin lib path
  for bin in "$@"; do
    for lib in $(objdump -p "$bin" | awk '/NEEDED/ {print $2}'); do
      path=$(ldd "$bin" | awk -v l="$lib" '$1 == l {print $3}')
      [ -n "$path" ] || { echo "host_vm_suite: $bin needs $lib, which the host lacks" >&2; return 1; }
      pkg_of "$path" || return 1
    done
  done
}
pkgs=$share/packages.txt
linked=$(linked_packages "$share/root/usr/bin/zlayer-agentd" "$share/root/usr/bin/zlayerctl")
{ listed; echo "$linked"; } | awk 'NF' | sort -u > "$pkgs"
extra=$(comm -13 <(listed) "$pkgs" |
        grep -v -x -e libc6 -e libgcc-s1 -e libstdc++6 || true)
[ -z "$extra" ] || say "image also gets $(echo $extra) (libraries the binaries link to)"
mkdir -p "$cache"
exec 9>"$cache.lock"
flock -x 9   # one builder; runs share the image read-only (snapshot=on)
"$here/make-image.sh" "$pkgs" "$cache/img" 2>&1 | sed -u 's/^/host_vm_suite: /'
flock -s 9

# 4. The test image: busybox-static in an OCI layout, imported through the API in the
#    guest (no registry, nothing leaves the guest).
say "building the busybox OCI image"
(
  set -e
  d=$share/image
  umoci init --layout "$d/layout"
  umoci new --image "$d/layout:latest"
  umoci unpack --image "$d/layout:latest" "$d/bundle"
  mkdir -p "$d/bundle/rootfs/bin" "$d/bundle/rootfs/tmp" "$d/bundle/rootfs/etc"
  cp /bin/busybox "$d/bundle/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bundle/rootfs/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$d/bundle/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$d/bundle/rootfs/etc/group"
  umoci repack --image "$d/layout:latest" "$d/bundle"
  umoci config --image "$d/layout:latest" --config.cmd /bin/sh --config.env PATH=/bin
  tar -C "$d/layout" -cf "$share/busybox.tar" .
  rm -rf "$d"
) > "$share/image.log" 2>&1 || { cat "$share/image.log"; echo "host_vm_suite: building the test image failed"; exit 1; }

# 5. Boot and run.
cp "$here/guest/suite.sh" "$share/run.sh"
say "booting the guest (QEMU TCG) and running guest/suite.sh"
rc=0
TIMEOUT=${TIMEOUT:-1500} "$here/run-in-vm.sh" "$cache/img" "$share" || rc=$?
if [ "$rc" != 0 ]; then
  keep=1
  j=$share/out/journal.txt
  [ -s "$j" ] || j=$share/out/journal-live.txt
  if [ -s "$j" ]; then
    echo "host_vm_suite: ===== guest journal: journalctl -u zlayer-agentd -u zlayer-agentd.socket ($j) ====="
    tail -n 400 "$j"
    echo "host_vm_suite: ===== end of guest journal ====="
  else
    echo "host_vm_suite: no journal came back from the guest; last console lines:"
    tail -n 40 "$share/out/console.log" 2>/dev/null || true
  fi
  case $rc in
    124) echo "host_vm_suite: FAILED: the guest did not finish in ${TIMEOUT:-1500}s" ;;
    125) echo "host_vm_suite: FAILED: the guest ended without a result (console: $share/out/console.log)" ;;
    *) echo "host_vm_suite: FAILED (exit $rc) after $(($(date +%s) - t0))s" ;;
  esac
  [ "$rc" = 77 ] && rc=1   # never mistaken for a skip
  exit "$rc"
fi
say "passed"
