#!/bin/sh
# Install ssc: sudo ./install.sh [--prefix DIR] [--uninstall] [--check-units]
#
#   PREFIX/bin/ssc              the setuid-root launcher (root:root 4755)
#   PREFIX/lib/ssc/             the bundled front end and broker (each with its
#                               loader and V8 code cache), the native addons,
#                               root-owned and not group/other-writable
#   UNITDIR/ssc.slice           the slice every contained program runs in
#   UNITDIR/ssc-broker.socket   the root-only socket the launcher connects to,
#   UNITDIR/ssc-broker.service  and the root broker systemd starts for it
#   TMPFILESDIR/ssc.conf        sweeps leftovers of interrupted starts in /run/ssc
#   USERUNITDIR/ssc-notify.service  the user unit ssc starts for desktop notifications
#                               when a cap bites (PREFIX/lib/systemd/user, or
#                               /etc/systemd/user for other prefixes; --userunitdir=)
#
# Only root, and with sudo the user who ran it, may be able to write this tree
# or any directory above it; anything else is refused before anything changes.
# Through sudo the build runs as that user, never as root: root only copies.
# Everything is copied, never linked. Running it again replaces the files in
# place; --uninstall removes exactly what the manifest lists. --check-units
# only lists running ssc units whose file in /run/systemd/transient holds lines
# ssc never writes (a version before 0.2 let a caller plant them: SECURITY.md),
# exit 1 if any.
set -eu

prefix=/usr/local
uninstall=0
check_units=0
unitdir=
userunitdir=
tmpfilesdir=
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
	--prefix=*) prefix=${1#--prefix=}; shift ;;
	--unitdir=*) unitdir=${1#--unitdir=}; shift ;;
	--userunitdir=*) userunitdir=${1#--userunitdir=}; shift ;;
	--tmpfilesdir=*) tmpfilesdir=${1#--tmpfilesdir=}; shift ;;
	--uninstall) uninstall=1; shift ;;
	--check-units) check_units=1; shift ;;
	-h | --help) sed -n '2,/^set -eu$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

die() { echo "install.sh: $*" >&2; exit 1; }

# The transient unit files of ssc's units that hold a line ssc never writes.
# Before 0.2 a newline, carriage return or other control character in the
# caller's working directory or program name became a line of its own there,
# which systemd reads on the next daemon-reload (it ends a line at \n, \r and
# NUL, awk only at \n: so any control character, a NUL byte, a trailing
# backslash, a key ssc does not set in a system unit, or one it sets written more
# often than ssc writes it, is reported).
planted_units() {
	for f in /run/systemd/transient/app-ssc-*; do
		[ -f "$f" ] || continue
		if [ "$(tr -d '\000' <"$f" | wc -c)" != "$(wc -c <"$f")" ]; then
			printf '%s:\n    (a NUL byte)\n' "$f"
			continue
		fi
		awk '
			/[\001-\010\011\013-\037\177]/ { bad = bad "\n    " $0; next }
			/^(#.*)?$/ || /^\[(Unit|Service|Scope)\]$/ { next }
			/\\$/ { bad = bad "\n    " $0; next }
			{
				eq = index($0, "="); key = eq ? substr($0, 1, eq - 1) : $0; value = substr($0, eq + 1)
				if (key ~ /^ExecStart(Ex)?$/) { if (++exec > 2 || (value != "" && ++command > 1)) bad = bad "\n    " $0; next }
				if (key !~ /^(Description|Type|User|Group|UMask|WorkingDirectory|CollectMode|Slice|SyslogIdentifier|MemoryMax|MemorySwapMax|CPUQuota|OOMPolicy|NoNewPrivileges|PrivateTmp|EnvironmentFile|BindsTo|After|StopPropagatedFrom)$/ ||
					++n[key] > (key == "EnvironmentFile" ? 2 : 1))
					bad = bad "\n    " $0
			}
			END { if (bad != "") printf "%s:%s\n", FILENAME, bad }' "$f"
	done
}
# Brokers of the version being replaced may still be running (at most about a
# minute: 30 s to "start", 30 s for the job), and could still plant a line after
# the check: wait for them first. Their slot files name their PIDs.
wait_for_old_brokers() {
	pids=$(for s in /run/ssc/active-*; do if [ -e "$s" ]; then echo "${s##*-}"; fi; done)
	[ -n "$pids" ] || return 0
	i=0
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && [ "$i" -lt 70 ]; do sleep 1; i=$((i + 1)); done
	done
}
if [ "$check_units" = 1 ]; then
	wait_for_old_brokers
	found=$(planted_units)
	[ -z "$found" ] && { echo "install.sh: no ssc unit file holds a line ssc does not write"; exit 0; }
	printf 'install.sh: these ssc unit files hold lines ssc never writes (see SECURITY.md, "Units planted before 0.2"):\n%s\n' "$found" | cat -v
	exit 1
fi

[ "$(id -u)" = 0 ] || die "must run as root (the launcher is installed setuid root)"
case "$prefix" in /*) ;; *) die "--prefix must be absolute" ;; esac
# The helper's path goes into unit files as it is (src/plan/unit-file.ts): nothing systemd 252 would split or escape.
case "$prefix" in *[[:space:]\\\"\'\$\;]* | *[[:cntrl:]]*) die "--prefix must not hold blanks, quotes, backslashes, \$ or ;" ;; esac
prefix=${prefix%/}

# systemd looks for units and tmpfiles.d in /usr/local/lib and /usr/lib, not under other prefixes.
case "$prefix" in
/usr | /usr/local)
	: "${unitdir:=$prefix/lib/systemd/system}"
	: "${userunitdir:=$prefix/lib/systemd/user}"
	: "${tmpfilesdir:=$prefix/lib/tmpfiles.d}" ;;
*)
	: "${unitdir:=/etc/systemd/system}"
	: "${userunitdir:=/etc/systemd/user}"
	: "${tmpfilesdir:=/etc/tmpfiles.d}" ;;
esac

libdir=$prefix/lib/ssc
bindir=$prefix/bin
manifest=$libdir/MANIFEST
systemd_running() { [ -d /run/systemd/system ]; }

if [ "$uninstall" = 1 ]; then
	[ -f "$manifest" ] || die "nothing to uninstall: $manifest not found"
	# Stopped and disabled while its files are still there for systemctl to read.
	systemctl --no-reload disable --now ssc-broker.socket >/dev/null 2>&1 || true
	if systemd_running; then systemctl stop ssc-broker.service 2>/dev/null || true; fi
	while IFS= read -r f; do
		case "$f" in "" | dir:*) ;; *) rm -f -- "$f" ;; esac
	done <"$manifest"
	dirs=$(sed -n 's/^dir://p' "$manifest" | sort -r)
	rm -f -- "$manifest"
	rmdir -- "$libdir" 2>/dev/null || true
	# The directories the installation created, deepest first, if nothing else lives there now.
	printf '%s\n' "$dirs" | while IFS= read -r d; do
		[ -n "$d" ] && { rmdir -- "$d" 2>/dev/null || true; }
	done
	if systemd_running; then systemctl daemon-reload || true; fi
	echo "ssc uninstalled from $prefix"
	exit 0
fi

src=$(cd "$(dirname "$0")" && pwd -P)
cd "$src"
node=$(readlink -f "${SSC_NODE:-$(command -v node)}") || die "node not found"
[ "$(stat -c %u "$node")" = 0 ] || die "$node is not owned by root; ssc runs it as root"

# The launcher refuses to run unless every ancestor is root-owned and not
# group/other-writable: say so now rather than at the first run.
d=$prefix
while [ "$d" != / ] && [ -n "$d" ]; do
	if [ -e "$d" ]; then
		[ "$(stat -c %u "$d")" = 0 ] || die "$d is not owned by root"
		case "$(stat -c %A "$d")" in ?????w????|????????w?) die "$d is group- or other-writable" ;; esac
	fi
	d=$(dirname "$d")
done

# Who builds. Through sudo (SUDO_UID set and not 0) the user who ran it: their
# clone's npm scripts, node-gyp, the bundler and the code cache maker never run
# as root; root only checks and copies what they built. Otherwise root itself,
# from a tree only root can write (CI). SUDO_UID is believed as it is: only
# root gets here, and root could install anything anyway. An id without a user
# database entry (never from sudo; root set it by hand) builds with no
# supplementary groups and HOME=/nonexistent.
builder_uid=0
builder=root
if [ -n "${SUDO_UID:-}" ] && [ "$SUDO_UID" != 0 ]; then
	case "$SUDO_UID" in *[!0-9]*) die "SUDO_UID is not a user id: $SUDO_UID" ;; esac
	command -v setpriv >/dev/null || die "setpriv (util-linux) not found: the build runs as the user who ran sudo"
	builder_uid=$SUDO_UID
	if entry=$(getent passwd "$SUDO_UID"); then
		builder=${entry%%:*}
		builder_gid=$(echo "$entry" | cut -d: -f4)
		builder_home=$(echo "$entry" | cut -d: -f6)
		builder_groups=--init-groups
	else
		builder=$SUDO_UID builder_gid=$SUDO_UID builder_home=/nonexistent builder_groups=--clear-groups
	fi
	builder_gid=${SUDO_GID:-$builder_gid}
	case "$builder_gid" in '' | *[!0-9]*) die "SUDO_GID is not a group id: $builder_gid" ;; esac
fi

# Only root and the builder may be able to write the tree, anything in it, and
# every directory above it; a sticky directory (/tmp) counts as writable by
# others: anyone may create a name there that is free, and a clone's own name
# is free again once it is gone. Checked before the build and again after it.
# Not walked: .git and .vm-cache (the VM tests' cache), which neither the build
# nor the install reads. A symbolic link must lead to a place inside the tree.
# refuse PATH WHY: the one line a refusal is; nothing has changed yet.
refuse() {
	if [ "$builder_uid" = 0 ]; then who=root; else who="root and $builder"; fi
	die "$1 $2: only $who may be able to write the tree a setuid-root program is built from, or a directory above it${3:+ ($3)}"
}
# check_writers PATH: PATH itself (not what a link leads to) is root's or the
# builder's and not group/other-writable (an ACL's entries show in the group bits).
check_writers() {
	uid=$(stat -c %u -- "$1") || die "cannot read $1"
	mode=$(stat -c %A -- "$1")
	owner=$(stat -c %U -- "$1")
	if [ "$uid" != 0 ] && [ "$uid" != "$builder_uid" ]; then
		[ "$owner" != UNKNOWN ] || owner="uid $uid"
		if [ "$builder_uid" = 0 ]; then refuse "$1" "belongs to $owner" "run it through sudo as $owner to build as $owner"; fi
		refuse "$1" "belongs to $owner"
	fi
	case "$mode" in
	????????w[tT]) refuse "$1" "is writable by others ($mode: sticky, but anyone may create a name that is free there)" ;;
	????????w?) refuse "$1" "is writable by others ($mode)" ;;
	?????w????) refuse "$1" "is group-writable ($mode)" ;;
	esac
}
# The first path under the tree (./x) as an absolute one.
in_tree() { if [ "$1" = . ]; then echo "$src"; else echo "$src/${1#./}"; fi; }
check_tree() {
	bad=$(find . \( -path ./.git -o -path ./.vm-cache \) -prune -o \
		! -type l \( ! -uid 0 ! -uid "$builder_uid" -o -perm /022 \) -print -quit) || die "cannot read all of $src"
	[ -z "$bad" ] || { check_writers "$(in_tree "$bad")"; die "$(in_tree "$bad") changed while it was checked"; }
	bad=$(find . \( -path ./.git -o -path ./.vm-cache \) -prune -o -type l -exec sh -c '
		for l; do
			t=$(readlink -m -- "$l")
			case "$t" in "$0"/.git | "$0"/.git/* | "$0"/.vm-cache | "$0"/.vm-cache/*) ;; "$0" | "$0"/*) continue ;; esac
			printf "%s\n" "$l"
			exit 0
		done' "$src" {} + | head -n 1)
	[ -z "$bad" ] || die "$(in_tree "$bad") is a symbolic link out of the tree (to $(readlink -m -- "$bad")): copy what it leads to into the tree"
}
d=$(dirname "$src")
while :; do
	check_writers "$d"
	[ "$d" != / ] || break
	d=$(dirname "$d")
done
check_tree

# as_builder CMD...: CMD as the builder, in the tree. Through sudo: that user
# with the user database's groups, in a clean environment (their HOME, so npm's
# cache and configuration are theirs; a fixed PATH with node's directory first).
as_builder() {
	if [ "$builder_uid" = 0 ]; then
		"$@"
		return
	fi
	setpriv --reuid="$builder_uid" --regid="$builder_gid" "$builder_groups" -- \
		env -i HOME="$builder_home" USER="$builder" LOGNAME="$builder" LANG=C.UTF-8 \
		PATH="${node%/*}:/usr/local/bin:/usr/bin:/bin" "$@"
}
# builder_replaces PATH...: through sudo, the builder owns each PATH that exists
# (the tree itself: only the directory) and all under it, which a build step is
# about to replace: an earlier install.sh built as root in a user's clone.
builder_replaces() {
	[ "$builder_uid" != 0 ] || return 0
	for p; do
		[ -e "$p" ] || continue
		if [ "$p" = . ]; then bad=$(find . -maxdepth 0 ! -uid "$builder_uid" -print); else bad=$(find "$p" ! -uid "$builder_uid" -print -quit); fi
		[ -z "$bad" ] || die "$(in_tree "$bad") belongs to $(stat -c %U -- "$bad"), but the build runs as $builder (through sudo) and must replace it: remove it, or give it to $builder (chown -R)"
	done
}

if [ "$builder_uid" != 0 ] && ! as_builder test -r package.json; then
	die "$builder cannot read $src, and the build runs as $builder (through sudo): install from a clone $builder can read"
fi

# Build what is missing. The launcher has the library directory and node's
# path compiled in; rebuild it when they differ from this installation's.
umask 022
if [ ! -d node_modules ]; then
	builder_replaces . build dist
	as_builder npm ci
fi
want="ssc-launcher-config: libdir=$libdir node=$node;"
if [ ! -x build/Release/ssc-launcher ] || [ ! -x build/Release/ssc-tab ] || [ ! -x build/Release/ssc-exec ] || ! grep -qaF "$want" build/Release/ssc-launcher; then
	builder_replaces . build
	as_builder env SSC_LIBDIR="$libdir" SSC_NODE="$node" npx --no-install node-gyp rebuild >/dev/null
fi
if ! { [ -f dist/ssc.js ] && [ -f dist/broker.js ] && [ -f dist/load.cjs ] && [ -f dist/make-code-cache.cjs ]; }; then
	builder_replaces . dist
	as_builder npm run build >/dev/null
fi

# What the build made: root copies only files it has checked, never through a link.
check_tree
for f in dist/ssc.js dist/broker.js dist/notify.js dist/load.cjs dist/make-code-cache.cjs dist/*.LEGAL.txt build/Release/ssc_native.node \
	node_modules/usocket/build/Release/uwrap.node build/Release/ssc-tab build/Release/ssc-exec build/Release/ssc-launcher \
	systemd/ssc.slice systemd/ssc-tmpfiles.conf systemd/ssc-notify.service.in; do
	[ "$f" != 'dist/*.LEGAL.txt' ] || continue
	if [ ! -f "$f" ] || [ -L "$f" ]; then die "$src/$f is missing or not a regular file"; fi
done

# Directories this installation creates (not those that were there before), kept in the manifest
# across reinstalls so that --uninstall takes them away again.
created=""
[ -f "$manifest" ] && created=$(grep '^dir:' "$manifest" || true)
for d in "$bindir" "$libdir" "$unitdir" "$userunitdir" "$tmpfilesdir"; do
	while [ ! -d "$d" ]; do
		created="$created
dir:$d"
		d=$(dirname "$d")
	done
done
install -d -o root -g root -m 0755 "$bindir" "$libdir" "$unitdir" "$userunitdir" "$tmpfilesdir"
installed=""
# put SRC DEST MODE: copy to a temporary name beside DEST, set owner and mode, then rename over.
put() {
	tmp="$2.ssc-new.$$"
	cp -- "$1" "$tmp"
	chown root:root "$tmp"
	chmod "$3" "$tmp"
	mv -f -- "$tmp" "$2"
	installed="$installed$2
"
}
# write_manifest: what this installation put in place so far, for --uninstall (again at the end).
write_manifest() {
	{
		printf '%s' "$installed"
		printf '%s\n' "$created" | grep '^dir:' | awk '!seen[$0]++' || true
	} >"$manifest.ssc-new"
	chmod 0644 "$manifest.ssc-new"
	mv -f -- "$manifest.ssc-new" "$manifest"
}
# The launcher runs NAME.js (the small loader), which runs NAME.bundle.js with
# NAME.cache: V8's code cache for it, made here by the node that will run it.
# V8 ties a cache to its source by length alone, so a cache is kept only beside
# the very bundle it was made from, and only while this node still takes it
# (V8's output differs from run to run: keeping it keeps a reinstall of the same
# files idempotent). The old cache goes before the bundle is replaced: an entry
# started in between compiles the bundle itself rather than run another one's code.
# The builder runs the cache maker too (it is part of the tree), and writes into
# a file root made for it in the root-owned library directory: it can fill that
# file, not put anything else in its place.
# V8 takes a cache only under the flags it was made with: the broker's node runs
# with the V8 flags its unit's ExecStart= gives it (one place: the unit template).
broker_flags=$(sed -n 's|^ExecStart=@NODE@ \(.*\) @LIBDIR@/broker\.js$|\1|p' systemd/ssc-broker.service.in)
for n in ssc broker; do
	flags=
	[ "$n" = broker ] && flags=$broker_flags
	made="$libdir/$n.cache.ssc-made"
	rm -f -- "$made"
	# shellcheck disable=SC2086 # $flags: V8 flags, one word each
	if cmp -s "dist/$n.js" "$libdir/$n.bundle.js" 2>/dev/null && [ -f "$libdir/$n.cache" ] &&
		as_builder "$node" $flags dist/make-code-cache.cjs --check "dist/$n.js" "$libdir/$n.cache" >/dev/null; then
		cp -- "$libdir/$n.cache" "$made"
	else
		: >"$made"
		chown "$builder_uid" "$made"
		# shellcheck disable=SC2086
		as_builder "$node" $flags dist/make-code-cache.cjs "dist/$n.js" "$made" || die "could not make the code cache for $n"
	fi
	rm -f -- "$libdir/$n.cache"
	put "dist/$n.js" "$libdir/$n.bundle.js" 0644
	put dist/load.cjs "$libdir/$n.js" 0644
	put "$made" "$libdir/$n.cache" 0644
	rm -f -- "$made"
done
for f in dist/*.LEGAL.txt; do [ -f "$f" ] && [ ! -L "$f" ] && put "$f" "$libdir/$(basename "$f")" 0644; done
put build/Release/ssc_native.node "$libdir/ssc_native.node" 0644
put node_modules/usocket/build/Release/uwrap.node "$libdir/uwrap.node" 0644
put build/Release/ssc-tab "$libdir/ssc-tab" 0755
put build/Release/ssc-exec "$libdir/ssc-exec" 0755
printf '{ "type": "commonjs" }\n' >"$libdir/package.json.ssc-new"
put "$libdir/package.json.ssc-new" "$libdir/package.json" 0644
rm -f "$libdir/package.json.ssc-new"
put systemd/ssc.slice "$unitdir/ssc.slice" 0644
put systemd/ssc-tmpfiles.conf "$tmpfilesdir/ssc.conf" 0644
put systemd/ssc-broker.socket "$unitdir/ssc-broker.socket" 0644
sed -e "s|@NODE@|$node|g" -e "s|@LIBDIR@|$libdir|g" systemd/ssc-broker.service.in >"$libdir/ssc-broker.service.ssc-new"
put "$libdir/ssc-broker.service.ssc-new" "$unitdir/ssc-broker.service" 0644
rm -f "$libdir/ssc-broker.service.ssc-new"
# The notifier: a user unit each user's manager starts when ssc asks it to (never enabled).
put dist/notify.js "$libdir/notify.js" 0644
sed -e "s|@NODE@|$node|g" -e "s|@LIBDIR@|$libdir|g" systemd/ssc-notify.service.in >"$libdir/ssc-notify.service.ssc-new"
put "$libdir/ssc-notify.service.ssc-new" "$userunitdir/ssc-notify.service" 0644
rm -f "$libdir/ssc-notify.service.ssc-new"

write_manifest

wait_for_old_brokers
planted=$(planted_units)
if [ -n "$planted" ]; then
	# A reload would make systemd read the planted lines: leave that to an administrator who has looked.
	printf 'install.sh: WARNING: these ssc unit files hold lines ssc never writes, which systemd reads at its next daemon-reload (SECURITY.md, "Units planted before 0.2"); not reloading:\n%s\n' "$planted" | cat -v >&2
elif systemd_running; then
	systemctl daemon-reload 2>/dev/null || echo "install.sh: systemctl daemon-reload failed; run it once systemd is up" >&2
fi
if systemd_running; then systemd-tmpfiles --create "$tmpfilesdir/ssc.conf" 2>/dev/null || true; fi
# The broker of the version being replaced goes; the next launch starts this one.
if systemd_running; then
	# --no-reload: enable would otherwise reload systemd, which must not happen while planted units
	# exist (above); when there are none, it has just reloaded.
	systemctl --no-reload enable ssc-broker.socket >/dev/null 2>&1 || die "could not enable ssc-broker.socket"
	systemctl start ssc-broker.socket || die "could not start ssc-broker.socket"
	systemctl stop ssc-broker.service 2>/dev/null || true
else
	systemctl --no-reload enable ssc-broker.socket >/dev/null 2>&1 || echo "install.sh: could not enable ssc-broker.socket; run systemctl enable --now ssc-broker.socket once systemd is up" >&2
fi
# The launcher last: one that connects to the broker's socket is in place only once the socket
# is there (an upgrade from 0.2, whose launcher forked its own broker, has none before this).
put build/Release/ssc-launcher "$bindir/ssc" 4755
write_manifest
echo "ssc installed: $bindir/ssc (node: $node)"
