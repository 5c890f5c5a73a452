#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 05-tail-netns: `url :9000 tail url B@:9001`: the backend listens only inside netns B; the host
# side cannot reach it directly, but through the segment it echoes exactly.
#
#   netns wh-test-$$ ("host")                         netns wh-b-$$ (B, no links)
#   +-------------------------------------------+     +--------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] ----+-----+--> 127.0.0.1:9001 socat echo  |
#   |            127.0.0.1:9001: nothing        |     |  (socket made in B by setns)   |
#   +-------------------------------------------+     +--------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
ns_b="wh-b-$$"
ns_add "$ns_b"
wh_start_daemon main
start_tcp_echo "$ns_b" 9001

if nh timeout 5 socat -u /dev/null TCP:127.0.0.1:9001 2>/dev/null; then
	fail "127.0.0.1:9001 reachable from the host namespace; the test topology is wrong"
fi

out=$(wh_create id intob url :9000 tail url "$ns_b@:9001")
assert_eq "create output" "intob tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000
if tcp_listening "$ns_b" 9000; then
	fail "the head listens inside $ns_b; it should be in the daemon's namespace"
fi

head -c 262144 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "echo from the backend in $ns_b" "$wh_tmp/in" "$wh_tmp/out"
echo "PASS"
