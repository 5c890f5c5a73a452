# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/lib/faults.sh - the fault suite's common frame (tests/functional/5x-fault-*.sh), on top of
# tests/lib/netns.sh (source that first).
#
# Every fault test has the same shape: a daemon "main", an echo backend on :9001, a segment
# "other" (127.0.0.1:9100 -> :9001) that must keep serving whatever happens to the segment under
# test, a baseline of the daemon's descriptors and RSS, the fault, and then fault_recovered, which
# asserts that
#   - `wormhole ping` answers within 100 ms (the CLI's own figure, and the wall clock under 1 s),
#   - the segment "other" still echoes,
#   - every segment is back to 0 active connections,
#   - the daemon's descriptors other than pipes are exactly the baseline again, and pipes are
#     within the pipe pool's bound (64 idle pipes, 128 fds),
#   - its RSS is within WH_RSS_SLACK_KB (default 16 MiB times WH_RSS_FACTOR, which is 1, or 3 for
#     the ASan build in CI's functional-asan) of the baseline.
#
#   fault_setup [DAEMON ARGS...]   wh_setup, the daemon, the backend, the segment "other"
#   fault_baseline                 record fds and RSS now (after a warm-up)
#   fault_recovered WHAT           the assertions above, each bounded (10 s)
#   daemon_fds / daemon_pipes / daemon_rss   figures of the main daemon, now

WH_RSS_SLACK_KB=${WH_RSS_SLACK_KB:-$((16384 * ${WH_RSS_FACTOR:-1}))}
WH_FAULT_TOOL="$WH_REPO/tests/functional/fault-tool.py"
fault_pid=""
base_fds=0
base_rss=0

daemon_fds() {
	find "/proc/$fault_pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -vc '^pipe:' || true
}

daemon_pipes() {
	find "/proc/$fault_pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -c '^pipe:' || true
}

daemon_rss() {
	awk '/^VmRSS/ {print $2}' "/proc/$fault_pid/status"
}

# fault_setup [DAEMON ARGS...]
fault_setup() {
	wh_setup
	wh_start_daemon main "$@"
	fault_pid=${wh_daemon_pid[main]}
	start_tcp_echo "$ns_host" 9001
	wh_create id other url :9100 tail url :9001 >/dev/null
	wait_tcp_listen "$ns_host" 9100
}

fault_baseline() {
	tcp_echo_check "$ns_host" 127.0.0.1:9100 "warm-up through 'other'"
	wait_all_idle
	# settled: a just-started daemon still has short-lived descriptors (its first Engine API
	# request, a state file being written); take the count once it holds for 0.5 s
	local prev=-1 i
	base_fds=$(daemon_fds)
	for ((i = 0; i < 30 && base_fds != prev; i++)); do
		prev=$base_fds
		sleep 0.5
		base_fds=$(daemon_fds)
	done
	base_rss=$(daemon_rss)
	info "baseline: $base_fds descriptors (not pipes), $(daemon_pipes) pipes, RSS $base_rss kB"
}

_fds_back() {
	[[ $(daemon_fds) -eq $base_fds ]]
}

# fault_ping: the daemon answers within 100 ms
fault_ping() {
	# Up to 3 tries: a daemon that is stuck fails all of them; a loaded host that schedules one
	# CLI late (seen at load 16 on 2 cores) does not fail the test.
	local ms t0 t1 try
	for ((try = 1; try <= 3; try++)); do
		t0=$(date +%s%N)
		ms=$(timeout 2 "$WORMHOLE" -H "unix://$(wh_sock main)" ping) || fail "ping failed"
		t1=$(date +%s%N)
		if "$PYTHON" -c "import sys; sys.exit(not ($ms < 100 and $((t1 - t0)) < 1e9))"; then
			echo "ok: ping $ms ms" >&2
			return 0
		fi
		echo "slow ping (try $try): $ms ms, $(((t1 - t0) / 1000000)) ms wall" >&2
		sleep 0.2
	done
	fail "ping took $ms ms ($(((t1 - t0) / 1000000)) ms wall) three times"
}

# fault_recovered WHAT
fault_recovered() {
	local what=$1 fds pipes rss
	alive "$fault_pid" || fail "$what: wormholed died"
	fault_ping
	tcp_echo_check "$ns_host" 127.0.0.1:9100 "$what: 'other' still serves"
	wait_all_idle
	wait_for "$what: descriptors back to the baseline ($base_fds)" 100 _fds_back || true
	fds=$(daemon_fds)
	pipes=$(daemon_pipes)
	rss=$(daemon_rss)
	info "$what: $fds descriptors (baseline $base_fds), $pipes pipes, RSS $rss kB (baseline $base_rss)"
	if [[ $fds -ne $base_fds ]]; then
		ls -l "/proc/$fault_pid/fd" >&2 || true
		fail "$what: $fds descriptors, baseline $base_fds"
	fi
	[[ $pipes -le 128 ]] || fail "$what: $pipes pipe descriptors (the pool keeps at most 128)"
	[[ $((rss - base_rss)) -le $WH_RSS_SLACK_KB ]] ||
		fail "$what: RSS $rss kB, baseline $base_rss kB (bound +$WH_RSS_SLACK_KB kB)"
	echo "ok: $what: recovered" >&2
}
