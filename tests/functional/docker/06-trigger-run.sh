#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 06-trigger-run: `url :9000 trigger url :3306 docker-run '--network none --init IMAGE wh-echo
# 3306'` starts nothing at create (state "armed", no container). 20 clients connect at once: the
# first connection starts exactly one container, the others wait for that same start, and the tail
# connect retries while wh-echo is not listening yet; every client gets its own data back. A later
# connection reuses the container; delete removes it.
#
#   netns wh-test-$$ ("host")                           container (made on the first connection)
#   +-----------------------------------------------+   +----------------------------------+
#   | 20 clients --> 127.0.0.1:9000 [wormholed] ----+---+--> 127.0.0.1:3306 wh-echo 3306    |
#   +-----------------------------------------------+   +----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
wh_start_daemon main
out=$(wh_create id lazy url :9000 trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306")
assert_eq "create output" "lazy tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000
assert_eq "state before the first connection" armed "$(wh_json_get lazy state)"
assert_eq "containers before the first connection" "" "$(dk_mine)"

info "20 concurrent first connections"
pids=()
for i in $(seq 1 20); do
	bg_in "$ns_host" sh -c "printf 'client-%s-%s\n' $i $$ | timeout 40 socat -t 30 - TCP:127.0.0.1:9000 >'$wh_tmp/c$i.out' 2>&1"
	pids+=("$last_pid")
done
for p in "${pids[@]}"; do
	wait "$p" || true
done
for i in $(seq 1 20); do
	assert_eq "concurrent client $i" "client-$i-$$" "$(cat "$wh_tmp/c$i.out")"
done
ids=$(dk_mine lazy)
assert_eq "containers after 20 first connections" 1 "$(wc -w <<<"$ids")"
assert_eq "containers of this daemon" "$ids" "$(dk_mine)"
grep -E "running the trigger|started container|waiting" "$(wh_log main)" >&2 || true
assert_eq "containers started (log)" 1 "$(grep -c "segment 'lazy': started container" "$(wh_log main)")"
assert_eq "the container runs" true "$(docker inspect -f '{{.State.Running}}' "$ids")"
wait_all_idle
assert_eq "conns_total" 20 "$(wh_json_get lazy conns_total)"
assert_eq "state after the trigger" listening "$(wh_json_get lazy state)"
assert_match "tail after the trigger" "^tcp://docker:[^@]+@127.0.0.1:3306$" "$(wh_json_get lazy tail)"

tcp_echo_check "$ns_host" 127.0.0.1:9000 "a later connection"
assert_eq "still one container" "$ids" "$(dk_mine)"

wh delete lazy
dk_wait_none_mine 150
echo "ok: the container is gone after delete" >&2
echo "PASS"
