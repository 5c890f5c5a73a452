#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh: wormhole's own benchmark. Measures, in one run and side by side, `direct` (no
# proxy), `wormhole` (a url->url segment), `socat` (fork mode), `haproxy` (tcp mode, nbthread 1)
# and `systemd-socket-proxyd`: one-stream throughput (iperf3) and proxy CPU s/GB, new connections
# per second with latency and proxy CPU per connection (wrk + nginx, Connection: close),
# keep-alive requests per second and proxy CPU per request, 1-byte round trip, and memory and file
# descriptors per idle connection at 1000 and 9000 held connections. See bench/README.md.
#
# Usage: bash bench/run.sh [--quick] [--proxies "direct wormhole socat haproxy proxyd"]
#                          [--repeat N] [--perf] [--keep] [--markdown FILE] [--no-install]
#                          [--no-build] [--build DIR]
#   --quick      2 s runs, 5000 RTT samples, 1 repetition, 1000 held connections only
#   --repeat N   run the throughput, wrk and RTT tests N times (proxies interleaved) and report
#                the median (default 5, --quick 1); the idle-connection test runs once
#   --perf       also profile wormholed with perf during a keep-alive run and print hot spots
#   --keep       keep the temp dir (logs, wrk/iperf3 outputs, perf data)
#   --build DIR  benchmark the wormholed/wormhole of an existing build dir instead of building
#                build-bench (to compare two builds)
#
# Everything runs inside a private network namespace (unshare --net) on its own loopback, so no
# port of the machine is used and no non-loopback address is touched; the proxy runs on core 0,
# the load generators and backends on core 1. Every process is started by this script in its own
# temp dir and stopped by pid at the end.
set -euo pipefail
shopt -s execfail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")
BUILD=$SRC/build-bench

QUICK=0
REPEAT=
PERF=0
KEEP=0
INSTALL=1
DOBUILD=1
MARKDOWN=
PROXIES="direct wormhole socat haproxy proxyd"
ORIG_ARGS=("$@")
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) QUICK=1 ;;
	--perf) PERF=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--keep) KEEP=1 ;;
	--no-install) INSTALL=0 ;;
	--no-build) DOBUILD=0 ;;
	--proxies) PROXIES=$2; shift ;;
	--build) BUILD=$(realpath "$2"); DOBUILD=0; shift ;;
	--markdown) MARKDOWN=$2; shift ;;
	-h | --help) sed -n '3,26p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Stage 1 (in the machine's own network namespace): install, build, then re-enter privately.
# ---------------------------------------------------------------------------------------------
if [[ -z ${BENCH_INNER:-} ]]; then
	[[ $(id -u) == 0 ]] || { echo "run.sh: must run as root (netns, taskset, /proc of others)" >&2; exit 1; }
	if ((INSTALL)); then
		missing=()
		for pkg in iperf3 wrk nginx-light haproxy socat systemd util-linux iproute2 gcc meson ninja-build; do
			dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
		done
		# nginx-light or any other nginx flavour will do
		if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v nginx >/dev/null; then
			missing=("${missing[@]/nginx-light/}")
		fi
		if [[ -n ${missing[*]// /} ]]; then
			log "installing: ${missing[*]}"
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}
		fi
	fi

	T=$(mktemp -d /tmp/wormhole-bench.XXXXXX)
	export BENCH_TMP=$T
	cc -O2 -Wall -Wextra -o "$T/benchtool" "$HERE/tools/benchtool.c"

	if [[ " $PROXIES " == *" wormhole "* ]]; then
		built=0
		if ((DOBUILD)); then
			if [[ ! -f $BUILD/build.ninja ]]; then
				meson setup "$BUILD" "$SRC" --buildtype=release >"$T/meson.log" 2>&1 || true
			else
				meson configure "$BUILD" --buildtype=release >"$T/meson.log" 2>&1 || true
			fi
			ninja -C "$BUILD" >"$T/ninja.log" 2>&1 && built=1 || log "build failed, see $T/ninja.log"
		fi
		if [[ -x $BUILD/wormholed/wormholed && -x $BUILD/wormhole-cli/wormhole ]]; then
			((built)) || log "using the wormholed already in $BUILD"
		else
			log "no wormholed in $BUILD: benchmarking the anchors only"
			PROXIES=${PROXIES/wormhole/}
		fi
	fi
	export BENCH_PROXIES=$PROXIES
	exec unshare --net env BENCH_INNER=1 bash "$0" "${ORIG_ARGS[@]}"
fi

# ---------------------------------------------------------------------------------------------
# Stage 2: inside the private network namespace.
# ---------------------------------------------------------------------------------------------
T=$BENCH_TMP
PROXIES=$BENCH_PROXIES
BT=$T/benchtool
WHD=$BUILD/wormholed/wormholed
WHC=$BUILD/wormhole-cli/wormhole
CTL=$T/ctl.sock
TCK=$(getconf CLK_TCK)
RESULTS=$T/results.tsv
: >"$RESULTS"

ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
sysctl -qw net.ipv4.tcp_tw_reuse=1
sysctl -qw net.core.somaxconn=8192
sysctl -qw net.ipv4.tcp_max_syn_backlog=8192
# 9 000 held connections are 18 000 descriptors in the proxy: give every proxy room for them where
# the machine lets root raise the limit (wormholed's fair shares keep a quarter of its budget for
# other segments, so with RLIMIT_NOFILE 20 000 one segment holds at most ~7 300; bench/README.md)
ulimit -Hn 65536 2>/dev/null && ulimit -n 65536 2>/dev/null || true

if ((QUICK)); then
	DUR=2 RTT_N=5000 HOLD_NS="1000" REPEAT=${REPEAT:-1}
else
	DUR=5 RTT_N=20000 HOLD_NS="1000 9000" REPEAT=${REPEAT:-5}
fi
WRK_C=50

# Fixed ports, all below the ephemeral range (10000-65000): the namespace is ours alone.
P_IPERF=5201 P_NGINX=8080 P_ECHO=7001 P_HOLD=7002 P_PROXY=9000

STARTED=()
cleanup() {
	local rc=$?
	set +e
	for pid in "${STARTED[@]}"; do
		for p in $(tree_pids "$pid"); do kill "$p" 2>/dev/null; done
	done
	sleep 0.3
	for pid in "${STARTED[@]}"; do
		for p in $(tree_pids "$pid"); do kill -9 "$p" 2>/dev/null; done
	done
	wait 2>/dev/null
	if ((KEEP)) || ((rc != 0)); then
		log "logs kept in $T"
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A process and all its descendants (socat fork mode), by /proc/PID/task/*/children.
tree_pids() {
	local p=$1 c
	[[ -d /proc/$p ]] || return 0
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

# utime+stime+cutime+cstime (ticks) summed over the tree: reaped children land in cutime/cstime.
tree_cpu_ticks() {
	local p
	for p in $(tree_pids "$1"); do cat /proc/"$p"/stat 2>/dev/null; done |
		sed 's/.*) //' | awk '{ s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

tree_pss_kb() {
	local files=() p
	for p in $(tree_pids "$1"); do files+=("/proc/$p/smaps_rollup"); done
	awk '/^Pss:/ { s += $2 } END { print s + 0 }' "${files[@]}" 2>/dev/null
}

tree_fds() {
	local n=0 p
	for p in $(tree_pids "$1"); do n=$((n + $(ls /proc/"$p"/fd 2>/dev/null | wc -l))); done
	echo $n
}

wait_listen() { # PORT
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	log "nothing listens on port $1"
	return 1
}

# start BG_VAR CORE CMD...: start in the background on CORE, remember the pid.
start() {
	local var=$1 core=$2
	shift 2
	taskset -c "$core" "$@" &
	local pid=$!
	STARTED+=("$pid")
	printf -v "$var" '%s' "$pid"
}

stop_tree() { # PID
	local p pids
	pids=$(tree_pids "$1")
	[[ -n $pids ]] || return 0
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 40); do
		local alive=0
		for p in $pids; do [[ -d /proc/$p && $(awk '{print $3}' /proc/"$p"/stat 2>/dev/null) != Z ]] && alive=1; done
		((alive)) || break
		sleep 0.05
	done
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	wait "$1" 2>/dev/null || true
}

res() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; } # METRIC PROXY VALUE

# ---------------------------------------------------------------------------------------------
# Proxies: proxy_start NAME TARGET_PORT sets PROXY_PID and PROXY_PORT; proxy_stop undoes it.
# ---------------------------------------------------------------------------------------------
PROXY_PID=
PROXY_PORT=
WH_SEG=
proxy_start() {
	local name=$1 target=$2 lp=$P_PROXY
	PROXY_PID=
	PROXY_PORT=$lp
	case $name in
	direct)
		PROXY_PORT=$target
		return 0
		;;
	wormhole)
		rm -f "$CTL"
		rm -rf "$T/wh-state" && mkdir -p "$T/wh-state" "$T/wh-chains" # fresh; never the machine's
		start PROXY_PID 0 "$WHD" -H "unix://$CTL" --state "$T/wh-state" --chains "$T/wh-chains" --max-conns 10000 2>>"$T/wormholed.log"
		local i
		for i in $(seq 100); do "$WHC" -H "unix://$CTL" ping >/dev/null 2>&1 && break; sleep 0.05; done
		WH_SEG=$("$WHC" -H "unix://$CTL" create url ":$lp" tail url ":$target" | awk '{print $1}')
		[[ -n $WH_SEG ]] || { log "wormhole create failed"; return 1; }
		;;
	socat)
		start PROXY_PID 0 socat "TCP-LISTEN:$lp,bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
			"TCP:127.0.0.1:$target" 2>>"$T/socat.log"
		;;
	haproxy)
		cat >"$T/haproxy.cfg" <<-EOF
			global
			    nbthread 1
			    maxconn 9950
			defaults
			    mode tcp
			    timeout connect 5s
			    timeout client 1h
			    timeout server 1h
			frontend f
			    bind 127.0.0.1:$lp
			    maxconn 9950
			    default_backend b
			backend b
			    server s 127.0.0.1:$target maxconn 9950
		EOF
		start PROXY_PID 0 haproxy -db -f "$T/haproxy.cfg" 2>>"$T/haproxy.log"
		;;
	proxyd)
		start PROXY_PID 0 systemd-socket-activate -l "127.0.0.1:$lp" \
			/lib/systemd/systemd-socket-proxyd --connections-max=10000 "127.0.0.1:$target" \
			2>>"$T/proxyd.log"
		;;
	*)
		log "unknown proxy $name"
		return 1
		;;
	esac
	wait_listen "$lp" || return 1
	# One connection through it first: systemd-socket-activate execs the proxy on the first
	# connection, and every proxy should have done its lazy setup before we measure.
	if exec {pfd}<>"/dev/tcp/127.0.0.1/$lp"; then exec {pfd}>&-; else log "priming $name failed"; fi
	sleep 0.2
}

proxy_stop() {
	[[ -n $PROXY_PID ]] || return 0
	if [[ $1 == wormhole && -n $WH_SEG ]]; then
		"$WHC" -H "unix://$CTL" delete "$WH_SEG" >/dev/null 2>&1 || log "wormhole delete $WH_SEG failed"
		WH_SEG=
	fi
	stop_tree "$PROXY_PID"
	PROXY_PID=
}

cpu_s() { # PID -> CPU seconds of its tree so far
	if [[ -z $1 ]]; then echo 0; else echo "$(tree_cpu_ticks "$1") $TCK" | awk '{ printf "%.3f", $1 / $2 }'; fi
}

# ---------------------------------------------------------------------------------------------
# Backends, on core 1, for the whole run.
# ---------------------------------------------------------------------------------------------
mkdir -p "$T/nginx/www" "$T/nginx/logs"
head -c 100 /dev/zero | tr '\0' 'w' >"$T/nginx/www/f.txt"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections 10000; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path $T/nginx/tmp;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    server {
        listen 127.0.0.1:$P_NGINX backlog=4096;
        root $T/nginx/www;
    }
}
EOF
start NGINX_PID 1 nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log"
start IPERF_PID 1 iperf3 -s -p $P_IPERF >"$T/iperf3-server.log" 2>&1
start ECHO_PID 1 "$BT" echo $P_ECHO
wait_listen $P_NGINX
wait_listen $P_IPERF
wait_listen $P_ECHO

# ---------------------------------------------------------------------------------------------
# Tests. Each test starts a fresh proxy instance, so no test inherits another's state.
# ---------------------------------------------------------------------------------------------
test_throughput() {
	local p=$1 c0 c1 out
	proxy_start "$p" $P_IPERF || { log "$p did not start"; proxy_stop "$p"; return 0; }
	c0=$(cpu_s "$PROXY_PID")
	out=$T/iperf-$p.json
	if taskset -c 1 iperf3 -c 127.0.0.1 -p "$PROXY_PORT" -t "$DUR" -J >"$out" 2>&1; then
		c1=$(cpu_s "$PROXY_PID")
		read -r gbps bytes < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(d["bits_per_second"]/1e9, d["bytes"])' "$out")
		res tput_gbps "$p" "$gbps"
		[[ $p == direct ]] || res cpu_s_per_gb "$p" "$(awk -v a="$c0" -v b="$c1" -v n="$bytes" 'BEGIN { printf "%.3f", (b - a) / (n / 1e9) }')"
		log "throughput $p: $gbps Gbit/s, proxy CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}') s"
	else
		log "iperf3 through $p failed: $(tail -c 300 "$out")"
	fi
	proxy_stop "$p"
}

# wrk_run LABEL PROXY EXTRA_ARGS...: sets WRK_RPS WRK_REQ WRK_P50 WRK_P99 (µs) WRK_ERR
wrk_run() {
	local label=$1 p=$2
	shift 2
	local out=$T/wrk-$label-$p.txt
	taskset -c 1 wrk -t1 -c$WRK_C -d"${DUR}s" --latency "$@" "http://127.0.0.1:$PROXY_PORT/f.txt" >"$out" 2>&1 || true
	WRK_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	WRK_REQ=$(awk '/requests in/ { print $1 }' "$out")
	WRK_P50=$(awk '$1 == "50%" { print $2 }' "$out" | to_us)
	WRK_P99=$(awk '$1 == "99%" { print $2 }' "$out" | to_us)
	WRK_ERR=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $NF }' "$out" | awk '{ s += $1 } END { print s + 0 }')
	[[ -n $WRK_RPS && -n $WRK_REQ ]] || { log "wrk $label through $p failed: $(tail -c 300 "$out")"; return 1; }
}
to_us() { awk '{ v = $1 + 0; if ($1 ~ /us$/) f = 1; else if ($1 ~ /ms$/) f = 1000; else if ($1 ~ /s$/) f = 1e6; else f = 1; printf "%.0f\n", v * f }'; }

test_wrk() { # PROXY close|keepalive
	local p=$1 kind=$2 c0 c1 args=()
	[[ $kind == close ]] && args=(-H 'Connection: close')
	proxy_start "$p" $P_NGINX || { log "$p did not start"; proxy_stop "$p"; return 0; }
	c0=$(cpu_s "$PROXY_PID")
	if wrk_run "$kind" "$p" "${args[@]}"; then
		c1=$(cpu_s "$PROXY_PID")
		local cpu_us
		cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$WRK_REQ" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
		if [[ $kind == close ]]; then
			res conn_rate "$p" "$WRK_RPS"; res conn_p50_us "$p" "$WRK_P50"; res conn_p99_us "$p" "$WRK_P99"
			res conn_errors "$p" "$WRK_ERR"
			[[ $p == direct ]] || res cpu_us_per_conn "$p" "$cpu_us"
		else
			res ka_rate "$p" "$WRK_RPS"; res ka_p50_us "$p" "$WRK_P50"; res ka_p99_us "$p" "$WRK_P99"
			res ka_errors "$p" "$WRK_ERR"
			[[ $p == direct ]] || res cpu_us_per_req "$p" "$cpu_us"
		fi
		log "wrk $kind $p: $WRK_RPS req/s p50 ${WRK_P50}us p99 ${WRK_P99}us errors $WRK_ERR, proxy CPU ${cpu_us}us/req"
	fi
	proxy_stop "$p"
}

test_perf() { # KIND (close|keepalive): profile wormholed during a wrk run
	local kind=$1 args=()
	command -v perf >/dev/null || { log "perf not installed, no profile"; return 0; }
	[[ $kind == close ]] && args=(-H 'Connection: close')
	proxy_start wormhole $P_NGINX || { log "wormhole did not start"; proxy_stop wormhole; return 0; }
	perf record -g -o "$T/perf-$kind.data" -p "$PROXY_PID" -- sleep "$DUR" >/dev/null 2>&1 &
	local perf_pid=$!
	wrk_run "perf-$kind" wormhole "${args[@]}" || true
	wait $perf_pid || true
	perf report -i "$T/perf-$kind.data" --no-children --stdio --percent-limit 1.5 2>/dev/null |
		head -150 >"$T/perf-$kind.txt" || true
	perf report -i "$T/perf-$kind.data" --no-children --stdio --sort symbol -g none --percent-limit 0.7 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -40 >"$T/perf-$kind-flat.txt" || true
	perf report -i "$T/perf-$kind.data" --children --stdio --sort symbol -g none --percent-limit 3 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -40 >"$T/perf-$kind-children.txt" || true
	log "perf profile of wormholed ($kind, $WRK_RPS req/s): $T/perf-$kind*.txt"
	proxy_stop wormhole
}

test_rtt() {
	local p=$1 out
	proxy_start "$p" $P_ECHO || { log "$p did not start"; proxy_stop "$p"; return 0; }
	if out=$(taskset -c 1 "$BT" rtt "$PROXY_PORT" "$RTT_N" 2>&1); then
		res rtt_p50_us "$p" "$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$out")"
		res rtt_p99_us "$p" "$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$out")"
		log "rtt $p: $out"
	else
		log "rtt through $p failed: $out"
	fi
	proxy_stop "$p"
}

test_hold() { # PROXY N
	local p=$1 n=$2 hs hc pss0 fd0 pss1 fd1 line alive
	[[ $p == direct ]] && return 0
	start hs 1 "$BT" holdsrv $P_HOLD
	wait_listen $P_HOLD
	proxy_start "$p" $P_HOLD || { log "$p did not start"; proxy_stop "$p"; stop_tree "$hs"; return 0; }
	pss0=$(tree_pss_kb "$PROXY_PID")
	fd0=$(tree_fds "$PROXY_PID")
	start hc 1 "$BT" hold "$PROXY_PORT" "$n" >"$T/hold-$p-$n.txt" 2>&1
	for _ in $(seq 1800); do
		grep -q READY "$T/hold-$p-$n.txt" && break
		[[ -d /proc/$hc ]] || break
		sleep 0.1
	done
	sleep 1
	pss1=$(tree_pss_kb "$PROXY_PID")
	fd1=$(tree_fds "$PROXY_PID")
	kill -USR1 "$hc" 2>/dev/null || true
	sleep 0.5
	line=$(grep READY "$T/hold-$p-$n.txt" || echo "READY ok=0 failed=$n")
	alive=$(awk '/^ALIVE/ { print $2 }' "$T/hold-$p-$n.txt")
	local ok failed
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
	((ok > 0)) || ok=1
	res "pss_kb_per_conn_$n" "$p" "$(awk -v a="$pss0" -v b="$pss1" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / n }')"
	res "fds_per_conn_$n" "$p" "$(awk -v a="$fd0" -v b="$fd1" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / n }')"
	res "failed_$n" "$p" "$((failed + ok - ${alive:-$ok}))"
	log "hold $n via $p: $line alive=${alive:-?} pss ${pss0}->${pss1} kB fds ${fd0}->${fd1}"
	stop_tree "$hc"
	proxy_stop "$p"
	stop_tree "$hs"
}

log "proxies: $PROXIES; duration ${DUR}s; repetitions $REPEAT; tmp $T"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPEAT"); do
	((REPEAT == 1)) || log "repetition $rep of $REPEAT"
	for p in $PROXIES; do test_throughput "$p"; done
	for p in $PROXIES; do test_wrk "$p" close; done
	for p in $PROXIES; do test_wrk "$p" keepalive; done
	for p in $PROXIES; do test_rtt "$p"; done
done
for n in $HOLD_NS; do
	for p in $PROXIES; do
		if [[ $p == socat && $n -gt 1000 ]]; then
			log "skipping socat with $n held connections ($n forked children)"
			continue
		fi
		test_hold "$p" "$n"
	done
done
if ((PERF)) && [[ " $PROXIES " == *" wormhole "* ]]; then
	test_perf keepalive
	test_perf close
fi

log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), duration ${DUR}s, median of $REPEAT"
python3 "$HERE/tools/table.py" "$RESULTS" ${MARKDOWN:+--markdown "$MARKDOWN"} --proxies "$PROXIES"
if ((PERF)); then
	for kind in keepalive close; do
		[[ -s $T/perf-$kind-flat.txt ]] || continue
		echo
		echo "wormholed hot spots, wrk $kind (perf, self time):"
		cat "$T/perf-$kind-flat.txt"
	done
	KEEP=1
fi
