#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 54-fault-half-close: 100 clients at once send a line and shut down their sending side; each gets
# its line back through the half-closed connection (the echo answers after the FIN), then the
# relays end. The daemon answers ping within 100 ms, "other" serves, and descriptors and RSS are
# back at the baseline. (09-half-close checks both directions byte for byte.)
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------+
#   | 100 x socat (shutdown on EOF) --> :9000 "victim" [wormholed] --> :9005 echo|
#   | socat --> :9100 "other" --------------------------------------> :9001 echo |
#   +-------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
# a threaded echo (socat's fork mode, with its backlog of 5, resets some of 100 at once under load)
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" echo-server 9005
wait_tcp_listen "$ns_host" 9005
wh_create id victim url :9000 tail url :9005 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

clients=()
for i in $(seq 1 100); do
	bg_in "$ns_host" sh -c "echo half-$i | timeout 20 socat -t 10 - TCP:127.0.0.1:9000 >'$wh_tmp/h$i.out' 2>&1"
	clients+=("$last_pid")
done
for p in "${clients[@]}"; do
	wait "$p" || true
done
for i in $(seq 1 100); do
	[[ $(cat "$wh_tmp/h$i.out") == "half-$i" ]] || fail "client $i got '$(cat "$wh_tmp/h$i.out")'"
done
echo "ok: 100 half-closed clients got their line back" >&2
fault_recovered "half-close"
echo "PASS"
