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
#
# Everything is copied, never linked, so installing from a normal user's clone
# with sudo is fine. Running it again replaces the files in place; --uninstall
# removes exactly what the manifest lists. --check-units only lists running ssc
# units whose file in /run/systemd/transient holds lines ssc never writes (a
# version before 0.2 let a caller plant them: SECURITY.md), exit 1 if any.
set -eu

prefix=/usr/local
uninstall=0
check_units=0
unitdir=
tmpfilesdir=
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
	--prefix=*) prefix=${1#--prefix=}; shift ;;
	--unitdir=*) unitdir=${1#--unitdir=}; shift ;;
	--tmpfilesdir=*) tmpfilesdir=${1#--tmpfilesdir=}; shift ;;
	--uninstall) uninstall=1; shift ;;
	--check-units) check_units=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
				if (key !~ /^(Description|Type|User|Group|UMask|WorkingDirectory|CollectMode|Slice|SyslogIdentifier|MemoryMax|MemorySwapMax|CPUQuota|NoNewPrivileges|PrivateTmp|EnvironmentFile|BindsTo|After)$/ ||
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
	: "${tmpfilesdir:=$prefix/lib/tmpfiles.d}" ;;
*)
	: "${unitdir:=/etc/systemd/system}"
	: "${tmpfilesdir:=/etc/tmpfiles.d}" ;;
esac

libdir=$prefix/lib/ssc
bindir=$prefix/bin
manifest=$libdir/MANIFEST
systemd_running() { [ -d /run/systemd/system ]; }

if [ "$uninstall" = 1 ]; then
	[ -f "$manifest" ] || die "nothing to uninstall: $manifest not found"
	# Stopped and disabled while its files are still there for systemctl to read.
	systemctl disable --now ssc-broker.socket >/dev/null 2>&1 || true
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

src=$(cd "$(dirname "$0")" && pwd)
cd "$src"
node=$(readlink -f "${SSC_NODE:-$(command -v node)}") || die "node not found"
[ "$(stat -c %u "$node")" = 0 ] || die "$node is not owned by root; ssc runs it as root"

# Build what is missing. The launcher has the library directory and node's
# path compiled in; rebuild it when they differ from this installation's.
[ -d node_modules ] || npm ci
want="ssc-launcher-config: libdir=$libdir node=$node;"
if [ ! -x build/Release/ssc-launcher ] || [ ! -x build/Release/ssc-tab ] || [ ! -x build/Release/ssc-exec ] || ! grep -qaF "$want" build/Release/ssc-launcher; then
	SSC_LIBDIR=$libdir SSC_NODE=$node npx --no-install node-gyp rebuild >/dev/null
fi
[ -f dist/ssc.js ] && [ -f dist/broker.js ] && [ -f dist/load.cjs ] && [ -f dist/make-code-cache.cjs ] || npm run build >/dev/null

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

# Directories this installation creates (not those that were there before), kept in the manifest
# across reinstalls so that --uninstall takes them away again.
created=""
[ -f "$manifest" ] && created=$(grep '^dir:' "$manifest" || true)
for d in "$bindir" "$libdir" "$unitdir" "$tmpfilesdir"; do
	while [ ! -d "$d" ]; do
		created="$created
dir:$d"
		d=$(dirname "$d")
	done
done
install -d -o root -g root -m 0755 "$bindir" "$libdir" "$unitdir" "$tmpfilesdir"
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
# The launcher runs NAME.js (the small loader), which runs NAME.bundle.js with
# NAME.cache: V8's code cache for it, made here by the node that will run it.
# V8 ties a cache to its source by length alone, so a cache is kept only beside
# the very bundle it was made from, and only while this node still takes it
# (V8's output differs from run to run: keeping it keeps a reinstall of the same
# files idempotent). The old cache goes before the bundle is replaced: an entry
# started in between compiles the bundle itself rather than run another one's code.
for n in ssc broker; do
	made="$libdir/$n.cache.ssc-made"
	if cmp -s "dist/$n.js" "$libdir/$n.bundle.js" 2>/dev/null && [ -f "$libdir/$n.cache" ] &&
		"$node" dist/make-code-cache.cjs --check "dist/$n.js" "$libdir/$n.cache" >/dev/null; then
		cp -- "$libdir/$n.cache" "$made"
	else
		"$node" dist/make-code-cache.cjs "dist/$n.js" "$made" || die "could not make the code cache for $n"
	fi
	rm -f -- "$libdir/$n.cache"
	put "dist/$n.js" "$libdir/$n.bundle.js" 0644
	put dist/load.cjs "$libdir/$n.js" 0644
	put "$made" "$libdir/$n.cache" 0644
	rm -f -- "$made"
done
for f in dist/*.LEGAL.txt; do [ -f "$f" ] && put "$f" "$libdir/$(basename "$f")" 0644; done
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
put build/Release/ssc-launcher "$bindir/ssc" 4755

{
	printf '%s' "$installed"
	printf '%s\n' "$created" | grep '^dir:' | awk '!seen[$0]++' || true
} >"$manifest.ssc-new"
chmod 0644 "$manifest.ssc-new"
mv -f -- "$manifest.ssc-new" "$manifest"

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
	systemctl enable --now ssc-broker.socket >/dev/null 2>&1 || die "could not enable ssc-broker.socket"
	systemctl stop ssc-broker.service 2>/dev/null || true
else
	systemctl enable ssc-broker.socket >/dev/null 2>&1 || echo "install.sh: could not enable ssc-broker.socket; run systemctl enable --now ssc-broker.socket once systemd is up" >&2
fi
echo "ssc installed: $bindir/ssc (node: $node)"
