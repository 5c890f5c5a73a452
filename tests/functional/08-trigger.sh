#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 08-trigger: `url :9000 trigger url T@:9001`: the words after `trigger` run on the first
# connection, not at create. The netns T does not exist at create time (create must still
# succeed, state "armed"); T and its backend are made afterwards, and the first connection is
# answered from inside T. Then a second segment `url :9100 trigger url T@:9001` gets 10
# concurrent first connections, and every one of them is answered with its own echo.
#
#   netns wh-test-$$ ("host")                          netns wh-trig-$$ (T, made after create)
#   +---------------------------------------------+    +-------------------------------+
#   | clients --> 127.0.0.1:9000 [wormholed] ----+-----+--> 127.0.0.1:9001 socat echo |
#   | clients --> 127.0.0.1:9100 [wormholed] ----+-----+-->       "                    |
#   +---------------------------------------------+    +-------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
ns_t="wh-trig-$$"
wh_start_daemon main

out=$(wh_create id lazy url :9000 trigger url "$ns_t@:9001")
assert_eq "create output" "lazy tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000
assert_eq "state before the first connection" "armed" "$(wh_json_get lazy state)"

info "the tail's namespace appears only now"
ns_add "$ns_t"
start_tcp_echo "$ns_t" 9001

tcp_echo_check "$ns_host" 127.0.0.1:9000 "first connection (runs the trigger)"
assert_eq "state after the trigger" "listening" "$(wh_json_get lazy state)"
assert_match "tail after the trigger" ":9001\$" "$(wh_json_get lazy tail)"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "second connection"

info "10 concurrent first connections"
out=$(wh_create id lazy10 url :9100 trigger url "$ns_t@:9001")
wait_tcp_listen "$ns_host" 9100
assert_eq "state" "armed" "$(wh_json_get lazy10 state)"
pids=()
for i in $(seq 1 10); do
	bg_in "$ns_host" sh -c "printf 'client-%s\n' $i | timeout 15 socat -t 10 - TCP:127.0.0.1:9100 >'$wh_tmp/c$i.out' 2>&1"
	pids+=("$last_pid")
done
for p in "${pids[@]}"; do
	wait "$p" || true
done
for i in $(seq 1 10); do
	assert_eq "concurrent client $i" "client-$i" "$(cat "$wh_tmp/c$i.out")"
done
assert_eq "conns_total after 10 clients" 10 "$(wh_json_get lazy10 conns_total)"
assert_eq "state" "listening" "$(wh_json_get lazy10 state)"
echo "PASS"
