#!/bin/sh
# The Debian packages the test beds use. Installs the missing ones when run as
# root on a machine with apt; otherwise lists them (the VM test bed then skips
# with its reason, and the namespace test bed needs only what systemd brings).
set -eu
pkgs="systemd dbus dbus-user-session util-linux qemu-system-x86 debootstrap e2fsprogs clang-format tmux xvfb x11-utils xauth desktop-file-utils time valgrind libglib2.0-bin libgtk-3-bin dunst"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "test-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "test-deps: missing Debian packages:$missing (run the tests as root to install them)" >&2
fi
