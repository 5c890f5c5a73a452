#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/remote.sh - `remote` (two wormholed, one TLS 1.3 PSK + HTTP/2 link between them) against
# a stunnel4 TLS-PSK pair doing the same job, in the same run, on the same cores.
#
#   client -> :9000 [wormholed A] ==link :9999==> [wormholed B] -> backend :7001/:5201
#   client -> :9100 [stunnel client] ==TLS-PSK :9101==> [stunnel server] -> backend
#
# As root. Runs in a private network namespace (unshare --net) on its loopback; the proxies on
# core 0 (both daemons, or both stunnels), clients and backends on core 1. Prints a table.
# Needs: build/ (meson), stunnel4, iperf3, socat, python3, cc. Usage: bash bench/remote.sh [--quick]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build}
QUICK=${QUICK:-0}
[[ ${1:-} == --quick ]] && QUICK=1

NAME=remote.sh
# shellcheck source=hop-lib.sh
source "$HERE/hop-lib.sh"

# wormhole: A and B on core 0
"$WHC" keygen "$T/key" >/dev/null
remote_pair b 9999 a 9998 9000
WB=$RP_SERVER WA=$RP_CLIENT

stunnel_pair # SS, SC

declare -A R
measure() { # NAME PORT_ECHO PORT_IPERF PORT_HOLD PIDS...
	local name=$1 pe=$2 pi=$3 ph=$4
	shift 4
	local c0 c1 out gbps rate p0 p1 rtt
	# 1-byte RTT
	rtt=$(taskset -c 1 "$BT" rtt "$pe" 5000 | sed 's/.*p50_us=\([0-9.]*\).*/\1/')
	R[$name,rtt]=$rtt
	# one-stream throughput, CPU per GB
	bg 1 iperf3 -s -p 5201 -1 >/dev/null 2>&1
	wait_listen 5201
	c0=$(cpu "$@")
	out=$(taskset -c 1 iperf3 -c 127.0.0.1 -p "$pi" -t "$DUR" -J 2>/dev/null)
	c1=$(cpu "$@")
	gbps=$(python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out")
	local bytes
	bytes=$(python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["end"]["sum_received"]["bytes"])' <<<"$out")
	R[$name,gbps]=$gbps
	R[$name,cpugb]=$(python3 -c "print('%.2f' % (($c1-$c0)/$TCK / ($bytes/1e9)))")
	# new connections per second, CPU per connection
	c0=$(cpu "$@")
	out=$(taskset -c 1 python3 "$HERE/tools/connrate.py" "$pe" "$DUR" 32)
	c1=$(cpu "$@")
	rate=$(sed 's/.*rate=\([0-9]*\).*/\1/' <<<"$out")
	local n
	n=$(sed 's/conns=\([0-9]*\).*/\1/' <<<"$out")
	R[$name,rate]=$rate
	R[$name,cpuconn]=$(python3 -c "print('%.0f' % (($c1-$c0)/$TCK*1e6 / max($n,1)))")
	R[$name,fail]=$(sed 's/.*failed=//' <<<"$out")
	# PSS per idle connection at $HOLD held
	sleep 1
	p0=$(pss "$@")
	bg 1 "$BT" hold "$ph" "$HOLD" >"$T/hold-$name.out"
	local hp=$LAST
	for _ in $(seq 600); do grep -q READY "$T/hold-$name.out" && break; sleep 0.1; done
	sleep 1
	p1=$(pss "$@")
	R[$name,held]=$(grep -o 'ok=[0-9]*' "$T/hold-$name.out" || echo "ok=0")
	R[$name,pss]=$(python3 -c "print('%.1f' % (($p1-$p0)/$HOLD))")
	kill "$hp" 2>/dev/null; wait "$hp" 2>/dev/null || true
	sleep 1
}
measure wormhole 9000 9001 9002 "$WA" "$WB"
measure stunnel 9100 9101 9102 "$SC" "$SS"

exec 1>&3
printf '| | wormhole remote | stunnel4 pair | ratio |\n|---|---|---|---|\n'
row() { printf '| %s | %s | %s | %s |\n' "$1" "${R[wormhole,$2]}" "${R[stunnel,$2]}" "$(python3 -c "a,b=float('${R[wormhole,$2]}' or 0),float('${R[stunnel,$2]}' or 0); print('%.2fx' % (a/b) if b else '-')")"; }
row "one-stream throughput, Gbit/s" gbps
row "proxy CPU s/GB (both ends)" cpugb
row "new connections/s (1 byte echoed, 32 at a time)" rate
row "CPU µs per new connection (both ends)" cpuconn
row "PSS per idle connection, kB (both ends, $HOLD held)" pss
row "1-byte RTT p50, µs" rtt
echo "held: wormhole ${R[wormhole,held]} stunnel ${R[stunnel,held]}; failed conns: wormhole ${R[wormhole,fail]} stunnel ${R[stunnel,fail]}"
