#!/bin/bash
# Runs the cgroups suites and the stats benchmark inside the pure-v2 test VM
# (systemd 252, all controllers on cgroup2), so the production layout is exercised
# live, not only by fixture. These build hosts are hybrid.
#
# Usage: tests/cgroups/vm-suite.sh BUILD_DIR
#   env: RUN_IN_VM  path of run-in-vm.sh (default: ../shared/tools/vm/run-in-vm.sh,
#                   relative to the source root); the image must have been built
#                   with make-image.sh beside it (cached in /var/cache/zlayer-vm).
# The binaries are built here (same bookworm libraries); their non-base shared
# libraries ride along in the share and LD_LIBRARY_PATH. Takes 2-3 minutes (TCG).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: vm-suite.sh BUILD_DIR}" && pwd)
run_in_vm=${RUN_IN_VM:-$src/../shared/tools/vm/run-in-vm.sh}
vm_root=${LAB:-/var/cache/zlayer-vm}/rootfs

share=$(mktemp -d /tmp/zcg-vm.XXXXXX)
trap 'rm -rf "$share"' EXIT
mkdir -p "$share/lib" "$share/src/tests/cgroups"
bins=("$build/tests/cgroups/cgroups_tests" "$build/tests/cgroups/cgroups_live_tests"
      "$build/tests/cgroups/cgroup_hog" "$build/bench/cgroup_stats_bench")
cp "${bins[@]}" "$share/"
cp -a "$src/tests/cgroups/fixtures" "$share/src/tests/cgroups/"
# Libraries the guest image lacks.
for lib in $(ldd "${bins[@]}" 2>/dev/null | awk '/=>/ {print $1 "=" $3}' | sort -u); do
  name=${lib%%=*} path=${lib#*=}
  [ -e "$vm_root/usr/lib/x86_64-linux-gnu/$name" ] || [ -e "$vm_root/lib/x86_64-linux-gnu/$name" ] ||
    cp -L "$path" "$share/lib/"
done

cat > "$share/suite.sh" <<IN_VM
#!/bin/bash
export LD_LIBRARY_PATH=/host/lib ZLAYER_CGROUP_HOG=/host/cgroup_hog
# The binaries look for fixtures under the source root they were built from.
mkdir -p "$(dirname "$src")" && ln -sfn /host/src "$src"
cd /tmp
echo "== \$(stat -fc %T /sys/fs/cgroup), in \$(cat /proc/self/cgroup)"
rc=0
/host/cgroups_tests || rc=1
/host/cgroups_live_tests || rc=1
/host/cgroup_stats_bench --containers 50 --rounds 10 --procs --per-file || rc=1
exit \$rc
IN_VM
"$run_in_vm" "$share/suite.sh" "$share"
