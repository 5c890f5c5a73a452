#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 55-fault-sigterm-1000: SIGTERM while 1 000 connections are live. The daemon exits 0 within 10 s
# (ASan builds included), every connection is closed (the backend sees all 1 000 go), the control
# socket is removed; a new daemon on the same path starts, answers ping within 100 ms, and with the
# same segments recreated holds exactly the descriptors the first one held at its baseline.
# (15-sigterm checks the shutdown of segments and listeners with a few connections.)
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   | fault-tool hold 1000 --> :9000 "victim" [wormholed] --> :9002 sink-server       |
#   | socat --> :9100 "other" -----------------------------------> :9001 echo         |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" sink-server 9002
wait_tcp_listen "$ns_host" 9002
wh_create id victim url :9000 tail url :9002 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline
first_base=$base_fds

bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" hold 9000 1000 x >"$wh_tmp/hold.out"
wait_for "1000 connections held" 300 grep -q "open 1000," "$wh_tmp/hold.out"
wait_json victim conns_active 1000 100
established() { ip netns exec "$ns_host" ss -Htn state established "( sport = :9002 )" | wc -l; }
info "backend side: $(established) established connections"

info "SIGTERM"
t0=$(date +%s%N)
kill -TERM "$fault_pid"
for ((i = 0; i < 200; i++)); do
	alive "$fault_pid" || break
	sleep 0.05
done
alive "$fault_pid" && fail "wormholed still runs 10 s after SIGTERM"
rc=0
wait "$fault_pid" || rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
echo "ok: exited in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
[[ -e $(wh_sock main) ]] && fail "the control socket is still there"
wait_for "the backend sees every connection closed" 100 bash -c "[[ \$(ip netns exec $ns_host ss -Htn state established '( sport = :9002 )' | wc -l) -eq 0 ]]"
echo "ok: no connection left at the backend" >&2

info "a new daemon on the same socket"
wh_daemons=() # the first one's log stays in $wh_tmp; the new one appends to it
wh_start_daemon main
fault_pid=${wh_daemon_pid[main]}
# the segments come back from the state directory (same ids, same ports)
wait_tcp_listen "$ns_host" 9100
wait_tcp_listen "$ns_host" 9000
wh list -q | grep -qx other || fail "'other' was not restored"
wh list -q | grep -qx victim || fail "'victim' was not restored"
fault_baseline
assert_eq "descriptors of the new daemon" "$first_base" "$base_fds"
fault_recovered "restart after SIGTERM"
echo "PASS"
