#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 06-head-netns: `url A@:9000 tail url :9001`: the head listens inside netns A; a client in A
# gets its echo, the daemon's own namespace has no listener on 9000 and refuses.
#
#   netns wh-a-$$ (A)                       netns wh-test-$$ ("host")
#   +------------------------------+        +------------------------------------------+
#   | client --> 127.0.0.1:9000 ---+--------+-> [wormholed] --> 127.0.0.1:9001 echo    |
#   |   (listener made in A)       |        |   127.0.0.1:9000: nothing (refused)      |
#   +------------------------------+        +------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
ns_a="wh-a-$$"
ns_add "$ns_a"
wh_start_daemon main
start_tcp_echo "$ns_host" 9001

out=$(wh_create id froma url "$ns_a@:9000" tail url :9001)
assert_eq "create output" "froma tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_a" 9000
if tcp_listening "$ns_host" 9000; then
	fail "a listener on 9000 exists in the daemon's namespace"
fi

head -c 262144 /dev/urandom >"$wh_tmp/in"
in_ns "$ns_a" timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "echo for a client in $ns_a" "$wh_tmp/in" "$wh_tmp/out"

if nh timeout 5 socat -u /dev/null TCP:127.0.0.1:9000 2>/dev/null; then
	fail "host side reached 127.0.0.1:9000; only netns $ns_a should"
fi
echo "ok: host side refused" >&2
echo "PASS"
