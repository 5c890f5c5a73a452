#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 08-orphans: a daemon killed with SIGKILL cannot remove its docker-run containers; they stay. A
# new daemon on the same state directory (same daemon id, label wormhole.daemon=<id>):
#   - restores segment sk from the state file, and sk's docker-run word adopts its container (same
#     id, still running, never removed by the orphan sweep);
#   - removes a container labelled with our daemon id whose segment is gone (no segment of the
#     state file), within a bound;
#   - leaves alone a container labelled for another daemon id.
#
#   netns wh-test-$$ ("host")                         containers
#   +------------------------------------------+      +-------------------------------------------+
#   | wormholed #1 --SIGKILL                   |      | wh-orphan-$$ sk's, ours      -> adopted    |
#   | wormholed #2 (same --state) restores sk, |      | wh-gone-$$   segment gone, ours -> removed |
#   |   sweeps what no segment adopted         |      | wh-other-$$  another daemon -> stays       |
#   +------------------------------------------+      +-------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
orphan="wh-orphan-$$" other="wh-other-$$" gone="wh-gone-$$"
dk_names+=("$orphan" "$gone")
wh_start_daemon main
did=$(dk_daemon_id main)
dk_run "$other" -l "wormhole.daemon=0123456789abcdef" -l wormhole.segment=sk -- sleep 100000

wh_create id sk url :9000 tail url :3306 docker-run \
	"--network none --init --name $orphan $IMG wh-echo 3306" >/dev/null
dk_wait_listen "$orphan" 3306
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo before the kill"
id=$(dk_id "$orphan")
assert_eq "the container is labelled for this daemon ($did) and sk" "$id" "$(dk_mine sk)"
state_has_sk() { grep -q '"id":"sk"' "$wh_tmp/state-main/segments.json"; }
wait_for "sk in the state file" 50 state_has_sk

pid=${wh_daemon_pid[main]}
info "kill -KILL $pid"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
alive "$pid" && fail "wormholed survived SIGKILL"
assert_eq "the container outlives the killed daemon" true "$(docker inspect -f '{{.State.Running}}' "$orphan")"
cp "$(wh_log main)" "$wh_tmp/main.log.1"
info "a container labelled for this daemon whose segment is gone"
dk_run "$gone" -l "wormhole.daemon=$did" -l wormhole.segment=gone -l wormhole.word=init.2 -- sleep 100000
gone_id=$(dk_id "$gone")

info "a new daemon on the same state directory"
wh_start_daemon main
wait_for "$gone removed" 150 eval "! docker inspect '$gone' >/dev/null 2>&1"
assert_match "the removal is logged" "removed container ${gone_id:0:12} left behind by an earlier run" "$(cat "$(wh_log main)")"
assert_match "sk adopted its container" "segment 'sk': adopted the running container '$orphan'" "$(cat "$(wh_log main)")"
assert_eq "sk's container is the one of before" "$id" "$(dk_mine sk)"
assert_eq "containers of this daemon" "$id" "$(dk_mine)"
assert_eq "sk's container still runs" true "$(docker inspect -f '{{.State.Running}}' "$orphan")"
assert_eq "the other daemon's container is left alone" true "$(docker inspect -f '{{.State.Running}}' "$other")"
assert_eq "segments of the new daemon" "sk " "$(wh_ids)"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo through the adopted container"

info "the new daemon works"
wh_create id sk2 url :9001 tail url :3306 docker-ns "$other" >/dev/null
assert_eq "state" listening "$(wh_json_get sk2 state)"
wh delete sk
dk_wait_none_mine 150
echo "ok: delete removes the adopted container" >&2
echo "PASS"
