#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 52-fault-stalled-backend: a backend that accepts and never reads. A client pushes until its
# sends block: the daemon holds a bounded amount per connection (the kernel's socket buffers and
# at most one pipe), its RSS does not grow with what the client pushes, and it answers ping within
# 100 ms while 20 such connections are stuck. When the client and then the backend go away,
# descriptors and RSS are back at the baseline. (14-stalled-client is the mirror: a client that
# never reads.)
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------------------+
#   | 20 x fault-tool push --> :9000 "victim" [wormholed] --> :9002 sink-server   |
#   | socat --> :9100 "other" -------------------------------> :9001 echo         |
#   +---------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" sink-server 9002
sink=$last_pid
wait_tcp_listen "$ns_host" 9002
wh_create id victim url :9000 tail url :9002 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

pushers=()
for i in $(seq 1 20); do
	bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" push 9000 >"$wh_tmp/p$i.out"
	pushers+=("$last_pid")
done
for i in $(seq 1 20); do
	wait_for "pusher $i blocks" 150 grep -q pushed "$wh_tmp/p$i.out"
done
total=$(awk '{s += $2} END {print s}' "$wh_tmp"/p*.out)
rss=$(daemon_rss)
info "20 clients pushed $total bytes in all before blocking; RSS $rss kB (baseline $base_rss kB)"
# what the daemon itself keeps must not follow the pushed amount: at most a 1 MiB pipe per stuck
# direction plus a copy remainder (the rest sits in kernel socket buffers)
[[ $((rss - base_rss)) -le $((24576 * ${WH_RSS_FACTOR:-1})) ]] || fail "RSS grew by $((rss - base_rss)) kB with 20 stuck connections"
fault_ping
tcp_echo_check "$ns_host" 127.0.0.1:9100 "'other' serves while 'victim' is stuck"
assert_eq "stuck connections" 20 "$(wh_json_get victim conns_active)"

info "the clients give up, then the backend goes"
for p in "${pushers[@]}"; do
	stop_pid "$p"
done
stop_pid "$sink"
fault_recovered "stalled backend"
echo "PASS"
