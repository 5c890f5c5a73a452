#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/sni.sh: the proxy's CPU per new connection with SNI routing against a plain url->url
# segment (issue 12's target: at most 1.2x). Both segments get the same connections: a real
# ClientHello (openssl s_client, server name a.example) as the first bytes, the backend's 3-byte
# answer, close (bench/tools/snitool.c; no TLS crypto, which the proxy never does anyway).
#
#   plain:  url :8443 tail url :9001
#   sni:    url :8444 tail sni a.example url :9001 tail sni '*.b.example' url :9002 tail url :9003
#
# Usage: bash bench/sni.sh [--seconds N] [--repeat N] [--procs N] [--build DIR]
#
# As root. Runs inside a private network namespace (unshare --net), on its own loopback; the
# proxy on core 0, backends and load on core 1; a fresh wormholed per run, plain and sni
# interleaved; proxy CPU from /proc (utime + stime) over the load, divided by the connections.
# Prints each run and the medians. Every process is started here and stopped by pid.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")
BUILD=$SRC/build-bench
SECS=5 REPEAT=5 PROCS=4
ORIG_ARGS=("$@")
while [[ $# -gt 0 ]]; do
	case $1 in
	--seconds) SECS=$2; shift ;;
	--repeat) REPEAT=$2; shift ;;
	--procs) PROCS=$2; shift ;;
	--build) BUILD=$(realpath "$2"); shift ;;
	-h | --help) sed -n '3,18p' "$0"; exit 0 ;;
	*) echo "sni.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
log() { printf '[sni %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ -z ${BENCH_INNER:-} ]]; then
	[[ $(id -u) == 0 ]] || { echo "sni.sh: must run as root" >&2; exit 1; }
	if [[ ! -x $BUILD/wormholed/wormholed ]]; then
		log "building $BUILD (release)"
		meson setup "$BUILD" "$SRC" --buildtype=release >/dev/null
	fi
	ninja -C "$BUILD" >/dev/null
	exec unshare --net env BENCH_INNER=1 BUILD="$BUILD" bash "$0" "${ORIG_ARGS[@]}"
fi

T=$(mktemp -d /tmp/wh-bench-sni.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
sysctl -qw net.ipv4.tcp_tw_reuse=1
sysctl -qw net.core.somaxconn=8192
cc -O2 -Wall -Wextra -o "$T/snitool" "$HERE/tools/snitool.c"
HELLO=$SRC/tests/unit/data/tls-hello/tls13-a.hex
TCK=$(getconf CLK_TCK)

for port in 9001 9002 9003; do
	taskset -c 1 "$T/snitool" serve "$port" &
	PIDS+=($!)
done

cpu_s() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }

# run MODE: one fresh daemon, one segment, SECS of load; prints "conns cpu_us_per_conn"
run() {
	local mode=$1 sock=$T/wh.sock pid port c0 c1 out ok bad
	rm -rf "$T/state-$mode" && mkdir -p "$T/state-$mode" "$T/chains" # a fresh daemon each run
	taskset -c 0 "$BUILD/wormholed/wormholed" -H "unix://$sock" --state "$T/state-$mode" --chains "$T/chains" >"$T/wh-$mode.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do "$BUILD/wormhole-cli/wormhole" -H "unix://$sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
	if [[ $mode == plain ]]; then
		port=8443
		"$BUILD/wormhole-cli/wormhole" -H "unix://$sock" create url :$port tail url :9001 >/dev/null
	else
		port=8444
		"$BUILD/wormhole-cli/wormhole" -H "unix://$sock" create url :$port tail sni a.example \
			url :9001 tail sni '*.b.example' url :9002 tail url :9003 >/dev/null
	fi
	c0=$(cpu_s "$pid")
	out=$(taskset -c 1 "$T/snitool" load "$port" "$SECS" "$PROCS" "$HELLO")
	c1=$(cpu_s "$pid")
	read -r ok bad <<<"$out"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	[[ $bad -eq 0 ]] || log "$mode: $bad failed connections"
	# every connection must have gone to a.example's backend (9001) in both modes
	awk -v a="$c0" -v b="$c1" -v n="$ok" -v m="$mode" 'BEGIN { printf "%s %d %.2f\n", m, n, (b - a) * 1e6 / n }'
}

results=()
for ((i = 1; i <= REPEAT; i++)); do
	for mode in plain sni; do
		r=$(run "$mode")
		log "run $i: $r (conns, proxy CPU us/conn)"
		results+=("$r")
	done
done
printf '%s\n' "${results[@]}" | awk '
	{ n[$1]++; v[$1, n[$1]] = $3; c[$1] += $2 }
	function median(m,   i, j, t, k, a) {
		k = n[m]; for (i = 1; i <= k; i++) a[i] = v[m, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		p = median("plain"); s = median("sni")
		printf "plain: %.2f us/conn (median of %d, %.0f conn/s)\n", p, n["plain"], c["plain"] / n["plain"] / '"$SECS"'
		printf "sni:   %.2f us/conn (median of %d, %.0f conn/s)\n", s, n["sni"], c["sni"] / n["sni"] / '"$SECS"'
		printf "ratio sni/plain: %.2fx (target <= 1.2x)\n", s / p
	}'
