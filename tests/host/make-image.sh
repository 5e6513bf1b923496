#!/bin/bash
# Builds the production-host test guest: Debian bookworm with systemd as PID 1, booted
# on pure cgroup v2 by run-in-vm.sh, with the packages listed in PACKAGES_FILE (the
# agent's run-time libraries, crun, runc, jq). At boot, with "vmrun" on the kernel
# command line, it runs /host/run.sh from the 9p share, stores its output and exit
# code in /host/out/ and powers off.
#
# Usage: make-image.sh PACKAGES_FILE IMAGE_DIR
#   PACKAGES_FILE  the final package list, one per line (run.sh writes it)
#   IMAGE_DIR      gets rootfs.img, vmlinuz, initrd.img and inputs.sha256
#   env: MIRROR (default: the host's own bookworm mirror, else deb.debian.org), IMG_SIZE (default 2G)
# The image is rebuilt only when the package list or this script changed: both are
# hashed into IMAGE_DIR/inputs.sha256. Needs root (debootstrap, chroot); no loop
# devices or mounts of the image (mkfs.ext4 -d). About 2 minutes and 0.8 GB here.
set -euo pipefail
PKGFILE=${1:?usage: make-image.sh PACKAGES_FILE IMAGE_DIR}
IMG=${2:?usage: make-image.sh PACKAGES_FILE IMAGE_DIR}
IMG_SIZE=${IMG_SIZE:-2G}
SUITE=bookworm

inputs_hash() { cat "$PKGFILE" "$0" | sha256sum | cut -d' ' -f1; }
HASH=$(inputs_hash)
if [ -s "$IMG/inputs.sha256" ] && [ "$(cat "$IMG/inputs.sha256")" = "$HASH" ] &&
   [ -s "$IMG/rootfs.img" ] && [ -s "$IMG/vmlinuz" ] && [ -s "$IMG/initrd.img" ]; then
  echo "make-image: cached image is current ($IMG, inputs ${HASH:0:12})"
  exit 0
fi

# shellcheck source=tests/host/mirror.sh
. "$(dirname "$0")/mirror.sh"
MIRROR=${MIRROR:-$(debian_mirror)}

t() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(t)" 'BEGIN{printf "%.1f", b-a}'; }
T0=$(t)
echo "make-image: building $IMG (inputs ${HASH:0:12}) from $MIRROR"

work=$(mktemp -d "$(dirname "$IMG")/.image-build.XXXXXX")
ROOTFS=$work/rootfs
cleanup() {
  umount "$ROOTFS/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

PKGS=$(grep -v '^\s*#' "$PKGFILE" | awk 'NF {print $1}' | sort -u | paste -sd, -)
debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS" "$MIRROR" > "$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log" >&2; echo "make-image: debootstrap failed" >&2; exit 1; }
echo "make-image: debootstrap $(el "$T0") s"

mount -t proc proc "$ROOTFS/proc"
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

echo vmtest > "$ROOTFS/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vmtest\n::1 localhost ip6-localhost ip6-loopback\n' > "$ROOTFS/etc/hosts"
# The root file system comes from the kernel command line; /host from host-share.service.
echo '# root: from the kernel command line; /host: host-share.service' > "$ROOTFS/etc/fstab"
mkdir -p "$ROOTFS/host"
in_root passwd -d root >/dev/null   # test guest only: no network, serial console only

# A quiet guest: nothing scheduled behind the suite's back, no getty on a VGA console.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
         fstrim.timer dpkg-db-backup.timer getty@tty1.service; do
  in_root systemctl mask "$u" >/dev/null 2>&1 || true
done
mkdir -p "$ROOTFS/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$ROOTFS/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 - $TERM
EOF

# Small initramfs: only what mounting /dev/vda (ext4 on virtio-blk) needs.
sed -i 's/^MODULES=.*/MODULES=list/' "$ROOTFS/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic > "$ROOTFS/etc/initramfs-tools/modules"
printf '%s\n' 9p 9pnet_virtio overlay > "$ROOTFS/etc/modules-load.d/zlayer-test.conf"
in_root update-initramfs -u -k all > "$work/initramfs.log" 2>&1 ||
  { cat "$work/initramfs.log" >&2; exit 1; }

# /host: the host's share over 9p (mount tag host0).
cat > "$ROOTFS/etc/systemd/system/host-share.service" <<'EOF'
[Unit]
Description=Mount the host share on /host (9p, tag host0)
After=systemd-modules-load.service local-fs.target
Before=multi-user.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mountpoint -q /host || mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none host0 /host'

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable host-share.service >/dev/null 2>&1

# The runner: once the system is up, run /host/run.sh, keep its output and exit code in
# /host/out/, power off.
cat > "$ROOTFS/usr/local/sbin/vm-run" <<'EOF'
#!/bin/bash
systemctl is-system-running --wait >/dev/null 2>&1
out=/host/out
if [ ! -r /host/run.sh ]; then
  echo 'vm-run: /host/run.sh not found (no 9p share?)' > /dev/console
  systemctl poweroff --force; exit 1
fi
mkdir -p "$out"; rm -f "$out/rc" "$out/output.log"
echo "vm-run: starting /host/run.sh at uptime $(cut -d' ' -f1 /proc/uptime)s, state=$(systemctl is-system-running)" > /dev/console
cd /host
bash /host/run.sh 2>&1 | tee "$out/output.log"
rc=${PIPESTATUS[0]}
echo "$rc" > "$out/rc.tmp" && mv "$out/rc.tmp" "$out/rc"
sync
echo "vm-run: /host/run.sh exited $rc, powering off" > /dev/console
systemctl poweroff --force
EOF
chmod 755 "$ROOTFS/usr/local/sbin/vm-run"
cat > "$ROOTFS/etc/systemd/system/vm-run.service" <<'EOF'
[Unit]
Description=Run /host/run.sh from the host share, save its output, power off
ConditionKernelCommandLine=vmrun
Requires=host-share.service
After=basic.target host-share.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/vm-run
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable vm-run.service >/dev/null 2>&1

in_root apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* \
       "$ROOTFS"/usr/share/locale/*
umount "$ROOTFS/proc"

# Kernel and initrd are booted directly (-kernel/-initrd); the disk is populated
# without mounting it.
mkdir -p "$work/img"
cp -L "$ROOTFS/vmlinuz" "$work/img/vmlinuz"
cp -L "$ROOTFS/initrd.img" "$work/img/initrd.img"
truncate -s "$IMG_SIZE" "$work/img/rootfs.img"
mkfs.ext4 -q -F -L vmroot -d "$ROOTFS" -E root_owner=0:0 "$work/img/rootfs.img"
echo "$HASH" > "$work/img/inputs.sha256"
rm -rf "$IMG"
mv "$work/img" "$IMG"
echo "make-image: done in $(el "$T0") s: $(du -sh "$IMG" | cut -f1) in $IMG"
