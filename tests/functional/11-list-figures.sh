#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 11-list-figures: one connection carries exactly N = 123457 bytes up (client -> tail) and
# M = 654321 bytes down (tail -> client). After it closes, `list --json` shows conns_total 1,
# conns_active 0, bytes_in N, bytes_out M; while it is open, conns_active is 1. The `list`
# table has the header ID HEAD TAIL STATE CONNS TOTAL IN OUT and the segment's row.
#
#   netns wh-test-$$ ("host")
#   +----------------------------------------------------------------------------------------+
#   | socat --N bytes--> :9000 [wormholed] --> :9001 socat SYSTEM:"wc -c; head -c M" (waits EOF) |
#   +----------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

N=123457
M=654321
wh_setup
wh_start_daemon main
# the backend reads the request to its end, records its length, then answers M bytes
bg_in "$ns_host" socat -t 10 TCP4-LISTEN:9001,bind=127.0.0.1,reuseaddr,fork \
	SYSTEM:"wc -c >$wh_tmp/seen; head -c $M /dev/zero"
wait_tcp_listen "$ns_host" 9001

wh_create id fig url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000
for f in conns_total conns_active bytes_in bytes_out; do
	assert_eq "$f before any connection" 0 "$(wh_json_get fig "$f")"
done
assert_eq "state" "listening" "$(wh_json_get fig state)"
assert_eq "parent" "null" "$(wh_json_get fig parent)"
assert_eq "head" "tcp://127.0.0.1:9000" "$(wh_json_get fig head)"
assert_eq "tail" "tcp://127.0.0.1:9001" "$(wh_json_get fig tail)"

info "exactly N bytes up, M bytes down"
head -c $N /dev/urandom >"$wh_tmp/up"
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/up" >"$wh_tmp/down"
assert_eq "bytes received by the client" $M "$(stat -c %s "$wh_tmp/down")"
assert_eq "bytes seen by the backend" $N "$(tr -d ' \n' <"$wh_tmp/seen")"
wait_json fig conns_active 0
wh list --json >&2
assert_eq "conns_total" 1 "$(wh_json_get fig conns_total)"
assert_eq "conns_active" 0 "$(wh_json_get fig conns_active)"
assert_eq "bytes_in" $N "$(wh_json_get fig bytes_in)"
assert_eq "bytes_out" $M "$(wh_json_get fig bytes_out)"

info "table"
table=$(wh list)
echo "$table" >&2
assert_eq "table header" "ID HEAD TAIL STATE CONNS TOTAL IN OUT" "$(head -n1 <<<"$table" | tr -s ' \t' ' ' | sed 's/ $//')"
row=$(awk '$1 == "fig"' <<<"$table")
[[ -n $row ]] || fail "no row for 'fig' in the table"
read -r _ r_head r_tail r_state r_conns r_total r_in r_out r_rest <<<"$row"
assert_eq "row head" "tcp://127.0.0.1:9000" "$r_head"
assert_eq "row tail" "tcp://127.0.0.1:9001" "$r_tail"
assert_eq "row state" "listening" "$r_state"
assert_eq "row conns" 0 "$r_conns"
assert_eq "row total" 1 "$r_total"
# IN/OUT may be raw or human-readable (120.6K); raw must be exact, human must start with the
# right leading digits
case $r_in in
*[!0-9]*) assert_match "row in (human)" "^(123|120|121)" "$r_in" ;;
*) assert_eq "row in" $N "$r_in" ;;
esac
case $r_out in
*[!0-9]*) assert_match "row out (human)" "^(654|639|638)" "$r_out" ;;
*) assert_eq "row out" $M "$r_out" ;;
esac
assert_eq "nothing after OUT" "" "$r_rest"
info "an open connection is counted as active"
bg_in "$ns_host" "$PYTHON" "$WH_NET" tcp-hold 127.0.0.1 9000
hold=$last_pid
wait_json fig conns_active 1
stop_pid "$hold"
wait_json fig conns_active 0

assert_eq "conns_total after the second connection" 2 "$(wh_json_get fig conns_total)"
assert_eq "bytes_in unchanged" $N "$(wh_json_get fig bytes_in)"
echo "PASS"
