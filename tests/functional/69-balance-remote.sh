#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 69-balance-remote: several tails for one head on a peer. On A, `url :9000 remote B balance
# round-robin tail url :9101 tail url :9102`: the segment made on B balances over B's two
# backends. Checked: 4 connections go X Y X Y; B's `list` shows both tails with their counts;
# Y's backend killed: 6 connections in a row are all served by X (none lost) and B's `list`
# shows Y down.
#
#   A (wh-a-$$) 198.18.0.1                          B (wh-b-$$) 198.18.0.2
#   client -> :9000 [wormholed A] ==TLS link==> [wormholed B] -+-> :9101 socat "X"
#                                                              +-> :9102 socat "Y"
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b
wait_tcp_listen "$ns_b" 9999
bg_in "$ns_b" socat TCP4-LISTEN:9101,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo X"
bg_in "$ns_b" socat TCP4-LISTEN:9102,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo Y"
y_pid=$last_pid
wait_tcp_listen "$ns_b" 9101
wait_tcp_listen "$ns_b" 9102

out=$(whd a create id web url :9000 remote 198.18.0.2 balance round-robin tail url :9101 \
	tail url :9102) || fail "create failed"
assert_eq "create output" "web tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_a" 9000
get() { ip netns exec "$ns_a" timeout 5 socat -T 3 - TCP:127.0.0.1:9000 </dev/null 2>/dev/null || true; }
got=""
for i in 1 2 3 4; do got+="$(get) "; done
assert_eq "round-robin on the peer" "X Y X Y " "$got"
rid=$(segments b)
b_tail() { "$WORMHOLE" -H "unix://$(wh_sock b)" list --json | "$PYTHON" "$WH_NET" json-get "$rid" tail; }
b_idle() { [[ $(b_tail) == *"9101 (up, 0 active, 2 total, 0 failed)"*"9102 (up, 0 active, 2 total, 0 failed)" ]]; }
wait_for "B's list shows both tails, 2 each" 50 b_idle

stop_pid "$y_pid"
got=""
for i in 1 2 3 4 5 6; do got+="$(get) "; done
assert_eq "Y down: none lost" "X X X X X X " "$got"
assert_match "B's list shows Y down" 'tcp://127\.0\.0\.1:9102 \(down, 0 active, 2 total, [1-9][0-9]* failed\)' "$(b_tail)"
info "ok"
