#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 01-tcp-echo: TCP through one segment `url :9000 tail url :9001`; 1 MiB of random bytes sent by
# the client comes back from the echo backend byte for byte (sha256 compared).
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------+
#   |  socat client --> 127.0.0.1:9000 [wormholed] --> 127.0.0.1:9001 socat echo (cat) |
#   +-------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
start_tcp_echo "$ns_host" 9001

out=$(wh_create id echo url :9000 tail url :9001)
assert_eq "create output" "echo tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000

head -c 1048576 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 -b 65536 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "1 MiB echoed through the segment" "$wh_tmp/in" "$wh_tmp/out"

# a second connection on the same segment works too
tcp_echo_check "$ns_host" 127.0.0.1:9000 "second connection"
echo "PASS"
