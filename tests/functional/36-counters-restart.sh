#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 36-counters-restart: a segment's counters survive a daemon restart with it. Traffic of a known
# size goes through `web` and a connection to a dead tail fails; the daemon is stopped (SIGTERM:
# the last counters are saved at stop) and started again on the same state directory; the
# metrics then show at least what they showed before (exactly, here: nothing ran meanwhile),
# and new traffic adds to them. A state file from before the counters (none saved) restores
# the segments with counters from zero. Checked by `promtool check metrics` when it is there.
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   | socat --> 127.0.0.1:9400 [wormholed, --metrics 127.0.0.1:9465] --> :9401 echo |
#   |           127.0.0.1:9402 [wormholed] --> :9403 (nothing)                       |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

command -v curl >/dev/null || skip "curl missing"
wh_setup
state=$wh_tmp/state-main
start_tcp_echo "$ns_host" 9401
wh_start_daemon main --metrics 127.0.0.1:9465 --connect-timeout 1
wh_create id web url :9400 tail url :9401 >/dev/null
wh_create id dead url :9402 tail url :9403 >/dev/null
wait_tcp_listen "$ns_host" 9465

scrape() { ip netns exec "$ns_host" curl -sf --max-time 5 http://127.0.0.1:9465/metrics; }
metric() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }
payload=$(head -c 1000 /dev/zero | tr '\0' 'x')
send() {
	local got
	got=$(printf '%s' "$payload" | ip netns exec "$ns_host" timeout 10 socat -t 5 - TCP:127.0.0.1:9400)
	assert_eq "echo length" 1000 "${#got}"
}

info "traffic: 3 connections of 1000 bytes through web, one to a dead tail"
for _ in 1 2 3; do send; done
ip netns exec "$ns_host" timeout 10 socat -t 5 - TCP:127.0.0.1:9402 </dev/null >/dev/null 2>&1 || true
wait_all_idle
before_conns=$(metric 'wormhole_segment_connections_total{segment="web"}')
before_in=$(metric 'wormhole_segment_bytes_total{segment="web",direction="in"}')
before_out=$(metric 'wormhole_segment_bytes_total{segment="web",direction="out"}')
before_refused=$(metric 'wormhole_segment_connect_failures_total{segment="dead",reason="refused"}')
assert_eq "web connections before" 3 "$before_conns"
assert_eq "web bytes in before" 3000 "$before_in"
assert_eq "dead refused before" 1 "$before_refused"

info "restart (SIGTERM): the counters are saved at stop and restored at start"
stop_pid "${wh_daemon_pid[main]}"
grep -q '"counters":\[.*{"id":"web","conns":3,"in":3000,"out":3000' "$state/segments.json" ||
	fail "segments.json has no counters for web: $(cat "$state/segments.json")"
wh_start_daemon main --metrics 127.0.0.1:9465 --connect-timeout 1
wait_tcp_listen "$ns_host" 9465
assert_match "restored" "counters of 2 segments restored" "$(cat "$(wh_log main)")"
scrape >"$wh_tmp/metrics.txt"
if command -v promtool >/dev/null; then
	pretty host "promtool check metrics < metrics.txt"
	promtool check metrics <"$wh_tmp/metrics.txt" || fail "promtool check metrics failed"
fi
assert_eq "web connections after restart" "$before_conns" "$(metric 'wormhole_segment_connections_total{segment="web"}')"
assert_eq "web bytes in after restart" "$before_in" "$(metric 'wormhole_segment_bytes_total{segment="web",direction="in"}')"
assert_eq "web bytes out after restart" "$before_out" "$(metric 'wormhole_segment_bytes_total{segment="web",direction="out"}')"
assert_eq "dead refused after restart" "$before_refused" \
	"$(metric 'wormhole_segment_connect_failures_total{segment="dead",reason="refused"}')"
assert_eq "web active after restart" 0 "$(metric 'wormhole_segment_connections_active{segment="web"}')"

info "new traffic adds to the restored counters"
send
wait_all_idle
assert_eq "web connections" 4 "$(metric 'wormhole_segment_connections_total{segment="web"}')"
assert_eq "web bytes in" 4000 "$(metric 'wormhole_segment_bytes_total{segment="web",direction="in"}')"

info "a second restart keeps counting from there"
stop_pid "${wh_daemon_pid[main]}"
wh_start_daemon main --metrics 127.0.0.1:9465 --connect-timeout 1
wait_tcp_listen "$ns_host" 9465
assert_eq "web connections, second restart" 4 "$(metric 'wormhole_segment_connections_total{segment="web"}')"
assert_eq "web bytes out, second restart" 4000 "$(metric 'wormhole_segment_bytes_total{segment="web",direction="out"}')"

info "a state file without counters (an older daemon's) restores the segments from zero"
stop_pid "${wh_daemon_pid[main]}"
"$PYTHON" - "$state/segments.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d.pop("counters")
json.dump(d, open(p, "w"))
PY
wh_start_daemon main --metrics 127.0.0.1:9465 --connect-timeout 1
wait_tcp_listen "$ns_host" 9465
assert_match "web restored" "^web +tcp://127\.0\.0\.1:9400 " "$(wh list)"
assert_eq "web connections from zero" 0 "$(metric 'wormhole_segment_connections_total{segment="web"}')"
tcp_echo_check "$ns_host" 127.0.0.1:9400 "web after an old state file"
echo "PASS"
