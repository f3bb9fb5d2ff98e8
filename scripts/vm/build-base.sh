#!/usr/bin/env bash
# Builds the root tree of a cgroup v2 test VM into .vm-cache/SUITE/base:
# Debian SUITE (debootstrap minbase) + systemd + a Debian kernel and initrd
# installed INSIDE the tree (the host's /boot is never touched) + the packages
# the integration tests need. scripts/vm/run.mjs turns it into a disk image.
# Suites: bookworm (Debian 12: systemd 252, kernel 6.1) and trixie (Debian 13:
# systemd 257, kernel 6.12); each has its own cache directory.
#
# Not under build/: node-gyp rebuild (the package's install script) deletes
# build/ wholesale, and did so under a running build here.
#
# Cached: does nothing when .vm-cache/SUITE/base carries a stamp matching this
# script's content (which holds the package lists), the suite and
# SSC_VM_EXTRA_PACKAGES. Safe to interrupt: it builds in
# .vm-cache/SUITE/base.tmp.* and renames at the end.
# The build runs in its own mount and pid namespaces (unshare): its mounts are
# never visible on the host (so no rm -rf of the tree, ours or anyone's, can
# reach the host's /dev through a bind mount) and vanish with it even on
# SIGKILL; when it ends, the kernel kills whatever apt/dpkg left running.
#
# Usage: scripts/vm/build-base.sh [--suite bookworm|trixie] [--force]
# Env:   SSC_VM_SUITE           the suite when --suite is not given (default: bookworm)
#        SSC_VM_DIR             cache root; the suite's cache is SSC_VM_DIR/SUITE
#                               (default: <repo>/.vm-cache)
#        SSC_VM_MIRROR          Debian mirror (default: the host apt's)
#        SSC_VM_EXTRA_PACKAGES  more packages, space separated (part of the hash)
set -euo pipefail

# ---- what goes into the VM: extend here ------------------------------------
# Installed with apt inside the debootstrapped minbase tree, the kernel too.
# passwd/adduser: the tests' globalSetup makes users with useradd; xvfb,
# x11-utils (xdpyinfo), xauth: the desktop-session test's X server and client;
# dunst: the notification server of the notifier's test.
# SSC_VM_EXTRA_PACKAGES adds packages without editing this file.
SSC_VM_PACKAGES="linux-image-amd64 systemd systemd-sysv udev dbus dbus-user-session
  libpam-systemd login passwd adduser sudo procps util-linux kmod python3 tmux less vim-tiny
  xvfb x11-utils xauth dunst
  ${SSC_VM_EXTRA_PACKAGES:-}"
SUITES="bookworm trixie"
# -----------------------------------------------------------------------------

SUITE=${SSC_VM_SUITE:-bookworm}
force=0
while [[ $# -gt 0 ]]; do
  case $1 in
  --force) force=1 ;;
  --suite) SUITE=${2:-}; shift ;;
  --suite=*) SUITE=${1#--suite=} ;;
  *) echo "usage: $0 [--suite bookworm|trixie] [--force]" >&2; exit 2 ;;
  esac
  shift
done
[[ " $SUITES " == *" $SUITE "* ]] || { echo "build-base: unknown suite '$SUITE' (known: $SUITES)" >&2; exit 2; }

self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/../.." && pwd)
vmdir=${SSC_VM_DIR:-$repo/.vm-cache}/$SUITE
base=$vmdir/base
stamp_file=.ssc-vm-base-stamp
want_stamp=$({
  cat "$self"
  printf '%s\n' "$SSC_VM_PACKAGES" "$SUITE"
} | sha256sum | cut -d' ' -f1)

# fd 8: the script's own stderr, also inside steps whose output goes to a log
# (a trap can fire there).
exec 8>&2
log() { printf '[build-base %s %(%T)T] %s\n' "$SUITE" -1 "$*" >&8; }

is_complete() { [[ -f $base/$stamp_file && $(cat "$base/$stamp_file") == "$want_stamp" ]]; }

if [[ -z ${SSC_VM_IN_NS:-} ]]; then
  [[ $(id -u) == 0 ]] || { log "must run as root (debootstrap, chroot)"; exit 1; }
  if [[ $force == 0 ]] && is_complete; then
    log "base is up to date ($base)"
    exit 0
  fi
  command -v debootstrap >/dev/null || { log "debootstrap not installed (apt-get install debootstrap)"; exit 1; }
  mkdir -p "$vmdir"
  # One build at a time; the lock fd is inherited by the re-exec below.
  exec 9>"$vmdir/.build-base.lock"
  if ! flock -w 1800 9; then log "could not take $vmdir/.build-base.lock"; exit 1; fi
  if [[ $force == 0 ]] && is_complete; then
    log "base was built by a concurrent run"
    exit 0
  fi
  # Leftovers of interrupted runs. Their mounts were in a namespace that died
  # with them; --one-file-system is the belt to those braces.
  for d in "$vmdir"/base.tmp.* "$vmdir"/base.old.* "$vmdir"/tmp.build-base; do
    [[ -e $d ]] || continue
    log "removing leftover $d"
    rm -rf --one-file-system "$d"
  done
  export SSC_VM_IN_NS=1 SSC_VM_SUITE=$SUITE
  # unshare --fork ignores SIGINT/SIGTERM while it waits, so it is not exec'd:
  # this shell turns a signal into SIGKILL for unshare, which --kill-child
  # turns into SIGTERM for the build, whose trap cleans up; then this shell
  # waits for that cleanup (the build holds the lock until it exits).
  unshare --mount --propagation private --pid --fork --mount-proc --kill-child=SIGTERM -- bash "$self" --suite "$SUITE" &
  ns=$!
  trap 'kill -KILL "$ns" 2>/dev/null || true' INT TERM HUP
  rc=0
  { wait "$ns" || rc=$?; } 2>/dev/null
  while kill -0 "$ns" 2>/dev/null; do { wait "$ns" || rc=$?; } 2>/dev/null; done
  exec 9>&-
  if [[ $rc -gt 128 ]]; then
    flock -w 120 "$vmdir/.build-base.lock" true || true
    log "interrupted"
  fi
  exit "$rc"
fi

# ---- from here on: PID 1 of private mount and pid namespaces ------------------
mirror=${SSC_VM_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}

tmp=$(mktemp -d "$vmdir/base.tmp.XXXXXX")
hosttmp=$vmdir/tmp.build-base
mkdir -p "$hosttmp"
# This mount namespace still shares the host's /run (DNS may live there), and
# libmount (our mounts, debootstrap's) would create /run/mount for its utab:
# keep the utab in our scratch directory instead.
export LIBMOUNT_UTAB=$hosttmp/libmount/utab
chmod 755 "$tmp"

unmount_all() {
  # Everything mounted at or below $tmp, deepest first.
  local m
  for m in $(awk -v p="$tmp" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # As PID 1 of our own pid namespace, kill -1 reaches exactly the build's
  # other processes (debootstrap, apt, dpkg...), so nothing holds the mounts.
  if [[ $$ == 1 ]]; then
    kill -KILL -1 2>/dev/null || true
    wait 2>/dev/null || true
  fi
  unmount_all
  if awk -v p="$tmp" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    log "still mounted under $tmp; leaving it in place"
  else
    rm -rf --one-file-system "$tmp"
  fi
  rm -rf "$hosttmp"
  if [[ $rc != 0 ]]; then log "FAILED (exit $rc); cleaned up"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# Long steps run in the background and are waited for, so that a signal's trap
# runs at once instead of after the step (bash defers traps during a foreground child).
bg() { "$@" & wait $!; }

t0=$SECONDS
words() { tr -s ' \n\t' ' ' <<<"$1" | sed 's/^ //; s/ $//'; }
log "debootstrap $SUITE from $mirror into $tmp"
# initramfs-tools comes first so that its configuration is in place before the
# kernel's postinst builds the initrd.
TMPDIR=$hosttmp bg debootstrap --variant=minbase --include=initramfs-tools \
  "$SUITE" "$tmp" "$mirror" >"$hosttmp/debootstrap.log" 2>&1 || {
  tail -n 40 "$hosttmp/debootstrap.log" >&2
  [[ -f $tmp/debootstrap/debootstrap.log ]] && tail -n 40 "$tmp/debootstrap/debootstrap.log" >&2
  exit 1
}
log "debootstrap done ($((SECONDS - t0)) s)"

in_root() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 TMPDIR=/tmp \
    DEBIAN_FRONTEND=noninteractive chroot "$tmp" "$@"
}

mount -t proc proc "$tmp/proc"
mount --bind /dev "$tmp/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$tmp/dev/pts"
mount -t tmpfs tmpfs "$tmp/tmp"

# No daemon may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
cat >"$tmp/etc/apt/apt.conf.d/90ssc-vm" <<'EOF'
// The mirror may be a dated snapshot whose Release files are past Valid-Until.
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF

t1=$SECONDS
bg in_root apt-get -q update >"$hosttmp/apt.log" 2>&1 || { tail -n 40 "$hosttmp/apt.log" >&2; exit 1; }
# A small initrd that only knows the VM's disk: faster to load and unpack
# under TCG than the default MODULES=most one.
cat >"$tmp/etc/initramfs-tools/conf.d/ssc-vm.conf" <<'EOF'
MODULES=list
EOF
cat >>"$tmp/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
ext4
crc32c_generic
EOF
# shellcheck disable=SC2086
bg in_root apt-get -q -y install $(words "$SSC_VM_PACKAGES") >>"$hosttmp/apt.log" 2>&1 ||
  { tail -n 40 "$hosttmp/apt.log" >&2; exit 1; }
log "apt packages done ($((SECONDS - t1)) s)"

# ---- configure the VM -------------------------------------------------------
echo ssc-vm >"$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tssc-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
printf '# The VM disk image made by scripts/vm/run.mjs; thrown away after each run.\n/dev/vda / ext4 rw,noatime 0 0\n' >"$tmp/etc/fstab"
: >"$tmp/etc/resolv.conf" # no network in the VM
mkdir -p "$tmp/etc/systemd/journald.conf.d" "$tmp/etc/systemd/system.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$tmp/etc/systemd/journald.conf.d/ssc-vm.conf"
# Quick shutdown after the job: nothing in the VM is worth waiting for.
printf '[Manager]\nDefaultTimeoutStopSec=10s\n' >"$tmp/etc/systemd/system.conf.d/ssc-vm.conf"
in_root systemctl --quiet set-default multi-user.target
# Gettys would fight the job for ttyS0; timers and first-boot/update units
# only cost boot time (ConditionNeedsUpdate fires on every fresh image).
in_root systemctl mask --quiet \
  getty.target getty@tty1.service serial-getty@ttyS0.service console-getty.service \
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
  dpkg-db-backup.timer dpkg-db-backup.service e2scrub_all.timer e2scrub_reap.service \
  fstrim.timer man-db.timer logrotate.timer systemd-tmpfiles-clean.timer \
  systemd-hwdb-update.service ldconfig.service systemd-journal-catalog-update.service \
  systemd-update-done.service systemd-firstboot.service \
  systemd-networkd-wait-online.service systemd-timesyncd.service
in_root systemd-hwdb update 2>/dev/null || true
in_root ldconfig

# ---- tidy up and check -------------------------------------------------------
rm -f "$tmp/usr/sbin/policy-rc.d"
in_root apt-get -q clean
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/debconf/*-old
unmount_all

shopt -s nullglob
kernels=("$tmp"/boot/vmlinuz-*)
initrds=("$tmp"/boot/initrd.img-*)
shopt -u nullglob
if [[ ${#kernels[@]} != 1 || ${#initrds[@]} != 1 ]]; then
  log "expected one kernel and one initrd in $tmp/boot, found: ${kernels[*]:-none} ${initrds[*]:-none}"
  exit 1
fi
# Boot files readable by qemu whoever runs it.
chmod 644 "${kernels[0]}" "${initrds[0]}"
ln -sfn "$(basename "${kernels[0]}")" "$tmp/boot/ssc-vmlinuz"
ln -sfn "$(basename "${initrds[0]}")" "$tmp/boot/ssc-initrd.img"

echo "$want_stamp" >"$tmp/$stamp_file" # written last: marks the tree complete
if [[ -e $base ]]; then
  old=$(mktemp -d "$vmdir/base.old.XXXXXX")
  mv "$base" "$old/base"
  mv "$tmp" "$base"
  rm -rf --one-file-system "$old"
else
  mv "$tmp" "$base"
fi
log "base ready: $base ($(du -sh "$base" | cut -f1), $((SECONDS - t0)) s)"
