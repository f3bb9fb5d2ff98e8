#!/bin/bash
# Boot a private systemd as PID 1 of fresh namespaces: the "namespace" test bed.
#
# Usage (as root, from test/bed/namespace.ts or by hand):
#
#   SSC_BED_USERS='sscalice 2001 2001 /home/sscalice sscshared:2100
#                  sscbob 2002 2002 /home/sscbob sscshared:2100' \
#   scripts/bed/boot.sh supervise
#
# `supervise` runs on the host, in the foreground, for the life of the bed:
#  1. creates the bed's cgroup (ssc-bed-<id>, under this process's cgroup in
#     every hierarchy) so the bed's systemd owns a subtree and never sees the
#     host's processes or cgroups;
#  2. starts `unshare --pid --fork --kill-child --mount --uts --ipc [--net]`
#     running this script's `pid1` stage (which joins the bed cgroup, then
#     unshares the cgroup namespace and runs the `boot` stage);
#  3. prints `SSC_BED_PID=<host pid of the bed's systemd>` on stdout once
#     systemd runs, then waits for the bed to end;
#  4. kills the bed if its stdin reaches EOF (the process that started it died)
#     or if it gets SIGTERM/SIGINT/SIGHUP;
#  5. removes the bed's cgroups and prints `SSC_BED_EXIT=<status>`.
# Stop the bed cleanly with `nsenter -t PID -m -p -C -u -i -n systemctl exit 0`.
#
# The `boot` stage builds the bed's filesystem view without writing to the
# host: the root is an overlay of the host's / with its writes on a tmpfs;
# /run, /tmp, /var/tmp, /home, /usr/local, /dev are fresh tmpfs; /proc is a
# new proc with /proc/sys read-only; /sys is read-only with the bed's own
# cgroup mounts; the repository checkout is bind-mounted read-only at its host
# path. Test users are added to the bed's /etc/passwd etc.; units that would
# touch the host's kernel-global state are masked; /etc/systemd/system is
# emptied so the host's enabled units stay out. Then systemd is exec'd with
# container=ssc-bed and a reduced capability bounding set (no module loading,
# clock setting, kexec/reboot, raw I/O, syslog, accounting, LSM admin).
#
# Environment:
#   SSC_BED_USERS     test users, one per line: NAME UID GID HOME [GROUP:GID ...] (required)
#   SSC_BED_ID        name suffix for the cgroups and the container (default: PID)
#   SSC_BED_REPO      repository checkout to expose (default: this script's repo)
#   SSC_BED_INSTALL   install script that must exist (default: $SSC_BED_REPO/install.sh;
#                     "none" to boot without ssc)
#   SSC_BED_NET       private (default: own network namespace with lo) or host
set -euo pipefail
export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin

self=$(readlink -f "$0")
stage=${1:-}
SSC_BED_ID=${SSC_BED_ID:-$$}
SSC_BED_REPO=${SSC_BED_REPO:-$(cd "$(dirname "$self")/../.." && pwd)}
SSC_BED_INSTALL=${SSC_BED_INSTALL:-$SSC_BED_REPO/install.sh}
SSC_BED_NET=${SSC_BED_NET:-private}
export SSC_BED_ID SSC_BED_REPO SSC_BED_INSTALL SSC_BED_NET

# Capabilities nothing in the bed may have: they act on the host kernel, not
# on anything a namespace can contain.
DROP_CAPS=-sys_module,-sys_rawio,-sys_time,-wake_alarm,-sys_boot,-syslog,-mac_admin,-mac_override,-sys_pacct,-sys_tty_config

# Units masked inside the bed (symlinks to /dev/null in the bed's
# /run/systemd/system), and why:
MASKED_UNITS=(
	# kernel-global settings: sysctls, binfmt_misc, modules, clock, entropy
	systemd-sysctl.service systemd-binfmt.service
	proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
	systemd-modules-load.service kmod-static-nodes.service modprobe@.service
	systemd-timesyncd.service systemd-time-wait-sync.service systemd-random-seed.service
	# devices and kernel filesystems are the host's: udev, debugfs, tracefs, configfs, fusectl, hugetlbfs, pstore
	systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
	systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service
	sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
	sys-fs-fuse-connections.mount dev-hugepages.mount systemd-pstore.service
	# disks, partitions, TPM, file systems, swap, hibernation
	systemd-remount-fs.service systemd-repart.service systemd-pcrphase.service
	systemd-pcrphase-sysinit.service systemd-pcrphase-initrd.service systemd-fsck-root.service
	systemd-fsck@.service systemd-quotacheck.service quotaon.service systemd-hibernate-resume@.service
	# first-boot and persistent-state writers (/etc, /var; the overlay would hide their writes, but
	# they make the bed depend on the host's history)
	systemd-firstboot.service systemd-machine-id-commit.service systemd-sysusers.service
	ldconfig.service systemd-journal-catalog-update.service systemd-update-done.service
	systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service
	# the audit subsystem is global
	systemd-journald-audit.socket
	# consoles and terminals: the bed has none
	getty@.service serial-getty@.service console-getty.service container-getty@.service
	autovt@.service getty-static.service systemd-ask-password-console.path
	systemd-ask-password-wall.path
	# networking and the host's own services and timers
	systemd-networkd.service systemd-networkd.socket systemd-network-generator.service
	systemd-networkd-wait-online.service postgresql.service postgresql@.service
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
	e2scrub_reap.service fstrim.timer man-db.timer systemd-tmpfiles-clean.timer
)

die() {
	echo "ssc-bed: $*" >&2
	exit 1
}
log() { echo "ssc-bed: $*" >&2; }

# This process's cgroup directory in every hierarchy mounted under /sys/fs/cgroup.
own_cgroup_dirs() {
	awk '
		FNR == NR {
			i = index($0, ":"); rest = substr($0, i + 1)
			j = index(rest, ":"); cg[substr(rest, 1, j - 1)] = substr(rest, j + 1)
			next
		}
		{
			for (k = 7; k <= NF && $k != "-"; k++) ;
			fstype = $(k + 1); nopts = split($(k + 3), opts, ","); root = $4; mp = $5
			if (mp !~ "^/sys/fs/cgroup/") next
			key = "-"
			if (fstype == "cgroup2") key = ""
			else if (fstype == "cgroup") {
				for (c in cg) {
					if (c == "") continue
					n = split(c, want, ","); ok = 1
					for (m = 1; m <= n; m++) {
						found = 0
						for (q = 1; q <= nopts; q++) if (opts[q] == want[m]) found = 1
						if (!found) ok = 0
					}
					if (ok) key = c
				}
			}
			if (key == "-" || !(key in cg) || (key in done)) next
			done[key] = 1
			p = cg[key]
			if (root != "/") { if (index(p, root) != 1) next; p = substr(p, length(root) + 1) }
			sub("/$", "", p)
			print mp p
		}' /proc/self/cgroup /proc/self/mountinfo
}

# ----------------------------------------------------------------------------
# supervise: on the host
# ----------------------------------------------------------------------------
supervise() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	[ -n "${SSC_BED_USERS:-}" ] || die "SSC_BED_USERS is not set (the test users, from test/bed/users.ts)"
	[ -d "$SSC_BED_REPO" ] || die "repository $SSC_BED_REPO not found"
	if [ "$SSC_BED_INSTALL" != none ] && [ ! -f "$SSC_BED_INSTALL" ]; then
		die "install script $SSC_BED_INSTALL does not exist: the bed installs ssc with the project's install.sh, run from the repository root. Write it (or set SSC_BED_INSTALL)."
	fi
	for tool in unshare nsenter setpriv mount pivot_root awk; do
		command -v "$tool" >/dev/null || die "$tool not found"
	done
	[ -x /lib/systemd/systemd ] || die "/lib/systemd/systemd not found"
	grep -qw overlay /proc/filesystems || die "the kernel has no overlay filesystem (needed for the bed's root)"

	trap '' PIPE
	local dirs=() d bed
	mapfile -t dirs < <(own_cgroup_dirs)
	[ ${#dirs[@]} -gt 0 ] || die "no cgroup hierarchies found under /sys/fs/cgroup"
	BED_CGROUPS=()
	for d in "${dirs[@]}"; do
		bed="$d/ssc-bed-$SSC_BED_ID"
		mkdir "$bed" || die "cannot create cgroup $bed"
		BED_CGROUPS+=("$bed")
		if [ -f "$d/cpuset.cpus" ]; then
			cat "$d/cpuset.cpus" >"$bed/cpuset.cpus"
			cat "$d/cpuset.mems" >"$bed/cpuset.mems"
		fi
		if [ -f "$bed/devices.deny" ]; then
			# Only the device nodes a bed has in its /dev (plus fuse, tun): nothing
			# in the bed can open the host's disks, even with a mknod'ed node.
			echo a >"$bed/devices.deny"
			for rule in 'c 1:3 rwm' 'c 1:5 rwm' 'c 1:7 rwm' 'c 1:8 rwm' 'c 1:9 rwm' 'c 5:0 rwm' \
				'c 5:2 rwm' 'c 136:* rwm' 'c 10:229 rwm' 'c 10:200 rwm'; do
				echo "$rule" >"$bed/devices.allow"
			done
		fi
	done
	printf 'SSC_BED_CGROUPS=%s\n' "$(
		IFS=:
		echo "${BED_CGROUPS[*]}"
	)"
	export SSC_BED_CGROUP_DIRS
	SSC_BED_CGROUP_DIRS=$(printf '%s\n' "${BED_CGROUPS[@]}")

	local ns=(--pid --fork --kill-child=KILL --mount --uts --ipc --propagation private)
	[ "$SSC_BED_NET" = host ] || ns+=(--net)
	# setpriv --pdeathsig: if this supervisor dies, unshare dies, and
	# --kill-child makes the bed's PID 1 (hence the whole bed) die with it.
	setpriv --pdeathsig KILL -- unshare "${ns[@]}" -- "$self" pid1 </dev/null >&2 &
	UNSHARE_PID=$!
	BED_PID=

	kill_bed() {
		[ -n "$BED_PID" ] && kill -KILL "$BED_PID" 2>/dev/null
		kill -KILL "$UNSHARE_PID" 2>/dev/null
		return 0
	}
	trap 'log "signal: killing the bed"; kill_bed' TERM INT HUP

	# Watchdog: our stdin is a pipe from the process that started the bed.
	# EOF means it is gone (or asks us to stop): kill the bed.
	exec 3<&0
	(
		trap - TERM INT HUP
		while IFS= read -r -u 3 line; do :; done
		kill -KILL "$UNSHARE_PID" 2>/dev/null
		# the bed's PID 1 dies with unshare (--kill-child); be sure anyway
		for c in $(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null); do kill -KILL "$c"; done
	) </dev/null &
	WATCHDOG_PID=$!
	exec 3<&-

	# Wait until the unshare'd child has exec'd systemd.
	local child exe start=$SECONDS
	while kill -0 "$UNSHARE_PID" 2>/dev/null; do
		child=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null || true)
		child=${child%% *}
		if [ -n "$child" ]; then
			exe=$(readlink "/proc/$child/exe" 2>/dev/null || true)
			if [ "$exe" = /usr/lib/systemd/systemd ] || [ "$exe" = /lib/systemd/systemd ]; then
				BED_PID=$child
				log "$(date +%T.%N) systemd runs as PID $BED_PID"
				echo "SSC_BED_PID=$BED_PID" || true
				break
			fi
		fi
		if [ $((SECONDS - start)) -gt 60 ]; then
			log "systemd did not start within 60 s"
			kill_bed
			break
		fi
		sleep 0.02
	done

	local rc=0
	while :; do
		wait "$UNSHARE_PID" && rc=0 || rc=$?
		# wait returns >128 when interrupted by a trapped signal: wait again
		kill -0 "$UNSHARE_PID" 2>/dev/null || break
	done
	log "$(date +%T.%N) the bed ended ($rc)"
	kill "$WATCHDOG_PID" 2>/dev/null || true
	wait "$WATCHDOG_PID" 2>/dev/null || true
	remove_cgroups
	log "$(date +%T.%N) cgroups removed"
	echo "SSC_BED_EXIT=$rc" || true
	exit "$rc"
}

remove_cgroups() {
	local bed i
	for bed in "${BED_CGROUPS[@]}"; do
		[ -d "$bed" ] || continue
		for i in $(seq 1 100); do
			# deepest first; the processes are gone, the kernel may still be releasing them
			find "$bed" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ -d "$bed" ] || break
			sleep 0.05
		done
		[ -d "$bed" ] && log "could not remove cgroup $bed"
	done
	return 0
}

# ----------------------------------------------------------------------------
# pid1: PID 1 of the new pid namespace, still in the host's cgroup namespace
# ----------------------------------------------------------------------------
pid1() {
	local d
	while IFS= read -r d; do
		[ -n "$d" ] || continue
		# "0" is the writing process itself (a pid would be read in this pid namespace)
		echo 0 >"$d/cgroup.procs"
	done <<<"$SSC_BED_CGROUP_DIRS"
	exec unshare --cgroup -- "$self" boot
}

# ----------------------------------------------------------------------------
# boot: PID 1 in all the new namespaces; build the root and exec systemd
# ----------------------------------------------------------------------------
boot() {
	[ $$ = 1 ] || die "boot stage must be PID 1 of a new pid namespace"
	mount --make-rprivate /

	# Staging tmpfs for the overlay's writable layer (hides the host's /run here).
	# -n (no utab): until this tmpfs is on, /run is the host's, and libmount
	# would create /run/mount there for its utab. Every later mount writes its
	# utab into this tmpfs.
	mount -n -t tmpfs -o mode=0755,nosuid,nodev ssc-bed-stage /run
	local S=/run/ssc-bed R=/run/ssc-bed/root
	mkdir -p $S/upper $S/work $R
	mount -t overlay -o lowerdir=/,upperdir=$S/upper,workdir=$S/work ssc-bed-root $R

	# /proc: this pid namespace's, kernel tunables read-only.
	mount -t proc -o nosuid,nodev,noexec proc $R/proc
	local p
	for p in sys sysrq-trigger; do
		[ -e "$R/proc/$p" ] || continue
		mount --bind "$R/proc/$p" "$R/proc/$p"
		mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/$p"
	done

	# /sys: read-only (this also turns off udev & co.), with the bed's cgroups.
	mount --bind /sys $R/sys
	mount -o remount,bind,ro,nosuid,nodev,noexec $R/sys
	mount -t tmpfs -o mode=0755,nosuid,nodev,noexec ssc-bed-cgroup $R/sys/fs/cgroup
	local fstype superopts mp opts o
	while read -r mp fstype superopts; do
		opts=
		for o in ${superopts//,/ }; do
			case $o in rw | ro | release_agent=*) ;; *) opts+=${opts:+,}$o ;; esac
		done
		mkdir -p "$R$mp"
		# mounted from inside the cgroup namespace: the root is the bed's cgroup
		mount -t "$fstype" -o "nosuid,nodev,noexec${opts:+,$opts}" cgroup "$R$mp"
	done < <(awk '{ for (k = 7; $k != "-"; k++) ; if ($5 ~ "^/sys/fs/cgroup/" && ($(k+1) == "cgroup" || $(k+1) == "cgroup2")) print $5, $(k+1), $(k+3) }' /proc/self/mountinfo)
	mount -o remount,ro,nosuid,nodev,noexec,mode=0755 ssc-bed-cgroup $R/sys/fs/cgroup

	# /dev: private; only harmless nodes.
	mount -t tmpfs -o mode=0755,nosuid,size=4m,nr_inodes=64k ssc-bed-dev $R/dev
	local n
	for n in 'null 1 3' 'zero 1 5' 'full 1 7' 'random 1 8' 'urandom 1 9' 'tty 5 0'; do
		set -- $n
		mknod -m 0666 "$R/dev/$1" c "$2" "$3"
	done
	mkdir -m 0755 $R/dev/pts $R/dev/net
	mknod -m 0666 $R/dev/fuse c 10 229
	mknod -m 0666 $R/dev/net/tun c 10 200
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts $R/dev/pts
	ln -s pts/ptmx $R/dev/ptmx
	mkdir -m 1777 $R/dev/shm
	mount -t tmpfs -o mode=1777,nosuid,nodev ssc-bed-shm $R/dev/shm
	mkdir -m 0755 $R/dev/mqueue
	ln -s /proc/self/fd $R/dev/fd
	ln -s /proc/self/fd/0 $R/dev/stdin
	ln -s /proc/self/fd/1 $R/dev/stdout
	ln -s /proc/self/fd/2 $R/dev/stderr
	# No console: systemd only opens it if it is a terminal, and logs to the
	# bed's journal (`journalctl -b` inside) instead.
	mknod -m 0600 $R/dev/console c 1 3

	# Fresh volatile directories.
	mount -t tmpfs -o mode=0755,nosuid,nodev ssc-bed-run $R/run
	mount -t tmpfs -o mode=1777,nosuid,nodev ssc-bed-tmp $R/tmp
	mount -t tmpfs -o mode=1777,nosuid,nodev ssc-bed-var-tmp $R/var/tmp
	mount -t tmpfs -o mode=0755,nodev ssc-bed-home $R/home
	# /usr/local: where install.sh puts ssc (setuid launcher: no nosuid here).
	mount -t tmpfs -o mode=0755 ssc-bed-usr-local $R/usr/local
	for d in bin etc include lib lib/systemd lib/systemd/system lib/tmpfiles.d sbin share src; do
		install -d -o root -g root -m 0755 "$R/usr/local/$d"
	done

	# The repository, live and read-only.
	mkdir -p "$R$SSC_BED_REPO"
	mount --bind "$SSC_BED_REPO" "$R$SSC_BED_REPO"
	mount -o remount,bind,ro "$R$SSC_BED_REPO"

	setup_etc "$R"
	setup_units "$R"

	hostname ssc-bed
	[ "$SSC_BED_NET" = host ] || ip link set lo up

	mkdir $R/.ssc-bed-oldroot
	cd $R
	pivot_root . .ssc-bed-oldroot
	cd /
	umount -l /.ssc-bed-oldroot
	rmdir /.ssc-bed-oldroot

	# A booted machine's systemd has a high hard limit for open files (services
	# get 1024:524288); raise the inherited one if this host lets us.
	ulimit -Hn 524288 2>/dev/null || true
	ulimit -Sn 1024

	exec env -i container=ssc-bed LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		setpriv --bounding-set="$DROP_CAPS" -- \
		/lib/systemd/systemd --system --unit=ssc-bed.target --log-target=journal --log-color=no --show-status=no
}

setup_etc() {
	local R=$1 name uid gid home groups g gname ggid
	# writes land in the overlay's tmpfs layer, never in the host's /etc
	rm -rf "$R/etc/systemd/system"
	mkdir -p "$R/etc/systemd/system"
	echo '# ssc test bed: no mounts' >"$R/etc/fstab"
	rm -f "$R/etc/crypttab"
	echo ssc-bed >"$R/etc/hostname"

	declare -A members=() gids=()
	while read -r name uid gid home groups; do
		[ -n "$name" ] || continue
		for g in $groups; do
			gname=${g%%:*}
			ggid=${g#*:}
			gids[$gname]=$ggid
			members[$gname]=${members[$gname]:+${members[$gname]},}$name
		done
		grep -q "^$name:" "$R/etc/passwd" && die "user $name already exists on this host"
		echo "$name:x:$uid:$gid:ssc test user:$home:/bin/bash" >>"$R/etc/passwd"
		echo "$name:!:19000:0:99999:7:::" >>"$R/etc/shadow"
		echo "$name:x:$gid:" >>"$R/etc/group"
		echo "$name:!::" >>"$R/etc/gshadow"
		mkdir -p "$R$home"
		cp -rT /etc/skel "$R$home"
		chown -R "$uid:$gid" "$R$home"
		chmod 0700 "$R$home"
	done <<<"$SSC_BED_USERS"
	for gname in "${!gids[@]}"; do
		echo "$gname:x:${gids[$gname]}:${members[$gname]}" >>"$R/etc/group"
		echo "$gname:!::${members[$gname]}" >>"$R/etc/gshadow"
	done
}

setup_units() {
	local R=$1 u g
	local dir=$R/run/systemd/system
	mkdir -p "$dir" "$R/run/systemd/system-generators"
	cat >"$dir/ssc-bed.target" <<-'EOF'
		[Unit]
		Description=ssc test bed
		Requires=dbus.socket
		Wants=basic.target dbus.service systemd-logind.service systemd-user-sessions.service
		After=basic.target dbus.socket dbus.service systemd-logind.service systemd-user-sessions.service
		AllowIsolate=yes
	EOF
	for u in "${MASKED_UNITS[@]}"; do
		ln -s /dev/null "$dir/$u"
	done
	# No generators: no fstab/crypttab/getty/sysv/gpt-auto/postgresql units.
	for g in /usr/lib/systemd/system-generators/* /lib/systemd/system-generators/*; do
		[ -e "$g" ] || continue
		ln -sf /dev/null "$R/run/systemd/system-generators/${g##*/}"
	done
}

case $stage in
supervise) supervise ;;
pid1) pid1 ;;
boot) boot ;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self" >&2
	exit 2
	;;
esac
