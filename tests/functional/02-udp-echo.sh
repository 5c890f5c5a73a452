#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 02-udp-echo: UDP through `url udp://:5300 tail url :5301` (the tail inherits udp). Datagrams of
# 1, 100, 1472, 9000, 60000 and 1 bytes each come back whole and exact from a UDP echo server
# (whnet.py compares every byte; the 60000-byte one must arrive as one datagram).
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------+
#   |  whnet udp-client --> 127.0.0.1:5300 [wormholed] --> 127.0.0.1:5301 udp echo |
#   +------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
bg_in "$ns_host" "$PYTHON" "$WH_NET" udp-echo-server 127.0.0.1 5301
wait_udp_bound "$ns_host" 5301

out=$(wh_create id dns url udp://:5300 tail url :5301)
assert_eq "create output" "dns udp://127.0.0.1:5300" "$out"
wait_udp_bound "$ns_host" 5300
assert_eq "tail proto" "udp://127.0.0.1:5301" "$(wh_json_get dns tail)"

res=$(nh timeout 20 "$PYTHON" "$WH_NET" udp-client 127.0.0.1 5300 1 100 1472 9000 60000 1) ||
	fail "udp echo: $res"
echo "$res" >&2
assert_eq "datagrams echoed" 6 "$(grep -c 'echoed whole' <<<"$res")"

# a second client (another source port, so another session) is answered too
res=$(nh timeout 20 "$PYTHON" "$WH_NET" udp-client 127.0.0.1 5300 60000 5) || fail "udp echo 2: $res"
assert_eq "datagrams echoed, second client" 2 "$(grep -c 'echoed whole' <<<"$res")"
echo "PASS"
