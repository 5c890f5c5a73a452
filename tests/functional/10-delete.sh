#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 10-delete: after `delete`, the head's port is free: nothing listens (ss), a connection is
# refused, the segment is gone from list, and socat can bind the same port again. Deleting an
# unknown id fails with exit 1 and "no such segment".
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] --> 127.0.0.1:9001 socat echo  |
#   |   after delete: socat binds 127.0.0.1:9000 itself                    |
#   +---------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
start_tcp_echo "$ns_host" 9001

wh_create id gone url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo before delete"

out=$(wh delete gone 2>&1) || fail "delete exited $?: $out"
if tcp_listening "$ns_host" 9000; then
	fail "port 9000 still listening after delete: $(nh ss -Htln 'sport = :9000')"
fi
echo "ok: no listener on 9000" >&2
assert_eq "segments after delete" "" "$(wh list --json | "$PYTHON" "$WH_NET" json-ids)"
if err=$(nh timeout 5 socat -u /dev/null TCP:127.0.0.1:9000 2>&1); then
	fail "connection to 127.0.0.1:9000 accepted after delete"
fi
assert_match "connection refused" "Connection refused" "$err"

info "the port can be bound again"
bg_in "$ns_host" socat -t 10 TCP4-LISTEN:9000,bind=127.0.0.1 SYSTEM:"echo rebound"
wait_tcp_listen "$ns_host" 9000
got=$(nh timeout 5 socat -u TCP:127.0.0.1:9000 -)
assert_eq "reply from the new listener" "rebound" "$got"

info "unknown id"
rc=0
err=$(wh delete gone 2>&1) || rc=$?
assert_eq "delete unknown: exit status" 1 "$rc"
assert_match "delete unknown: message" "segment 'gone': no such segment" "$err"
echo "PASS"
