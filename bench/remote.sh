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
whd b -K "$T/key" --peer-listen 127.0.0.1:9999
WB=$LAST
whd a -K "$T/key" --peer-listen 127.0.0.1:9998
WA=$LAST
wait_listen 9999
for _ in $(seq 100); do "$WHC" -H "unix://$T/a.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$WHC" -H "unix://$T/a.sock" create url :9000 remote 127.0.0.1:9999 tail url :7001 >/dev/null
"$WHC" -H "unix://$T/a.sock" create url :9001 remote 127.0.0.1:9999 tail url :5201 >/dev/null
"$WHC" -H "unix://$T/a.sock" create url :9002 remote 127.0.0.1:9999 tail url :7002 >/dev/null

# stunnel: a client and a server, TLS 1.3 PSK (stunnel uses the TLS 1.2-style PSK callbacks,
# which OpenSSL runs as TLS 1.3 too), on core 0
printf 'wormhole:%s\n' "$(cat "$T/key")" >"$T/psk.txt"
chmod 600 "$T/psk.txt"
svc() { # NAME ACCEPT CONNECT CLIENT
	printf '[%s]\nclient = %s\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\nPSKsecrets = %s\nsslVersionMin = TLSv1.3\n' \
		"$1" "$4" "$2" "$3" "$T/psk.txt"
}
for side in client server; do
	printf 'foreground = yes\npid =\ndebug = 3\noutput = %s\n' "$T/stunnel-$side.log" >"$T/stunnel-$side.conf"
done
{ svc e 9100 9200 yes; svc i 9101 9201 yes; svc h 9102 9202 yes; } >>"$T/stunnel-client.conf"
{ svc e 9200 7001 no; svc i 9201 5201 no; svc h 9202 7002 no; } >>"$T/stunnel-server.conf"
bg 0 stunnel4 "$T/stunnel-server.conf" 2>/dev/null
SS=$LAST
bg 0 stunnel4 "$T/stunnel-client.conf" 2>/dev/null
SC=$LAST
wait_listen 9100; wait_listen 9200

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
