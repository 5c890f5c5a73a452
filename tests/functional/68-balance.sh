#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 68-balance: several local tails for one head (`balance MODE tail ... tail ...`). Three real
# backends (socat, each answering its letter and then echoing until the client is done).
# Checked, with exact counts: round-robin spreads 30 connections 10/10/10; least-loaded sends
# every new connection to the idle backend while the two others hold a long connection each;
# backend B killed: 50 connections in a row all succeed (none lost, none to B) and `list` shows B
# down; B back: after the 2 s back-off it takes its share again (9 connections: 3/3/3); a
# segment whose tails all refuse closes the connection ("every tail failed") and counts one
# failure per tail; the segments survive a restart through the state file (same words, same
# tails, same behaviour); the README's example runs as printed.
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   |                                   +--> 127.0.0.1:9101 socat "A"               |
#   |  clients --> :9100 / :9200 [wormholed] --> 127.0.0.1:9102 socat "B" (killed, back) |
#   |                                   +--> 127.0.0.1:9103 socat "C"               |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup

declare -A backend_pid
backend() { # backend LETTER PORT
	bg_in "$ns_host" socat "TCP4-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo $1; exec cat"
	backend_pid[$1]=$last_pid
	wait_tcp_listen "$ns_host" "$2"
}
backend A 9101
backend B 9102
backend C 9103

wh_start_daemon main
out=$(wh_create id rr url :9100 balance round-robin tail url :9101 tail url :9102 tail url :9103)
assert_eq "create output" "rr tcp://127.0.0.1:9100" "$out"
wh_create id ll url :9200 balance least-loaded tail url :9101 tail url :9102 tail url :9103 >/dev/null
wait_tcp_listen "$ns_host" 9100
wait_tcp_listen "$ns_host" 9200

# one short connection: the letter of the backend that answered ("" when it was lost)
get() { ip netns exec "$ns_host" timeout 5 socat -T 3 - "TCP:127.0.0.1:$1" </dev/null 2>/dev/null || true; }
# spread PORT N: N connections in a row; prints "A=.. B=.. C=.. lost=.."
spread() {
	local a=0 b=0 c=0 lost=0 i got
	for ((i = 0; i < $2; i++)); do
		got=$(get "$1")
		case $got in
		A) a=$((a + 1)) ;;
		B) b=$((b + 1)) ;;
		C) c=$((c + 1)) ;;
		*) lost=$((lost + 1)) ;;
		esac
	done
	echo "A=$a B=$b C=$c lost=$lost"
}
tail_of() { # tail_of ID: the segment's tail column as `list --json` gives it
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json | "$PYTHON" "$WH_NET" json-get "$1" tail
}

info "round-robin: 30 connections, 10 each"
assert_eq "30 connections round-robin" "A=10 B=10 C=10 lost=0" "$(spread 9100 30)"
want='round-robin: tcp://127.0.0.1:9101 (up, 0 active, 10 total, 0 failed), tcp://127.0.0.1:9102 (up, 0 active, 10 total, 0 failed), tcp://127.0.0.1:9103 (up, 0 active, 10 total, 0 failed)'
wait_json rr conns_active 0
assert_eq "list --json: each tail's state and counts" "$want" "$(tail_of rr)"
tails_json() { # tails_json ID: "address state active total failures; ..." from list --json's "tails"
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json | "$PYTHON" -c '
import json, sys
s = [s for s in json.load(sys.stdin)["segments"] if s["id"] == sys.argv[1]][0]
print("; ".join("%s %s %d %d %d" % (t["address"], t["state"], t["conns_active"], t["conns_total"], t["failures"]) for t in s["tails"]))' "$1"
}
assert_eq "list --json: tails" "tcp://127.0.0.1:9101 up 0 10 0; tcp://127.0.0.1:9102 up 0 10 0; tcp://127.0.0.1:9103 up 0 10 0" "$(tails_json rr)"
assert_match "list (text) shows the tails" "^rr +tcp://127\.0\.0\.1:9100 +round-robin: tcp://127\.0\.0\.1:9101 \(up, 0 active, 10 total, 0 failed\), " "$(wh list)"

info "least-loaded: two long connections on A and B, then every new one goes to C"
for i in 1 2; do
	bg_in "$ns_host" sh -c "sleep 60 | socat - TCP:127.0.0.1:9200 >'$wh_tmp/long$i'"
done
long_answered() { [[ -s $wh_tmp/long1 && -s $wh_tmp/long2 ]]; }
wait_for "both long connections answered" 50 long_answered
assert_eq "the long connections went to A and B (ties go round)" "A B" "$(sort "$wh_tmp/long1" "$wh_tmp/long2" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "10 connections least-loaded" "A=0 B=0 C=10 lost=0" "$(spread 9200 10)"
assert_eq "least-loaded tails" 'least-loaded: tcp://127.0.0.1:9101 (up, 1 active, 1 total, 0 failed), tcp://127.0.0.1:9102 (up, 1 active, 1 total, 0 failed), tcp://127.0.0.1:9103 (up, 0 active, 10 total, 0 failed)' "$(tail_of ll)"

info "B killed: 50 connections in a row, none lost"
stop_pid "${backend_pid[B]}"
if tcp_listening "$ns_host" 9102; then
	fail "B still listening"
fi
res=$(spread 9100 50)
assert_match "50 connections with B down" "^A=[0-9]+ B=0 C=[0-9]+ lost=0$" "$res"
assert_match "list shows B down" 'tcp://127\.0\.0\.1:9102 \(down, 0 active, 10 total, [1-9][0-9]* failed\)' "$(tail_of rr)"
assert_match "list --json shows B down" "; tcp://127\.0\.0\.1:9102 down 0 10 [1-9][0-9]*; " "$(tails_json rr)"
assert_match "B going down is logged once" "segment 'rr': tail tcp://127\.0\.0\.1:9102 is down: Connection refused; new connections skip it for 2 s" "$(cat "$(wh_log main)")"
assert_eq "no connection failed" 0 "$(grep -c "every tail failed" "$(wh_log main)" || true)"
wait_json rr conns_active 0
conns_total=$(wh_json_get rr conns_total)
assert_eq "segment total" 80 "$conns_total"

info "B back: after the back-off it takes its share again"
backend B 9102
sleep 2.2
assert_eq "9 connections with B back" "A=3 B=3 C=3 lost=0" "$(spread 9100 9)"
assert_match "list shows B up" 'tcp://127\.0\.0\.1:9102 \(up, 0 active, 13 total, [1-9][0-9]* failed\)' "$(tail_of rr)"
assert_match "B coming back is logged" "segment 'rr': tail tcp://127\.0\.0\.1:9102 is up again" "$(cat "$(wh_log main)")"

info "every tail refuses: the connection is closed, each tail counted down"
wh_create id dead url :9300 balance round-robin tail url :9401 tail url :9402 >/dev/null
wait_tcp_listen "$ns_host" 9300
assert_eq "nothing answers" "" "$(get 9300)"
wait_json dead conns_active 0
assert_eq "dead tails" 'round-robin: tcp://127.0.0.1:9401 (down, 0 active, 0 total, 1 failed), tcp://127.0.0.1:9402 (down, 0 active, 0 total, 1 failed)' "$(tail_of dead)"
assert_match "logged as every tail failed" "segment 'dead': .* -> round-robin: tcp://127\.0\.0\.1:9401, tcp://127\.0\.0\.1:9402: closed after .*: every tail failed" "$(cat "$(wh_log main)")"

info "restart: the state file keeps the tails"
grep -q '"words":\["id","rr","url",":9100","balance","round-robin","tail","url",":9101","tail","url",":9102","tail","url",":9103"\]' \
	"$wh_tmp/state-main/segments.json" || grep -q '"words":\["url",":9100","balance","round-robin","tail","url",":9101","tail","url",":9102","tail","url",":9103"\]' \
	"$wh_tmp/state-main/segments.json" || fail "state file lacks rr's words: $(cat "$wh_tmp/state-main/segments.json")"
stop_pid "${wh_daemon_pid[main]}"
wh_start_daemon main
wait_tcp_listen "$ns_host" 9100
assert_eq "rr restored" 'round-robin: tcp://127.0.0.1:9101 (up, 0 active, 0 total, 0 failed), tcp://127.0.0.1:9102 (up, 0 active, 0 total, 0 failed), tcp://127.0.0.1:9103 (up, 0 active, 0 total, 0 failed)' "$(tail_of rr)"
assert_match "ll restored" '^least-loaded: tcp://127\.0\.0\.1:9101 \(up' "$(tail_of ll)"
assert_eq "6 connections after the restart" "A=2 B=2 C=2 lost=0" "$(spread 9100 6)"

info "the README's example, as printed"
wh create id web url :8080 balance round-robin tail url :8081 tail url :8082 >/dev/null
bg_in "$ns_host" socat TCP4-LISTEN:8081,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo one"
bg_in "$ns_host" socat TCP4-LISTEN:8082,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo two"
wait_tcp_listen "$ns_host" 8081
wait_tcp_listen "$ns_host" 8082
wait_tcp_listen "$ns_host" 8080
got=""
for i in 1 2 3 4; do got+="$(get 8080) "; done
assert_eq "README example answers" "one two one two " "$got"
out=$(wh_create id app url :9090 balance least-loaded tail url :9091 tail url "unix://$wh_tmp/app.sock")
assert_eq "README's second example" "app tcp://127.0.0.1:9090" "$out"
bg_in "$ns_host" socat "UNIX-LISTEN:$wh_tmp/app.sock,fork" SYSTEM:"echo unix"
wait_tcp_listen "$ns_host" 9090
for _ in 1 2 3; do
	[[ -S $wh_tmp/app.sock ]] && break
	sleep 0.1
done
assert_eq "a unix tail among the tails (:9091 refuses)" "unix unix " "$(get 9090) $(get 9090) "
wh list
info "ok"
