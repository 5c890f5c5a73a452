#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 15-scale-to-zero-keep: `idle 2s,keep`: after 2 s without connections the container is stopped
# (gracefully: docker stop) and kept; the segment is armed again; the next connection starts that
# same container again (same id) and is served; delete removes the kept container
# too, whether it runs or not.
#
#   netns wh-test-$$ ("host")                            container N (made once, then kept)
#   +-----------------------------------------------+    +----------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] --------+----+--> 127.0.0.1:3306 wh-echo 3306    |
#   +-----------------------------------------------+    +----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
wh_start_daemon main
out=$(wh_create id k url :9000 idle 2s,keep trigger url :3306 docker-run "--network none --init --name wh-k-$$ $IMG wh-echo 3306")
assert_eq "create output" "k tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000

tcp_echo_check "$ns_host" 127.0.0.1:9000 "first connection"
id=$(dk_mine k)
assert_eq "one container" 1 "$(wc -l <<<"$id")"

info "2 s idle: stopped and kept"
wait_json k state armed 80
assert_eq "the same container still exists" "$id" "$(dk_mine k)"
assert_eq "it is stopped" false "$(docker inspect -f '{{.State.Running}}' "$id")"
assert_eq "stopped cleanly (exit code)" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$id")"
grep -q "segment 'k': stopped container ${id:0:12}, kept for the next connection" "$(wh_log main)" ||
	fail "no 'kept' log line"

tcp_echo_check "$ns_host" 127.0.0.1:9000 "the kept container serves again"
assert_eq "still the same container" "$id" "$(dk_mine k)"
assert_eq "it runs" true "$(docker inspect -f '{{.State.Running}}' "$id")"
assert_eq "started kept (log)" 1 "$(grep -c "segment 'k': started kept container" "$(wh_log main)")"

info "stopped and kept once more, then delete removes it"
wait_json k state armed 80
assert_eq "kept again" false "$(docker inspect -f '{{.State.Running}}' "$id")"
wh delete k
dk_wait_none_mine 150
echo "PASS"
