#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 50-fault-backend-killed: the backend is SIGKILLed while it streams to 5 clients. Each client
# gets EOF (or a reset) promptly, the daemon logs the ends, answers ping within 100 ms, the segment
# "other" keeps serving, and descriptors and RSS come back to the baseline (tests/lib/faults.sh).
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
server=$last_pid
wait_tcp_listen "$ns_host" 9003
wh_create id victim url :9000 tail url :9003 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

readers=()
for i in 1 2 3 4 5; do
	bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" read-some 9000 1000000 >"$wh_tmp/r$i.out"
	readers+=("$last_pid")
done
wait_json victim conns_active 5
sleep 0.5 # let the streams run: the kill must land mid-stream
info "SIGKILL the backend"
kill -KILL "$server"
for i in 1 2 3 4 5; do
	wait "${readers[i - 1]}" || true
	res=$(cat "$wh_tmp/r$i.out")
	assert_match "reader $i" "^read [0-9]+ bytes, then (eof|reset)$" "$res"
done
fault_recovered "backend killed"
echo "PASS"
