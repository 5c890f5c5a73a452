#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 53-fault-refused: the tail refuses every connect. 50 clients are each retried until
# --connect-timeout (1 s) and then closed, with one log line each; meanwhile ping answers within
# 100 ms and "other" serves; afterwards descriptors and RSS are back at the baseline.
# (13-connect-retry checks that a tail that comes up during the retries gets the connection.)
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------+
#   | 50 x socat --> :9000 "victim" [wormholed] --> :9004 (nothing listens)     |
#   | socat --> :9100 "other" -----------------------> :9001 echo               |
#   +-------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup --connect-timeout 1
wh_create id victim url :9000 tail url :9004 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

clients=()
for i in $(seq 1 50); do
	bg_in "$ns_host" sh -c "echo x | timeout 10 socat -t 5 - TCP:127.0.0.1:9000 >/dev/null 2>&1"
	clients+=("$last_pid")
done

fault_ping
tcp_echo_check "$ns_host" 127.0.0.1:9100 "'other' serves while 'victim' retries"
for p in "${clients[@]}"; do
	wait "$p" || true
done
wait_json victim conns_active 0 40
n=$(grep -c "segment 'victim'.*tail refused until the connect timeout" "$(wh_log main)" || true)
assert_eq "connections closed after the connect timeout (log)" 50 "$n"
fault_recovered "refused connects"
echo "PASS"
