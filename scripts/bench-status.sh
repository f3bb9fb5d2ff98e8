#!/bin/sh
# npm run bench's figures for ssc ps, ssc top and the notifier, run as root in
# the namespace test bed for USER (whose user manager runs): 20 apps of theirs,
# then `ssc ps` timed RUNS times (each takes a 100 ms CPU sample), `ssc top -d 2`
# on a terminal (script) with its CPU time read from /proc over WINDOW seconds
# after a warm-up, and the notifier's resident memory and CPU over the same
# window. Prints one JSON object.
set -eu
user=$1 runs=${2:-20} window=${3:-40}
uid=$(id -u "$user")
env="XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus"
as_user() { runuser -u "$user" -- env $env "$@"; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for i in $(seq 20); do as_user /usr/local/bin/ssc --no-tty sleep 600; done
ms=""
for i in $(seq "$runs"); do
	t0=$(date +%s%N)
	as_user /usr/local/bin/ssc ps >/dev/null
	t1=$(date +%s%N)
	ms="$ms$(((t1 - t0) / 1000000)) "
done
listed=$(as_user /usr/local/bin/ssc ps --json | grep -c '"unit"')

as_user script -qfec '/usr/local/bin/ssc top -d 2' /dev/null >/dev/null 2>&1 &
sleep 5
top=$(pgrep -u "$user" -n -f '/usr/local/lib/ssc/ssc.js')
notifier=$(pgrep -u "$user" -n -f '/usr/local/lib/ssc/notify.js')
top0=$(cpu_ticks "$top") n0=$(cpu_ticks "$notifier")
sleep "$window"
top1=$(cpu_ticks "$top") n1=$(cpu_ticks "$notifier")
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$notifier/status")
kill "$top"
wait || true
systemctl stop 'app-ssc-sleep@*' >/dev/null 2>&1 || true
printf '{"ps_ms":[%s],"listed":%s,"window_s":%s,"top_cpu_pct":%s,"notifier_cpu_pct":%s,"notifier_rss_kib":%s}\n' \
	"$(echo "$ms" | sed 's/ $//; s/ /,/g')" "$listed" "$window" \
	"$(awk -v a="$top0" -v b="$top1" -v t="$ticks" -v w="$window" 'BEGIN { printf "%.2f", (b - a) / t / w * 100 }')" \
	"$(awk -v a="$n0" -v b="$n1" -v t="$ticks" -v w="$window" 'BEGIN { printf "%.2f", (b - a) / t / w * 100 }')" "$rss"
