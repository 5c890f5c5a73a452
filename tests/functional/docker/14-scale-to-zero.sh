#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 14-scale-to-zero: `url :9000 idle 2s trigger url :3306 docker-run '... --name N IMAGE wh-echo
# 3306'`. Nothing runs until the first connection; 2 s after the last connection ends the
# container is removed and the segment is armed again ("running (idle Ns)" -> "armed"); the next
# connection starts a new container and is served. Then a stop is held open: dockerd (the private
# engine this run started) is frozen with SIGSTOP right after the segment went "stopping", 20
# clients connect and must wait (none refused), dockerd resumes, the removal finishes, the
# trigger runs once more and all 20 get their data back. A sampler checks that never more than
# one container of this segment exists (the fixed --name would also make an overlap fail).
#
#   netns wh-test-$$ ("host")                            container N (made on demand)
#   +-----------------------------------------------+    +----------------------------------+
#   | clients --> 127.0.0.1:9000 [wormholed] -------+----+--> 127.0.0.1:3306 wh-echo 3306    |
#   +-----------------------------------------------+    +----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
wh_start_daemon main
name="wh-s0-$$"
out=$(wh_create id s0 url :9000 idle 2s trigger url :3306 docker-run "--network none --init --name $name $IMG wh-echo 3306")
assert_eq "create output" "s0 tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000
assert_eq "state before the first connection" armed "$(wh_json_get s0 state)"
assert_eq "containers before the first connection" "" "$(dk_mine)"

# never more than one container of the segment, sampled every 0.1 s for the whole test
sampler() {
	while :; do
		timeout 3 docker ps -aq --filter "label=wormhole.segment=s0" 2>/dev/null | wc -l >>"$wh_tmp/counts"
		sleep 0.1
	done
}
sampler &
wh_pids+=("$!")

tcp_echo_check "$ns_host" 127.0.0.1:9000 "first connection starts the container"
assert_eq "containers after the first connection" 1 "$(dk_mine s0 | wc -l)"
wait_all_idle
assert_match "state after the connection ended" '^running \(idle [0-9]+s\)$' "$(wh_json_get s0 state)"
wh list >&2

info "2 s without connections: the container goes, the segment is armed again"
wait_json s0 state armed 80
dk_wait_none_mine 50
assert_eq "tail once armed again" "(on trigger)" "$(wh_json_get s0 tail)"
assert_eq "idle stops (log)" 1 "$(grep -c "segment 's0': no connection for 2s, undoing the trigger" "$(wh_log main)")"

tcp_echo_check "$ns_host" 127.0.0.1:9000 "the next connection starts it again"
assert_eq "containers after the restart" 1 "$(dk_mine s0 | wc -l)"
assert_eq "containers started (log)" 2 "$(grep -c "segment 's0': started container" "$(wh_log main)")"

dpid=""
if [[ $DOCKER_HOST == "unix://$wh_dockerd_sock" && -f $wh_dockerd_pidfile ]]; then
	dpid=$(cat "$wh_dockerd_pidfile")
fi
if [[ -n $dpid ]] && kill -0 "$dpid" 2>/dev/null; then
	info "a stop held open: dockerd (pid $dpid) frozen while the segment is stopping"
	wait_all_idle
	_state_running() { [[ $(wh_json_get s0 state) == running* ]]; }
	wait_for "state running" 50 _state_running
	pretty host "kill -STOP $dpid"
	kill -STOP "$dpid"
	frozen=1
	thaw() { [[ -n ${frozen:-} ]] && kill -CONT "$dpid" 2>/dev/null; frozen=""; }
	trap 'thaw; dk_cleanup' EXIT
	wait_json s0 state stopping 60
	pids=()
	for i in $(seq 1 20); do
		bg_in "$ns_host" sh -c "printf 'stop-%s-%s\n' $i $$ | timeout 40 socat -t 30 - TCP:127.0.0.1:9000 >'$wh_tmp/s$i.out' 2>&1"
		pids+=("$last_pid")
	done
	wait_json s0 conns_active 20 50
	assert_eq "state while 20 wait" stopping "$(wh_json_get s0 state)"
	sleep 0.5 # nothing may be refused while dockerd is frozen
	assert_eq "still waiting after 0.5 s" 20 "$(wh_json_get s0 conns_active)"
	pretty host "kill -CONT $dpid"
	thaw
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	for i in $(seq 1 20); do
		assert_eq "client $i during the stop" "stop-$i-$$" "$(cat "$wh_tmp/s$i.out")"
	done
	assert_eq "containers after the held stop" 1 "$(dk_mine s0 | wc -l)"
	assert_eq "containers started (log)" 3 "$(grep -c "segment 's0': started container" "$(wh_log main)")"
	grep -q "segment 's0': scaled to zero, armed again; a connection waits" "$(wh_log main)" ||
		fail "the stop did not hand the waiting connections to a new trigger"
else
	info "note: the engine is not one this run started; the frozen-dockerd part is left out"
fi

max=$(sort -n "$wh_tmp/counts" | tail -1)
assert_eq "most containers of the segment at any sample ($(wc -l <"$wh_tmp/counts") samples)" 1 "$max"
refused=$(grep -c "segment 's0':.*closed.*\(refused\|trigger failed\|not running\)" "$(wh_log main)" || true)
assert_eq "connections refused or failed" 0 "$refused"

wh delete s0
dk_wait_none_mine 150
echo "PASS"
