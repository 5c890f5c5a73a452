#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 13-connect-retry: a daemon given --connect-timeout 30 retries every refused tail: the tail
# refuses at first (nothing listens on 9001); a client connects and sends a line; the backend
# starts 1.5 s later, within the connect timeout, and the client still gets its echo over the same
# connection. Then a second daemon with --connect-timeout 1 and no backend at all: its client is
# closed after about 1 s (0.7..4 s), with no data, and the daemon logs a line for the segment
# saying why. Last, a daemon without --connect-timeout: a plain url tail that refuses (no trigger,
# no container: nothing is starting) fails its client at once (under 0.5 s), "refused" in the log.
#
#   netns wh-test-$$ ("host")
#   +-----------------------------------------------------------------------------------+
#   | client --> :9000 [wormholed main]          --> :9001 (refused, then socat echo)    |
#   | client --> :9100 [wormholed short, -t 1s]  --> :9101 (nothing, ever)              |
#   | client --> :9200 [wormholed plain]         --> :9201 (nothing, ever)              |
#   +-----------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main --connect-timeout 30
wh_create id retry url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000

bg_in "$ns_host" sh -c "printf 'late backend\n' | timeout 20 socat -t 15 - TCP:127.0.0.1:9000 >'$wh_tmp/client.out' 2>&1"
client=$last_pid
wait_json retry conns_active 1
t0=$(date +%s.%N)
info "backend starts in 1.5 s (a deliberate delay, not a synchronisation)"
sleep 1.5
start_tcp_echo "$ns_host" 9001
wait "$client" || true
t1=$(date +%s.%N)
assert_eq "echo after the backend came up" "late backend" "$(cat "$wh_tmp/client.out")"
echo "ok: answered $(echo "$t1 - $t0" | bc 2>/dev/null || echo '?') s after the client connected" >&2
wait_json retry conns_active 0
assert_eq "conns_total" 1 "$(wh_json_get retry conns_total)"

info "--connect-timeout 1 and no backend"
wh_start_daemon short --connect-timeout 1
out=$(whd short create id dead url :9100 tail url :9101) || fail "create on 'short' failed"
wait_tcp_listen "$ns_host" 9100
res=$(nh timeout 20 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 9100 hello)
echo "$res" >&2
assert_match "client closed with no data" "^closed after [0-9.]+ s, 0 bytes$" "$res"
secs=$(sed -E 's/^closed after ([0-9.]+) s.*/\1/' <<<"$res")
"$PYTHON" -c "import sys; sys.exit(not (0.7 <= float('$secs') <= 4.0))" ||
	fail "client closed after $secs s, expected about 1 s (0.7..4)"
echo "ok: closed after $secs s" >&2
# the connection's log line names the segment and the reason
reason="[Tt]ime[d]? ?out|[Rr]efused|ETIMEDOUT|ECONNREFUSED"
wait_for "a log line naming 'dead' and why it closed" 30 \
	grep -Eq "dead.*($reason)|($reason).*dead" "$(wh_log short)"
echo "log: $(grep -E "dead.*($reason)|($reason).*dead" "$(wh_log short)" | tail -n1)" >&2

info "no --connect-timeout, a plain url tail that refuses: the client is closed at once"
wh_start_daemon plain
whd plain create id down url :9200 tail url :9201 >/dev/null || fail "create on 'plain' failed"
wait_tcp_listen "$ns_host" 9200
res=$(nh timeout 20 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 9200 hello)
echo "$res" >&2
assert_match "client closed with no data" "^closed after [0-9.]+ s, 0 bytes$" "$res"
secs=$(sed -E 's/^closed after ([0-9.]+) s.*/\1/' <<<"$res")
"$PYTHON" -c "import sys; sys.exit(not (float('$secs') < 0.5))" ||
	fail "client closed after $secs s, expected at once (< 0.5 s)"
echo "ok: closed after $secs s" >&2
wait_for "a log line naming 'down' and 'refused'" 30 grep -Eq "down.*[Rr]efused" "$(wh_log plain)"
echo "PASS"
