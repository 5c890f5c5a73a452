# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# bench/hop-lib.sh - what bench/remote.sh and bench/gateway.sh share: the re-exec into a private
# network namespace, the helpers, the backends. Source it after setting HERE, BUILD, QUICK and
# NAME (the script's name for messages) in a script run as root.
#
# First pass (outside): checks the tools, builds benchtool into a temp dir and re-execs the script
# under `unshare --net`. Second pass (inside): sets T, BT, WHD, WHC, TCK, DUR, HOLD, brings up
# lo, sends stdout to fd 3 (the table) and the rest to $T/bench.err, starts the backends on core
# 1 (benchtool echo :7001, iperf3 :5201, benchtool holdsrv :7002) and defines:
#   bg CORE CMD...          start CMD pinned to CORE, its pid in $LAST, stopped at exit
#   whd NAME ARGS...        wormholed NAME on core 0 (control socket $T/NAME.sock, its own state
#                           and chains directories, log $T/NAME.log), pid in $LAST
#   wait_listen PORT        until something listens on TCP PORT
#   cpu PID...              user+system ticks of the processes
#   pss PID...              their proportional set size in kB
#   remote_pair S SP C CP PORT  daemons S (peer port SP) and C (CP); C gets url :PORT, :PORT+1,
#                           :PORT+2 remote S tail url :7001 / :5201 / :7002; pids in RP_SERVER, RP_CLIENT
#   stunnel_pair            the stunnel4 pair to compare with (pids in SS, SC)

if [[ -z ${BENCH_INNER:-} ]]; then
	[[ $(id -u) == 0 ]] || { echo "$NAME: run as root" >&2; exit 1; }
	for c in stunnel4 iperf3 socat python3 cc taskset; do
		command -v $c >/dev/null || { echo "$NAME: $c missing (scripts/deps.sh)" >&2; exit 1; }
	done
	T=$(mktemp -d "/tmp/wormhole-${NAME%.sh}-bench.XXXXXX")
	cc -O2 -o "$T/benchtool" "$HERE/tools/benchtool.c"
	exec unshare --net env BENCH_INNER=1 BENCH_TMP="$T" QUICK="$QUICK" BUILD="$BUILD" bash "$0"
fi

T=$BENCH_TMP
BT=$T/benchtool
WHD=$BUILD/wormholed/wormholed
WHC=$BUILD/wormhole-cli/wormhole
TCK=$(getconf CLK_TCK)
if ((QUICK)); then DUR=3 HOLD=1000; else DUR=8 HOLD=5000; fi
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=8192
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
exec 3>&1 >/dev/null 2>"$T/bench.err"
bg() { local core=$1; shift; taskset -c "$core" "$@" & PIDS+=($!); LAST=$!; }
whd() {
	local n=$1
	shift
	mkdir -p "$T/$n.state" "$T/$n.chains" # never the machine's /var/lib/wormhole
	bg 0 "$WHD" -H "unix://$T/$n.sock" --state "$T/$n.state" --chains "$T/$n.chains" "$@" 2>"$T/$n.log"
}
wait_listen() { for _ in $(seq 200); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done; echo "nothing on :$1" >&2; return 1; }
cpu() { local s=0 p; for p in "$@"; do s=$((s + $(sed 's/.*) //' /proc/$p/stat | awk '{print $12+$13}'))); done; echo $s; }
pss() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup))); done; echo $s; }

# backends, core 1
bg 1 "$BT" echo 7001
bg 1 iperf3 -s -p 5201 -1 --daemon >/dev/null 2>&1 || true
bg 1 "$BT" holdsrv 7002
wait_listen 7001; wait_listen 7002

# stunnel_pair: the stunnel4 pair both benchmarks compare against: a client and a server, TLS 1.3
# PSK with $T/key (stunnel uses the TLS 1.2-style PSK callbacks, which OpenSSL runs as TLS 1.3
# too), on core 0; client :9100/:9101/:9102 -> server :9200/:9201/:9202 -> echo :7001, iperf3
# :5201, holdsrv :7002. Their pids in SS (server) and SC (client).
stunnel_pair() {
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
}

remote_pair() { # SERVER SERVER_PORT CLIENT CLIENT_PORT FIRST_PORT (see above)
	local p=$5
	whd "$1" -K "$T/key" --peer-listen "127.0.0.1:$2"
	RP_SERVER=$LAST
	whd "$3" -K "$T/key" --peer-listen "127.0.0.1:$4"
	RP_CLIENT=$LAST
	wait_listen "$2"
	for _ in $(seq 100); do "$WHC" -H "unix://$T/$3.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
	for t in 7001 5201 7002; do
		"$WHC" -H "unix://$T/$3.sock" create url ":$p" remote "127.0.0.1:$2" tail url ":$t" >/dev/null
		p=$((p + 1))
	done
}
