#!/bin/bash
# Boots the test guest (make-image.sh) under QEMU, runs SHARE_DIR/run.sh inside it as
# root (cwd /host, the share, read-write over 9p), streams its output, and exits with
# its exit code: 124 if the guest timed out, 125 if it ended without a result.
# Every boot starts from the pristine image (snapshot=on).
#
# Usage: run-in-vm.sh IMAGE_DIR SHARE_DIR
#   env: SMP=2 MEM=2048 TIMEOUT=1500 (seconds) ACCEL=tcg|kvm
# TCG is the default: on these hosts /dev/kvm, where present, is kvm_pvm, which cannot
# run an unmodified kernel. Output: SHARE_DIR/out/{output.log,console.log,qemu.log}.
set -euo pipefail
IMG=${1:?usage: run-in-vm.sh IMAGE_DIR SHARE_DIR}
SHARE=$(cd "${2:?usage: run-in-vm.sh IMAGE_DIR SHARE_DIR}" && pwd)
SMP=${SMP:-2}; MEM=${MEM:-2048}; TIMEOUT=${TIMEOUT:-1500}; ACCEL=${ACCEL:-tcg}
CMDLINE="rw systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all vmrun panic=-1 loglevel=4"
[ -r "$SHARE/run.sh" ] || { echo "run-in-vm: $SHARE/run.sh is missing" >&2; exit 2; }

mkdir -p "$SHARE/out"
rm -f "$SHARE/out/rc" "$SHARE/out/console.log"
: > "$SHARE/out/output.log"

case $ACCEL in
  tcg) ACCEL_OPTS=(-accel tcg,thread=multi,tb-size=512 -cpu max) ;;
  kvm) ACCEL_OPTS=(-accel kvm -cpu host) ;;
  *) echo "run-in-vm: ACCEL must be tcg or kvm" >&2; exit 2 ;;
esac
start=$(date +%s.%N)
qemu-system-x86_64 -M q35 "${ACCEL_OPTS[@]}" -smp "$SMP" -m "$MEM" \
  -display none -monitor none -serial "file:$SHARE/out/console.log" -no-reboot -nic none \
  -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
  -append "root=/dev/vda console=ttyS0 $CMDLINE" \
  -drive "file=$IMG/rootfs.img,format=raw,if=virtio,snapshot=on" \
  -virtfs "local,path=$SHARE,mount_tag=host0,security_model=passthrough,id=host0" \
  -device virtio-rng-pci \
  </dev/null >"$SHARE/out/qemu.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' INT TERM EXIT

# Stream the script's output while it runs.
tail -n +1 -F --pid="$VPID" "$SHARE/out/output.log" 2>/dev/null &
TPID=$!

rc=
for ((i = 0; i < TIMEOUT * 2; i++)); do
  kill -0 "$VPID" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$VPID" 2>/dev/null; then
  echo "run-in-vm: timeout after ${TIMEOUT}s, killing qemu (pid $VPID)" >&2
  kill "$VPID" 2>/dev/null || true
  rc=124
fi
wait "$VPID" 2>/dev/null || true
wait "$TPID" 2>/dev/null || true
trap - INT TERM EXIT
if [ -z "$rc" ]; then
  if [ -s "$SHARE/out/rc" ]; then rc=$(cat "$SHARE/out/rc")
  else
    rc=125
    echo "run-in-vm: the guest ended without a result; qemu said:" >&2
    tail -5 "$SHARE/out/qemu.log" >&2 || true
  fi
fi
echo "run-in-vm: rc=$rc wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s" >&2
exit "$rc"
