#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 15-sigterm: with two segments and one open connection, SIGTERM makes wormholed exit with status
# 0 within 5 s; afterwards no listener remains on the heads, the open client sees its connection
# closed, and the control socket file is gone.
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------------+
#   | held client --> :9000 [wormholed] --> :9001 socat echo               |
#   |                 :9002 [wormholed] --> :9003                          |
#   |   kill -TERM <wormholed pid>                                          |
#   +---------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
start_tcp_echo "$ns_host" 9001
wh_create id one url :9000 tail url :9001 >/dev/null
wh_create id two url :9002 tail url :9003 >/dev/null
wait_tcp_listen "$ns_host" 9000
wait_tcp_listen "$ns_host" 9002

# the client sends a line, gets the echo, then waits for the server to close the connection
bg_in "$ns_host" sh -c "'$PYTHON' '$WH_NET' tcp-close-wait 127.0.0.1 9000 open >'$wh_tmp/client.out' 2>&1"
wait_json one conns_active 1

pid=${wh_daemon_pid[main]}
info "kill -TERM $pid"
t0=$(date +%s%N)
kill -TERM "$pid"
for ((i = 0; i < 100; i++)); do
	alive "$pid" || break
	sleep 0.05
done
alive "$pid" && fail "wormholed still running 5 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
echo "ok: exited after $((($(date +%s%N) - t0) / 1000000)) ms" >&2
assert_eq "exit status after SIGTERM" 0 "$rc"

for p in 9000 9002; do
	if tcp_listening "$ns_host" "$p"; then
		fail "port $p still listening after wormholed exited: $(nh ss -Htln "sport = :$p")"
	fi
done
echo "ok: no listener left" >&2
[[ ! -e "$(wh_sock main)" ]] || fail "control socket $(wh_sock main) still exists"
echo "ok: control socket removed" >&2

wait_for "the held client sees its connection closed" 50 grep -q '^closed after' "$wh_tmp/client.out"
assert_match "held client closed (echo may or may not have arrived)" "^closed after [0-9.]+ s, [04] bytes$" "$(cat "$wh_tmp/client.out")"
echo "PASS"
