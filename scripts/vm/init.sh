#!/bin/busybox sh
# Guest /init for scripts/vmtest.sh (runs as PID 1 from the initramfs, busybox only).
#
# The initramfs holds: /bin/busybox, /modules/NN-name.ko (already in load order),
# /job/settings (shell assignments written by vmtest.sh) and /job/command.sh.
# Steps: load the 9p/virtio modules, mount the host's root file system read-only over 9p
# with a tmpfs overlay on top (so the guest can write anywhere, and nothing reaches the
# host), mount the kernel file systems tests need, then chroot and run the command with its
# stdout/stderr on virtio-serial ports. Progress and the exit status go to a third port
# ("vmtest.status") so the host can tell "never started" from "crashed while running".
# shellcheck shell=sh

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1

say() { echo "vmtest-init: $*"; }
status_port=
report() {
  # The status port may not exist yet when we fail early; the console always has it too.
  say "status: $*"
  if [ -n "$status_port" ]; then echo "$*" >"$status_port"; fi
}
give_up() {
  report "failed $*"
  sync
  poweroff -f
  sleep 30
}

# shellcheck disable=SC1091
. /job/settings

for module in /modules/*.ko; do
  [ -e "$module" ] || continue
  insmod "$module" || say "insmod $module failed (continuing: it may be built in)"
done

# virtio-serial ports are named by the host (-device virtserialport,name=...).
find_port() {
  for port_dir in /sys/class/virtio-ports/*; do
    if [ "$(cat "$port_dir/name" 2>/dev/null)" = "$1" ]; then
      echo "/dev/${port_dir##*/}"
      return 0
    fi
  done
  return 1
}
stdout_port=
stderr_port=
attempts=0
while [ "$attempts" -lt 200 ]; do
  status_port=$(find_port vmtest.status) || status_port=
  stdout_port=$(find_port vmtest.stdout) || stdout_port=
  stderr_port=$(find_port vmtest.stderr) || stderr_port=
  if [ -c "$status_port" ] && [ -c "$stdout_port" ] && [ -c "$stderr_port" ]; then break; fi
  attempts=$((attempts + 1))
  sleep 0.05
done
[ -c "$status_port" ] || status_port=
if [ -z "$status_port" ] || [ ! -c "$stdout_port" ] || [ ! -c "$stderr_port" ]; then
  give_up "virtio-serial ports missing (is virtio_console loaded?)"
fi
report "booted $(uname -r)"

nine_p_options="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /host /overlay /newroot
attempts=0
until mount -t 9p -o "$nine_p_options,ro,cache=loose" vmtest_root /host 2>/dev/null; do
  attempts=$((attempts + 1))
  [ "$attempts" -gt 100 ] && give_up "cannot mount the host root over 9p (9p modules missing?)"
  sleep 0.05
done

mount -t tmpfs -o mode=755 tmpfs /overlay
mkdir -p /overlay/upper /overlay/work
if ! mount -t overlay -o lowerdir=/host,upperdir=/overlay/upper,workdir=/overlay/work \
  overlay /newroot 2>/dev/null; then
  # Without overlayfs the root stays read-only; give the usual scratch places a tmpfs.
  say "overlayfs unavailable: read-only root with tmpfs on /tmp /var/tmp /root"
  mount --bind /host /newroot
  for scratch in tmp var/tmp root; do mount -t tmpfs tmpfs "/newroot/$scratch"; done
fi
R=/newroot

mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount -t devtmpfs devtmpfs "$R/dev"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
ln -sf /proc/self/fd "$R/dev/fd"
ln -sf /proc/self/fd/0 "$R/dev/stdin"
ln -sf /proc/self/fd/1 "$R/dev/stdout"
ln -sf /proc/self/fd/2 "$R/dev/stderr"
# Tracing and BPF file systems: a missing one is reported, the tests decide whether they care.
mount -t debugfs debugfs "$R/sys/kernel/debug" || say "debugfs not mounted"
mount -t tracefs tracefs "$R/sys/kernel/tracing" || say "tracefs not mounted"
mount -t bpf bpf "$R/sys/fs/bpf" || say "bpffs not mounted"
mount -t securityfs securityfs "$R/sys/kernel/security" 2>/dev/null || true
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup" 2>/dev/null || true

# The unpacked kernel package's modules, so that modprobe works in the guest.
if [ -n "${VMTEST_MODULE_DIR:-}" ] && [ -d "$R$VMTEST_MODULE_DIR" ]; then
  kernel_release=$(uname -r)
  if [ "$VMTEST_MODULE_DIR" != "/lib/modules/$kernel_release" ]; then
    mkdir -p "$R/lib/modules/$kernel_release" &&
      mount --bind "$R$VMTEST_MODULE_DIR" "$R/lib/modules/$kernel_release"
  fi
fi

# Read-write shares: tag vmtest_rwN is mounted at the host path given in the settings.
share_index=0
for shared_path in ${VMTEST_RW_DIRS:-}; do
  mkdir -p "$R$shared_path"
  if ! mount -t 9p -o "$nine_p_options" "vmtest_rw$share_index" "$R$shared_path"; then
    give_up "cannot mount read-write share $shared_path"
  fi
  share_index=$((share_index + 1))
done

ip link set lo up 2>/dev/null || true
hostname vmtest

mkdir -p "$R/run/vmtest"
cp /job/command.sh "$R/run/vmtest/command.sh"
[ -x "$R/bin/bash" ] || give_up "the host root has no /bin/bash"

report "started"
chroot "$R" /usr/bin/env -i /bin/bash /run/vmtest/command.sh <"$R/dev/null" \
  >"$stdout_port" 2>"$stderr_port"
command_status=$?
report "exit $command_status"
sync
poweroff -f
sleep 30
