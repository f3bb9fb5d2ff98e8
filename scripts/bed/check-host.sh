#!/bin/bash
# Prove that running the namespace test bed left the host as it found it.
#
#   scripts/bed/check-host.sh snapshot [FILE]      record host state (default build/host-check/before.txt)
#   scripts/bed/check-host.sh compare  [FILE]      record it again and diff against FILE; exit 1 on change
#   scripts/bed/check-host.sh show                 print the current state to stdout
#
# What is recorded (one line per item, sorted, so `diff` is readable):
#  - /tmp, /var/tmp, /run, /dev/shm, /home, /usr/local: the top two levels
#    (type, mode, owner, size of regular files), /var/log/journal and
#    /etc/systemd/system in full;
#  - sha256 of /etc/passwd, group, shadow, gshadow, machine-id, hostname, fstab;
#  - /dev top level (the bed has its own /dev, but devtmpfs is shared if not);
#  - the host's mount table (mount point, type), hostname, loaded kernel modules,
#    a few sysctls systemd is known to write, leftover ssc-bed cgroups;
#  - processes whose comm is one of the ones a bed runs (systemd, dbus-daemon,
#    systemd-logind, systemd-journal, (sd-pam), unshare, ...).
#
# Snapshots live outside /tmp (under build/ of the repo) so taking them does
# not change what they record. CHECK_HOST_IGNORE: an extended regex of lines to
# ignore (e.g. files other tools on the machine create in /tmp meanwhile).
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/../.." && pwd)
dir="$repo/build/host-check"

listing() { # listing ROOT DEPTH
	[ -e "$1" ] || { echo "absent $1"; return 0; }
	find "$1" -mindepth 1 -maxdepth "$2" -printf '%y %m %u:%g %p\n' 2>/dev/null |
		while read -r type mode owner path; do
			if [ "$type" = f ]; then
				echo "$type $mode $owner $path size=$(stat -c %s "$path" 2>/dev/null || echo ?)"
			else
				echo "$type $mode $owner $path"
			fi
		done
	echo "root $(stat -c '%F %a %U:%G' "$1") $1"
}

state() {
	for d in /tmp /var/tmp /run /dev/shm /home /usr/local; do listing "$d" 2 | sed "s|^|fs |"; done
	for d in /var/log/journal /etc/systemd/system /var/lib/systemd; do listing "$d" 8 | sed "s|^|fs |"; done
	listing /dev 1 | sed "s|^|dev |"
	for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/machine-id /etc/hostname /etc/fstab; do
		if [ -e "$f" ]; then echo "sha256 $(sha256sum "$f")"; else echo "sha256 absent $f"; fi
	done
	awk '{ print "mount", $5, $(NF-2) }' /proc/self/mountinfo
	echo "hostname $(cat /proc/sys/kernel/hostname)"
	[ -r /proc/modules ] && cut -d" " -f1 /proc/modules | sed "s/^/module /"
	for s in kernel/core_pattern kernel/pid_max fs/nr_open fs/file-max kernel/printk kernel/sysrq \
		fs/inotify/max_user_instances net/ipv4/ip_forward kernel/random/boot_id; do
		echo "sysctl $s $(cat /proc/sys/$s 2>/dev/null | tr '\t\n' '  ')"
	done
	[ -d /proc/sys/fs/binfmt_misc ] && ls /proc/sys/fs/binfmt_misc 2>/dev/null | sed 's/^/binfmt /'
	find /sys/fs/cgroup -maxdepth 6 -type d -name 'ssc-bed-*' 2>/dev/null | sed 's/^/cgroup /'
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		case $comm in
		systemd | systemd-* | dbus-daemon | dbus-broker* | '(sd-pam)' | unshare | nsenter | agetty | ssc*)
			echo "process ${p#/proc/} $comm" ;;
		esac
	done
}

snapshot() {
	if [ -n "${CHECK_HOST_IGNORE:-}" ]; then
		state | grep -Ev -- "$CHECK_HOST_IGNORE" | sort
	else
		state | sort
	fi
}

cmd=${1:-}
case $cmd in
snapshot)
	out=${2:-$dir/before.txt}
	mkdir -p "$(dirname "$out")"
	snapshot >"$out.new"
	mv "$out.new" "$out"
	echo "host state recorded in $out ($(wc -l <"$out") lines)"
	;;
compare)
	before=${2:-$dir/before.txt}
	after=${before%.txt}.after.txt
	[ -f "$before" ] || { echo "no snapshot $before: run '$0 snapshot' first" >&2; exit 2; }
	snapshot >"$after"
	if diff -u "$before" "$after"; then
		echo "host unchanged ($before vs $after)"
	else
		echo "HOST CHANGED: see the diff above ($before vs $after)" >&2
		exit 1
	fi
	;;
show) snapshot ;;
*)
	sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
