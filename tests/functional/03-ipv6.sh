#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 03-ipv6: `url [::1]:9000 tail url [::1]:9001`: the head listens on ::1 only (not on 127.0.0.1),
# create prints the host in brackets, and 256 KiB of random bytes are echoed exactly.
#
#   netns wh-test-$$ ("host")
#   +--------------------------------------------------------------------------+
#   |  socat client --> [::1]:9000 [wormholed] --> [::1]:9001 socat echo (cat)  |
#   +--------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
ip netns exec "$ns_host" ip -6 addr show dev lo | grep -q '::1/128' || skip "no IPv6 on loopback"
wh_start_daemon main
start_tcp_echo "$ns_host" 9001 ::1

out=$(wh_create id six url '[::1]:9000' tail url '[::1]:9001')
assert_eq "create output" "six tcp://[::1]:9000" "$out"
wait_tcp_listen "$ns_host" 9000
assert_eq "listener address" "[::1]:9000" "$(nh ss -Htln 'sport = :9000' | awk '{print $4}')"
assert_eq "tail in list" "tcp://[::1]:9001" "$(wh_json_get six tail)"

head -c 262144 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 - 'TCP6:[::1]:9000' <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "256 KiB echoed over IPv6" "$wh_tmp/in" "$wh_tmp/out"

# nothing on 127.0.0.1:9000
if nh timeout 5 socat -u /dev/null TCP4:127.0.0.1:9000 2>/dev/null; then
	fail "127.0.0.1:9000 accepted a connection; the head should be on ::1 only"
fi
echo "PASS"
