#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/soak.sh - mixed load on one wormholed for a while, sampling its descriptors and RSS
#
#   bash bench/soak.sh [--build DIR] [--interval SEC] [DURATION_SEC]      (as root; default 120 s)
#
# The daemon is the ASan/UBSan build (DIR/wormholed/wormholed, default build-ci-asan, else
# build-asan; $WORMHOLED wins over both) running in a private network namespace, with
# --udp-idle 2. Load, all at once, for DURATION seconds:
#   - wrk keep-alive (16 connections) and wrk with "Connection: close" (4 connections) through the
#     segment "web" (:9080 -> nginx :8080), in 30 s rounds
#   - UDP: every 2 s, 100 new clients send one datagram each through "udp" (:5300 -> echo :5301),
#     so sessions keep opening and expiring
#   - create/delete churn: create a segment, one HTTP request through it, delete it, in a loop
#   - Docker, when an engine answers (tests/lib/dockerd.sh; set WORMHOLE_DOCKERD_SOCK etc. to use a
#     private one): every 20 s a segment with `trigger docker-run` is created, one connection
#     starts its container and is echoed, and the segment is deleted (the container removed)
# Every --interval seconds (default 5) a row: elapsed s, descriptors (not pipes), pipes, RSS kB,
# active connections, and the counters of the load (requests are counted per wrk round).
#
# Fails (exit 1) when
#   - the daemon dies, or its log holds an AddressSanitizer/LeakSanitizer/UBSan report (it is
#     stopped with SIGTERM at the end, so leaks are checked too),
#   - after the load, once every connection closed, its descriptors other than pipes are not the
#     baseline taken before the load, or it holds more than 128 pipe descriptors (the pool's bound),
#   - RSS under load grew by more than WH_SOAK_RSS_SLACK_KB (default 32768) from the sample at
#     max(30 s, a quarter of the run) to the last sample under load (the warm-up, and ASan's
#     quarantine, limited here to 32 MB, fill before the reference),
#   - a wrk round reported socket errors or non-2xx answers, or the churn, UDP or Docker rounds
#     failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
duration=120
interval=5
build=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) build=$(realpath "$2"); shift ;;
	--interval) interval=$2; shift ;;
	-h | --help) sed -n '3,32p' "$0"; exit 0 ;;
	-*) echo "soak.sh: unknown option '$1'" >&2; exit 2 ;;
	*) duration=$1 ;;
	esac
	shift
done
[[ $duration =~ ^[0-9]+$ && $duration -ge 30 ]] || { echo "soak.sh: DURATION must be >= 30 s" >&2; exit 2; }
if [[ -z ${WORMHOLED:-} ]]; then
	if [[ -z $build ]]; then
		for b in "$repo/build-ci-asan" "$repo/build-asan"; do
			[[ -x $b/wormholed/wormholed ]] && { build=$b; break; }
		done
	fi
	[[ -n $build ]] || { echo "soak.sh: no ASan build (build-ci-asan, build-asan); give --build DIR" >&2; exit 2; }
	export WORMHOLED=$build/wormholed/wormholed WORMHOLE=$build/wormhole-cli/wormhole
fi

# shellcheck source=../tests/lib/netns.sh
source "$repo/tests/lib/netns.sh"
for t in wrk nginx curl; do
	command -v $t >/dev/null || skip "$t is missing"
done
WH_FAULT_TOOL=$repo/tests/functional/fault-tool.py
slack=${WH_SOAK_RSS_SLACK_KB:-32768}
# any report ends the daemon (and so the soak); leaks are reported at its exit
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:quarantine_size_mb=32:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1}
sanitizer_re='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer'

docker_ok=0
if [[ ${WH_SOAK_DOCKER:-1} == 1 ]] && command -v docker >/dev/null; then
	# shellcheck source=../tests/lib/dockerd.sh
	source "$repo/tests/lib/dockerd.sh"
	# shellcheck source=../tests/lib/images.sh
	source "$repo/tests/lib/images.sh"
	if dockerd_start >&2 && images_build >&2; then
		docker_ok=1
	else
		echo "soak: no Docker engine, the Docker trigger is left out" >&2
	fi
fi

wh_setup
if ((docker_ok)); then # stop a private engine we started, then clean up as usual
	trap 'rc=$?; set +e; dockerd_stop >/dev/null 2>&1; (exit $rc); wh_cleanup' EXIT
fi
# many short connections: TIME_WAIT must not run the namespace out of ports; the churn's ports
# (20000-20999) stay outside the ephemeral range
ip netns exec "$ns_host" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="30000 60999"
wh_start_daemon main --udp-idle 2
pid=${wh_daemon_pid[main]}
log=$(wh_log main)

cat >"$wh_tmp/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $wh_tmp/nginx.pid;
error_log $wh_tmp/nginx.err;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:8080 backlog=4096; location / { return 200 "soak\n"; } }
}
EOF
bg_in "$ns_host" nginx -c "$wh_tmp/nginx.conf" -p "$wh_tmp"
wait_tcp_listen "$ns_host" 8080
bg_in "$ns_host" "$PYTHON" "$WH_NET" udp-echo-server 127.0.0.1 5301
wait_udp_bound "$ns_host" 5301
wh_create id web url :9080 tail url :8080 >/dev/null
wh_create id udp url udp://:5300 tail url :5301 >/dev/null
wait_tcp_listen "$ns_host" 9080
nh curl -sf http://127.0.0.1:9080/ >/dev/null || fail "no answer through 'web'"

fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -vc '^pipe:' || true; }
pipes() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -c '^pipe:' || true; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
active() {
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json 2>/dev/null |
		"$PYTHON" -c 'import json,sys; print(sum(s["conns_active"] for s in json.load(sys.stdin)["segments"]))' 2>/dev/null || echo "?"
}
base_fds=$(fds)
base_rss=$(rss)
end=$(($(date +%s) + duration))
cnt=$wh_tmp/counts
mkdir -p "$cnt"

# ---- the load: each loop appends one line per round to its counter file --------------------
wrk_loop() { # NAME CONNS [HEADER]
	local name=$1 c=$2 out left
	shift 2
	while :; do
		left=$((end - $(date +%s)))
		((left >= 2)) || break
		((left > 30)) && left=30
		out=$(ip netns exec "$ns_host" wrk -t1 -c"$c" -d"${left}s" "$@" http://127.0.0.1:9080/ 2>&1) || true
		req=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
		errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' || true)
		echo "${req:-0} ${errs:+ERR $errs}" >>"$cnt/$name"
	done
}
churn_loop() {
	local i=0 port
	while (($(date +%s) < end)); do
		i=$((i + 1))
		port=$((20000 + i % 1000))
		if "$WORMHOLE" -H "unix://$(wh_sock main)" create id "churn$i" url ":$port" tail url :8080 >/dev/null 2>>"$cnt/churn.err" &&
			ip netns exec "$ns_host" curl -sf "http://127.0.0.1:$port/" >/dev/null 2>>"$cnt/churn.err" &&
			"$WORMHOLE" -H "unix://$(wh_sock main)" delete "churn$i" 2>>"$cnt/churn.err"; then
			echo ok >>"$cnt/churn"
		else
			echo "FAIL round $i" >>"$cnt/churn"
			"$WORMHOLE" -H "unix://$(wh_sock main)" delete "churn$i" >/dev/null 2>&1 || true
		fi
	done
}
udp_loop() {
	while (($(date +%s) < end)); do
		ip netns exec "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" udp-many 5300 100 >>"$cnt/udp" 2>&1 || echo "FAIL" >>"$cnt/udp"
		sleep 2
	done
}
docker_loop() {
	local i=0 img=$wh_image_busybox got
	while (($(date +%s) + 25 < end)); do
		i=$((i + 1))
		if "$WORMHOLE" -H "unix://$(wh_sock main)" create id "dock$i" url :9300 trigger url :3306 \
			docker-run "--network none --init $img wh-echo 3306" >/dev/null 2>>"$cnt/docker.err"; then
			got=$(echo "dock$i" | ip netns exec "$ns_host" timeout 40 socat -t 30 - TCP:127.0.0.1:9300 2>>"$cnt/docker.err" || true)
			"$WORMHOLE" -H "unix://$(wh_sock main)" delete "dock$i" 2>>"$cnt/docker.err" || true
			if [[ $got == "dock$i" ]]; then
				echo ok >>"$cnt/docker"
			else
				echo "FAIL round $i: got '$got'" >>"$cnt/docker"
			fi
		else
			echo "FAIL create $i" >>"$cnt/docker"
		fi
		sleep 20
	done
}

loops=()
wrk_loop ka 16 &
loops+=($!)
wrk_loop close 4 -H "Connection: close" &
loops+=($!)
churn_loop &
loops+=($!)
udp_loop &
loops+=($!)
if ((docker_ok)); then
	docker_loop &
	loops+=($!)
fi
wh_pids+=("${loops[@]}")

sum() { awk '{s += $1} END {print s + 0}' "$cnt/$1" 2>/dev/null || echo 0; }
lines() { grep -c "${2:-.}" "$cnt/$1" 2>/dev/null || echo 0; }
udp_replies() { awk '/^replies/ {s += $2} END {print s + 0}' "$cnt/udp" 2>/dev/null || echo 0; }

info "soak: $duration s, daemon $WORMHOLED (pid $pid), Docker $( ((docker_ok)) && echo yes || echo no)"
printf '%7s %6s %6s %9s %7s %10s %10s %7s %9s %6s\n' t_s fds pipes rss_kB active req_ka req_close churn udp_reply docker
t0=$(date +%s)
ref_t=$((duration / 4 > 30 ? duration / 4 : 30))
ref_rss="" last_rss=0 max_fds=0
printf '%7s %6s %6s %9s %7s %10s %10s %7s %9s %6s\n' base "$base_fds" "$(pipes)" "$base_rss" 0 0 0 0 0 0
while (($(date +%s) < end)); do
	sleep "$interval"
	alive "$pid" || fail "wormholed died during the soak"
	t=$(($(date +%s) - t0))
	f=$(fds)
	r=$(rss)
	((f > max_fds)) && max_fds=$f
	(($(date +%s) < end)) && last_rss=$r
	[[ -z $ref_rss && $t -ge $ref_t ]] && ref_rss=$r
	printf '%7s %6s %6s %9s %7s %10s %10s %7s %9s %6s\n' "$t" "$f" "$(pipes)" "$r" "$(active)" \
		"$(sum ka)" "$(sum close)" "$(lines churn ok)" "$(udp_replies)" "$(lines docker ok)"
done
info "load ends; waiting for the loops"
for p in "${loops[@]}"; do
	wait "$p" 2>/dev/null || true
done
wait_for "every connection closed" 300 _all_idle
after_fds=$(fds)
after_pipes=$(pipes)
after_rss=$(rss)
printf '%7s %6s %6s %9s %7s %10s %10s %7s %9s %6s\n' after "$after_fds" "$after_pipes" "$after_rss" \
	"$(active)" "$(sum ka)" "$(sum close)" "$(lines churn ok)" "$(udp_replies)" "$(lines docker ok)"

bad=()
[[ $after_fds -eq $base_fds ]] || bad+=("descriptors after the load: $after_fds, baseline $base_fds")
[[ $after_pipes -le 128 ]] || bad+=("$after_pipes pipe descriptors after the load (bound 128)")
[[ -n $ref_rss ]] || ref_rss=$last_rss
(((last_rss - ref_rss) <= slack)) || bad+=("RSS grew from $ref_rss kB (at ${ref_t} s) to $last_rss kB under load (bound +$slack kB)")
[[ $(sum ka) -gt 0 && $(sum close) -gt 0 ]] || bad+=("a wrk load moved no requests")
grep -h ERR "$cnt/ka" "$cnt/close" >&2 && bad+=("wrk reported errors (above)")
[[ $(lines churn ok) -gt 0 ]] || bad+=("no create/delete round succeeded")
grep -q FAIL "$cnt/churn" && bad+=("create/delete rounds failed: $(grep -c FAIL "$cnt/churn") ($(tail -3 "$cnt/churn.err" | tr '\n' ' '))")
grep -q FAIL "$cnt/udp" && bad+=("UDP rounds failed: $(grep -c FAIL "$cnt/udp")")
[[ $(udp_replies) -gt 0 ]] || bad+=("no UDP reply")
if ((docker_ok)); then
	grep -q FAIL "$cnt/docker" 2>/dev/null && bad+=("Docker rounds failed: $(grep FAIL "$cnt/docker" | head -3 | tr '\n' ' ')")
fi

info "stopping the daemon (SIGTERM; leaks are checked at its exit)"
kill -TERM "$pid"
for ((i = 0; i < 600; i++)); do
	alive "$pid" || break
	sleep 0.1
done
rc=0
wait "$pid" 2>/dev/null || rc=$?
[[ $rc -eq 0 ]] || bad+=("wormholed exited with status $rc after SIGTERM")
if grep -Eq "$sanitizer_re" "$log"; then
	grep -E -A20 "$sanitizer_re" "$log" | head -60 >&2
	bad+=("a sanitizer report in the daemon's log")
fi
echo "summary: ${duration} s; descriptors $base_fds before, at most $max_fds under load, $after_fds after;" \
	"RSS $base_rss kB before, $ref_rss kB at ${ref_t} s, $last_rss kB at the end of the load, $after_rss kB after;" \
	"requests keep-alive $(sum ka), close $(sum close); create/delete rounds $(lines churn ok);" \
	"UDP replies $(udp_replies); Docker rounds $(lines docker ok)$( ((docker_ok)) || echo ' (no engine)')"
if [[ ${#bad[@]} -gt 0 ]]; then
	for b in "${bad[@]}"; do
		echo "FAIL: $b" >&2
	done
	exit 1
fi
echo "PASS"
