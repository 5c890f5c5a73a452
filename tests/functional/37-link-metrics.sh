#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 37-link-metrics: per peer link figures in --metrics, across two hosts. A publishes a segment
# through B (`remote`); traffic of a known size crosses the link; both daemons' metrics then
# show the link up, the streams, at least the payload bytes each way, and the keepalive round
# trip; B is killed and started again: A shows the link down, then up again with one reconnect
# and its byte counters carried over. Each exposition is checked by `promtool check metrics`.
#
#   A (wh-a-$$) 198.18.0.1 --veth-- 198.18.0.2 B (wh-b-$$)
#   socat -> :9000 [wormholed a] ==link==> [wormholed b] -> :7001 socat echo
#   curl -> 127.0.0.1:9466 (metrics, in each host)
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

command -v curl >/dev/null || skip "curl missing"
command -v promtool >/dev/null || skip "promtool missing (Debian package prometheus)"
wh_setup
peers_setup
start_peer_daemon "$ns_a" a --metrics 127.0.0.1:9466
start_peer_daemon "$ns_b" b --metrics 127.0.0.1:9466
start_tcp_echo "$ns_b" 7001
whd a create id web url :9000 remote 198.18.0.2 tail url :7001 >/dev/null
wait_tcp_listen "$ns_a" 9000

scrape() { ip netns exec "$1" curl -sf --max-time 5 http://127.0.0.1:9466/metrics; }
# metric NS NAME LABELS-REGEX: the value of the first sample of NAME whose labels match
metric() { scrape "$1" | awk -v n="$2" -v l="$3" 'index($1, n "{") == 1 && $1 ~ l { print $2; exit }'; }
check() {
	scrape "$1" >"$wh_tmp/m-$2.txt"
	pretty host "promtool check metrics < m-$2.txt"
	promtool check metrics <"$wh_tmp/m-$2.txt" || fail "promtool check metrics failed ($2)"
}
ge() { awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }' || fail "$1: $2 is not >= $3"; }
A='peer="198.18.0.2:9999",side="dialed"'

info "traffic: 3 connections of 1000 bytes A -> B"
payload=$(head -c 1000 /dev/zero | tr '\0' 'x')
for i in 1 2 3; do
	got=$(printf '%s' "$payload" | ip netns exec "$ns_a" timeout 10 socat -t 5 - TCP:127.0.0.1:9000)
	assert_eq "echo $i length" 1000 "${#got}"
done
# The dialing side's keepalive is the one to wait for: a side pings after 1 s without input, and
# the other side's pings count as input, so on a quiet link only one of the two may ever ping.
rtt_seen() { [[ -n $(metric "$ns_a" wormhole_peer_link_rtt_seconds "$A") ]]; }
wait_for "a keepalive round trip on the dialing side" 100 rtt_seen
check "$ns_a" a1
check "$ns_b" b1
assert_eq "A: link up" 1 "$(metric "$ns_a" wormhole_peer_link_up "$A")"
assert_eq "A: reconnects" 0 "$(metric "$ns_a" wormhole_peer_link_reconnects_total "$A")"
ge "A: streams opened (1 create + 3 connections)" "$(metric "$ns_a" wormhole_peer_link_streams_total "$A")" 4
ge "A: bytes out" "$(metric "$ns_a" wormhole_peer_link_bytes_total "$A,direction=\"out\"")" 3000
ge "A: bytes in" "$(metric "$ns_a" wormhole_peer_link_bytes_total "$A,direction=\"in\"")" 3000
rtt=$(metric "$ns_a" wormhole_peer_link_rtt_seconds "$A")
info "A: keepalive round trip ${rtt} s"
awk -v r="$rtt" 'BEGIN { exit !(r > 0 && r < 1) }' || fail "A: round trip $rtt out of (0, 1) s"
assert_match "B: the accepted link, up" '^1$' "$(metric "$ns_b" wormhole_peer_link_up 'peer="198\.18\.0\.1:[0-9]+",side="accepted"')"
ge "B: bytes in" "$(metric "$ns_b" wormhole_peer_link_bytes_total 'side="accepted",direction="in"')" 3000
ge "B: bytes out" "$(metric "$ns_b" wormhole_peer_link_bytes_total 'side="accepted",direction="out"')" 3000
ge "B: streams opened" "$(metric "$ns_b" wormhole_peer_link_streams_total 'side="accepted"')" 4
assert_eq "A: streams open when idle" 0 "$(metric "$ns_a" wormhole_peer_link_streams_open "$A")"
bytes_before=$(metric "$ns_a" wormhole_peer_link_bytes_total "$A,direction=\"out\"")

info "B killed: A's link goes down; B back: up again, one reconnect, bytes carried over"
kill -KILL "${wh_daemon_pid[b]}"
link_down() { [[ $(metric "$ns_a" wormhole_peer_link_up "$A") == 0 ]]; }
wait_for "A to see the link down" 200 link_down
start_peer_daemon "$ns_b" b2 --metrics 127.0.0.1:9466
link_up() { [[ $(metric "$ns_a" wormhole_peer_link_up "$A") == 1 ]]; }
wait_for "A to reconnect (its remote segment holds the peer)" 300 link_up
check "$ns_a" a2
assert_eq "A: reconnects" 1 "$(metric "$ns_a" wormhole_peer_link_reconnects_total "$A")"
ge "A: bytes out over both links" "$(metric "$ns_a" wormhole_peer_link_bytes_total "$A,direction=\"out\"")" "$bytes_before"
echo "PASS"
