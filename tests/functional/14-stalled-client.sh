#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 14-stalled-client: one client asks the backend to flood it, then never reads. The backend
# writes without end; wormhole must stop reading from the backend when the client's socket is
# full instead of buffering or blocking its (single-threaded) loop. Meanwhile 50 echo connections
# through the same segment, one after another, complete in under 5 s, and the stalled connection
# is still open afterwards.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------------------+
#   | stalled client (never reads) --\                                                         |
#   |                                 > :9000 [wormholed] --> :9001 socat SYSTEM: "flood" -> zeros |
#   | whnet tcp-echoes (50 x) -------/                              anything else -> echo       |
#   +------------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
# per connection: first line "flood" -> endless zeros; otherwise echo that line and the rest
# (no quotes inside: socat's address parser would eat them)
bg_in "$ns_host" socat -t 10 TCP4-LISTEN:9001,bind=127.0.0.1,reuseaddr,fork \
	SYSTEM:'read -r l; case $l in flood) exec cat /dev/zero;; esac; echo $l; exec cat'
wait_tcp_listen "$ns_host" 9001
wh_create id st url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000

# the stalled client's socket: Recv-Q non-zero and no longer changing (its buffer is full)
_client_recvq() {
	ip netns exec "$ns_host" ss -Htn state established "dport = :9000" | awk '{print $1}' | sort -n | tail -n1
}
_flood_stuck() {
	local a b
	a=$(_client_recvq)
	sleep 0.2
	b=$(_client_recvq)
	[[ -n $a && $a -gt 0 && $a -eq $b ]]
}

bg_in "$ns_host" "$PYTHON" "$WH_NET" tcp-hold 127.0.0.1 9000 $'flood\n'
stalled=$last_pid
wait_json st conns_active 1
info "waiting until the flood fills the stalled client's buffers and stops"
wait_for "the stalled client's receive queue is full" 100 _flood_stuck
echo "ok: stalled client has $(_client_recvq) bytes unread" >&2

res=$(nh timeout 20 "$PYTHON" "$WH_NET" tcp-echoes 127.0.0.1 9000 50) || fail "echoes: $res"
echo "$res" >&2
assert_match "50 echoes" "^50 echoes in [0-9.]+ s$" "$res"
secs=$(sed -E 's/^50 echoes in ([0-9.]+) s$/\1/' <<<"$res")
"$PYTHON" -c "import sys; sys.exit(not float('$secs') < 5.0)" ||
	fail "50 echoes took $secs s (limit 5 s) while a client was stalled"

alive "$stalled" || fail "the stalled client died"
wait_json st conns_active 1
echo "PASS"
