#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/gateway.sh - the hop through a gateway (the home daemon dialed the link: --link, and the
# gateway reaches it as `remote home`) against a direct `remote` (the gateway dials the home
# daemon) and against a stunnel4 TLS-PSK pair doing the same hop, in the same run, same cores.
#
#   gateway: client -> :9000 [wormholed G] <==link dialed by H== [wormholed H --link] -> backend
#   direct:  client -> :9300 [wormholed G2] ==link :9997==> [wormholed H2] -> backend
#   stunnel: client -> :9100 [stunnel client] ==TLS-PSK :9101==> [stunnel server] -> backend
#
# "CPU per new connection on the gateway" counts the public side only (G, G2, stunnel client);
# "idle memory per published connection" is the PSS the gateway side grows by per held
# connection.
#
# As root. Runs in a private network namespace (unshare --net) on its loopback; the proxies on
# core 0 (both daemons, or both stunnels), clients and backends on core 1. Prints a table.
# Needs: build/ (meson), stunnel4, iperf3, socat, python3, cc. Usage: bash bench/gateway.sh [--quick]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build}
QUICK=${QUICK:-0}
[[ ${1:-} == --quick ]] && QUICK=1

NAME=gateway.sh
# shellcheck source=hop-lib.sh
source "$HERE/hop-lib.sh"

# wormhole through a gateway: G accepts, H dials it (--link) as "home"; both on core 0
"$WHC" keygen "$T/key" >/dev/null
whd g -K "$T/key" --peer-listen 127.0.0.1:9999
WG=$LAST
wait_listen 9999
whd h -K "$T/key" --name home --link 127.0.0.1:9999
WH=$LAST
for _ in $(seq 100); do "$WHC" -H "unix://$T/g.sock" list --json 2>/dev/null | grep -q '"name":"home"' && break; sleep 0.05; done
"$WHC" -H "unix://$T/g.sock" create url :9000 remote home tail url :7001 >/dev/null
"$WHC" -H "unix://$T/g.sock" create url :9001 remote home tail url :5201 >/dev/null
"$WHC" -H "unix://$T/g.sock" create url :9002 remote home tail url :7002 >/dev/null
# direct remote: G2 dials H2
remote_pair h2 9997 g2 9996 9300
WH2=$RP_SERVER WG2=$RP_CLIENT

stunnel_pair # SS, SC

declare -A R
measure() { # NAME PORT_ECHO PORT_IPERF PORT_HOLD GATEWAY_PID OTHER_PID
	local name=$1 pe=$2 pi=$3 ph=$4 gw=$5
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
	# new connections per second, CPU per connection (both ends, and the gateway alone)
	c0=$(cpu "$@")
	local g0 g1
	g0=$(cpu "$gw")
	out=$(taskset -c 1 python3 "$HERE/tools/connrate.py" "$pe" "$DUR" 32)
	c1=$(cpu "$@")
	g1=$(cpu "$gw")
	rate=$(sed 's/.*rate=\([0-9]*\).*/\1/' <<<"$out")
	local n
	n=$(sed 's/conns=\([0-9]*\).*/\1/' <<<"$out")
	R[$name,rate]=$rate
	R[$name,cpuconn]=$(python3 -c "print('%.0f' % (($c1-$c0)/$TCK*1e6 / max($n,1)))")
	R[$name,gwconn]=$(python3 -c "print('%.0f' % (($g1-$g0)/$TCK*1e6 / max($n,1)))")
	R[$name,fail]=$(sed 's/.*failed=//' <<<"$out")
	# PSS per idle connection at $HOLD held
	sleep 1
	p0=$(pss "$@")
	local q0 q1
	q0=$(pss "$gw")
	bg 1 "$BT" hold "$ph" "$HOLD" >"$T/hold-$name.out"
	local hp=$LAST
	for _ in $(seq 600); do grep -q READY "$T/hold-$name.out" && break; sleep 0.1; done
	sleep 1
	p1=$(pss "$@")
	q1=$(pss "$gw")
	R[$name,gwpss]=$(python3 -c "print('%.1f' % (($q1-$q0)/$HOLD))")
	R[$name,held]=$(grep -o 'ok=[0-9]*' "$T/hold-$name.out" || echo "ok=0")
	R[$name,pss]=$(python3 -c "print('%.1f' % (($p1-$p0)/$HOLD))")
	kill "$hp" 2>/dev/null; wait "$hp" 2>/dev/null || true
	sleep 1
}
measure gateway 9000 9001 9002 "$WG" "$WH"
measure direct 9300 9301 9302 "$WG2" "$WH2"
measure stunnel 9100 9101 9102 "$SC" "$SS"

exec 1>&3
printf '| | through a gateway (link dialed from home) | direct remote | stunnel4 pair |\n|---|---|---|---|\n'
row() { printf '| %s | %s | %s | %s |\n' "$1" "${R[gateway,$2]}" "${R[direct,$2]}" "${R[stunnel,$2]}"; }
row "one-stream throughput, Gbit/s" gbps
row "proxy CPU s/GB (both ends)" cpugb
row "new connections/s (1 byte echoed, 32 at a time)" rate
row "CPU µs per new connection, gateway side" gwconn
row "CPU µs per new connection, both ends" cpuconn
row "PSS per idle published connection, kB, gateway side ($HOLD held)" gwpss
row "PSS per idle connection, kB, both ends" pss
row "1-byte RTT p50, µs" rtt
echo "held: gateway ${R[gateway,held]} direct ${R[direct,held]} stunnel ${R[stunnel,held]}; failed conns: gateway ${R[gateway,fail]} direct ${R[direct,fail]} stunnel ${R[stunnel,fail]}"
