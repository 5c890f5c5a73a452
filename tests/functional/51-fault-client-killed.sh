#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 51-fault-client-killed: 5 clients reading a stream are SIGKILLed mid-stream (their sockets reset
# with unread data). The daemon ends those relays ("client reset"), the backend's side is closed,
# and the daemon answers ping within 100 ms, "other" serves, descriptors and RSS are back at the
# baseline (tests/lib/faults.sh).
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   | 5 x fault-tool read-some --> :9000 "victim" [wormholed] --> :9003 stream-server |
#   | socat --> :9100 "other" -----------------------------------> :9001 echo         |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" stream-server 9003
wait_tcp_listen "$ns_host" 9003
wh_create id victim url :9000 tail url :9003 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

readers=()
for i in 1 2 3 4 5; do
	bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" read-some 9000 100000000000
	readers+=("$last_pid")
done
wait_json victim conns_active 5
sleep 0.5
info "SIGKILL the clients"
for p in "${readers[@]}"; do
	kill -KILL "$p"
done
wait_json victim conns_active 0
n=$(grep -c "segment 'victim'.*client reset" "$(wh_log main)" || true)
assert_eq "relays ended by a client reset (log)" 5 "$n"
fault_recovered "clients killed"
echo "PASS"
