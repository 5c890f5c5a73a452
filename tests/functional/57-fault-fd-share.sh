#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 57-fault-fd-share: one segment cannot take every descriptor of the daemon (issue 10 item 7).
# The daemon runs with an open-file limit of 1024; 2 000 idle connections to segment "flood" (its
# backend accepts and never reads) used to take every descriptor, so the control socket and the
# segment "other" got EMFILE. Now "flood" holds at most its share plus what it may borrow (here
# 287 of a budget of 383), the rest is closed at once, "other" serves and ping answers meanwhile,
# and the refusals are logged once per 10 s, not once per connection. UDP: at most
# --max-udp-sessions sessions per segment. Afterwards descriptors and RSS are back at the baseline.
#
#   netns wh-test-$$ ("host")
#   +-----------------------------------------------------------------------------------+
#   | fault-tool hold 2000 --> :9000 "flood" [wormholed, nofile 1024] --> :9002 sink      |
#   | socat --> :9100 "other" ----------------------------------------> :9001 echo        |
#   | fault-tool udp-many 200 --> udp :5300 "udp" (--max-udp-sessions 50) --> :5301 echo  |
#   +-----------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"
command -v prlimit >/dev/null || skip "prlimit (util-linux) is missing"

WH_DAEMON_PREFIX="prlimit --nofile=1024:1024" fault_setup --max-udp-sessions 50 --udp-idle 1
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" sink-server 9002
sink=$last_pid
wait_tcp_listen "$ns_host" 9002
bg_in "$ns_host" "$PYTHON" "$WH_NET" udp-echo-server 127.0.0.1 5301
wait_udp_bound "$ns_host" 5301
wh_create id flood url :9000 tail url :9002 >/dev/null
wh_create id udp url udp://:5300 tail url :5301 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

info "2000 idle connections to 'flood'"
out=$wh_tmp/hold.out
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" hold 9000 2000 x >"$out"
holder=$last_pid
wait_for "the holder's count" 300 grep -q opened "$out"
res=$(cat "$out")
echo "$res" >&2
open=$(sed -n 's/.*open \([0-9]*\),.*/\1/p' <<<"$res")
[[ -n $open ]] || fail "holder: $res"
# limit 1024: reserve 256, 3 segments -> budget (1024-256-3)/2 = 382; borrowing stops at 382-95
((open > 0 && open <= 287)) || fail "'flood' holds $open connections; its bound is 287"
echo "ok: 'flood' holds $open of 2000 connections" >&2
fault_ping
tcp_echo_check "$ns_host" 127.0.0.1:9100 "'other' serves while 'flood' is full"
refused=$(grep -c "segment 'flood'.*refused" "$(wh_log main)" || true)
((refused >= 1 && refused <= 3)) || fail "$refused refusal lines in the log (one per 10 s expected)"
echo "ok: $refused refusal line(s): $(grep -m1 "segment 'flood'.*refused" "$(wh_log main)")" >&2
# the clients leave; the backend never reads, so their half-closed relays wait for it: it goes too
stop_pid "$holder"
stop_pid "$sink"

info "UDP: 200 clients, --max-udp-sessions 50"
res=$(nh "$PYTHON" "$WH_FAULT_TOOL" udp-many 5300 200)
echo "$res" >&2
replies=$(awk '{print $2}' <<<"$res")
((replies >= 1 && replies <= 50)) || fail "UDP: $replies sessions answered, the cap is 50"
tcp_echo_check "$ns_host" 127.0.0.1:9100 "'other' serves after the UDP flood"

# the UDP sessions end after --udp-idle 1
fault_recovered "after the floods"
echo "PASS"
