#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 33-state-restore: segments survive a restart without a service manager (no fd store: the
# listeners are bound anew, on the same ports), a corrupt state file is reported and moved aside
# and the daemon starts anyway, and the state directory's lock keeps a second daemon with the
# same identity (same --state, even on another control socket) from running.
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------------------------+
#   | wormholed "main" --state $wh_tmp/state-main                                      |
#   |   127.0.0.1:9300 [a] -> 9301 socat echo;  127.0.0.1:<ephemeral> [b] -> 9301        |
#   |   127.0.0.1:9310 [t] --trigger--> 9301                                             |
#   | wormholed "twin" --state $wh_tmp/state-main (refused: the lock is held)            |
#   +---------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
state=$wh_tmp/state-main
start_tcp_echo "$ns_host" 9301
wh_start_daemon main
assert_eq "create a" "a tcp://127.0.0.1:9300" "$(wh create id a url :9300 tail url :9301)"
b=$(wh create id b tail url :9301)
b_port=${b##*:}
wh create id t url :9310 trigger url :9301 >/dev/null
tcp_echo_check "$ns_host" 127.0.0.1:9310 "trigger ran"
state_has_t_triggered() { grep -q '"id":"t","port":9310,"triggered":true' "$state/segments.json"; }
wait_for "state file" 50 state_has_t_triggered
assert_eq "state file mode" 600 "$(stat -c %a "$state/segments.json")"

info "a second daemon with the same state directory must refuse to run"
twin_log=$(wh_log twin)
rc=0
ip netns exec "$ns_host" timeout 10 "$WORMHOLED" -H "unix://$wh_tmp/twin.sock" --state "$state" \
	--chains "$wh_tmp/none" >"$twin_log" 2>&1 || rc=$?
assert_eq "exit status of the twin" 1 "$rc"
assert_match "twin's message" "another wormholed \(pid ${wh_daemon_pid[main]}\) runs with the state directory '$state'" "$(cat "$twin_log")"
wh ping >/dev/null || fail "the first daemon stopped answering"

info "restart: the same ids and ports, bound anew"
stop_pid "${wh_daemon_pid[main]}"
if tcp_listening "$ns_host" 9300; then
	fail "9300 still listening with the daemon stopped"
fi
wh_start_daemon main
out=$(wh list)
assert_match "a restored" "^a +tcp://127\.0\.0\.1:9300 +tcp://127\.0\.0\.1:9301 +listening" "$out"
assert_match "b restored on its port" "^b +tcp://127\.0\.0\.1:$b_port " "$out"
assert_match "t restored, triggered" "^t +tcp://127\.0\.0\.1:9310 +tcp://127\.0\.0\.1:9301 +listening" "$out"
tcp_echo_check "$ns_host" 127.0.0.1:9300 "a after restart"
tcp_echo_check "$ns_host" "127.0.0.1:$b_port" "b after restart"

info "a corrupt state file is moved aside, not fatal"
stop_pid "${wh_daemon_pid[main]}"
printf '{"version":1,"segments":[{"id":"a","words":' >"$state/segments.json"
wh_start_daemon main
assert_match "reported" "state file '$state/segments.json' is corrupt .*moved aside" "$(cat "$(wh_log main)")"
ls "$state"/segments.json.corrupt-* >/dev/null 2>&1 || fail "no segments.json.corrupt-* file"
assert_eq "nothing restored" "" "$(wh list -q)"
assert_eq "create after a corrupt state" "a tcp://127.0.0.1:9300" "$(wh create id a url :9300 tail url :9301)"
echo "PASS"
