#!/bin/sh
# Exercise the setuid launcher for real without touching the host.
#
#   sudo test/native/launcher-check.sh
#
# Runs launcher-check.mjs in a private mount namespace (unshare --mount): it mounts a tmpfs
# over SSC_CHECK_BASE (default /mnt, which must be root-owned and not group/other-writable,
# like every directory above it), builds native/launcher/ there with gcc, installs
# it setuid root beside stand-in Node entries, and runs it as uid 65534. The tmpfs goes away
# with the namespace. Needs: root, gcc, node, unshare and setpriv (util-linux).
set -eu
[ "$(id -u)" = 0 ] || { echo "launcher-check: must run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# The driver refuses to mount anything unless its mount namespace differs from this one.
SSC_CHECK_OUTER_MNTNS=$(readlink /proc/self/ns/mnt)
export SSC_CHECK_OUTER_MNTNS
# A private /run first (mount -n: no utab yet): the host's /run must not get the /run/mount
# directory libmount creates for its utab when the driver mounts and unmounts.
# shellcheck disable=SC2016
exec unshare --mount --propagation private -- sh -c \
	'mount -n -t tmpfs -o mode=0755,nosuid,nodev ssc-launcher-check-run /run && exec node "$@"' \
	sh "$here/launcher-check.mjs" "$@"
