#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 04-stopped: while the tail's container is stopped, a new connection to the head is closed (or
# refused) at once, not after --connect-timeout, and the daemon logs "container 'NAME' stopped;
# new connections are refused"; `docker start` makes the segment work again (bounded poll).
# The daemon runs with --connect-timeout 20 so that waiting for the dead tail would show.
#
#   netns wh-test-$$ ("host")                          container wh-db-$$ (stopped, started)
#   +----------------------------------------------+   +--------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] -------+---+--> 127.0.0.1:3306 wh-echo 3306 |
#   +----------------------------------------------+   +--------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
db="wh-db-$$"
wh_start_daemon main --connect-timeout 20
dk_run "$db" wh-echo 3306
dk_wait_listen "$db" 3306
wh_create id db url :9000 tail url :3306 docker-ns "$db" >/dev/null
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "while $db runs"

# _stopped_logged N: the log says N times that the container stopped
_stopped_logged() {
	[[ $(grep -c "container '$db' stopped; new connections are refused" "$(wh_log main)") -ge $1 ]]
}

# closed_at_once WHAT: a client connecting now is refused, or closed within 2 s with 0 bytes
closed_at_once() {
	local out
	out=$(nh timeout 25 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 9000 "hello?" 2>&1) || true
	echo "client: $out" >&2
	case $out in
	*ConnectionRefusedError*) echo "ok: $1: refused" >&2 ;;
	"closed after "[01].*" s, 0 bytes") echo "ok: $1: closed at once, nothing received" >&2 ;;
	*) fail "$1: expected refused or closed at once with 0 bytes, got: $out" ;;
	esac
}

for round in 1 2; do
	info "stop $db (round $round)"
	dk stop -t 5 "$db" >/dev/null
	wait_for "the log says $db stopped (line $round)" 100 _stopped_logged "$round"
	grep "container '$db' stopped" "$(wh_log main)" | tail -n 1 >&2
	closed_at_once "connection while $db is stopped (round $round)"
	closed_at_once "second connection while $db is stopped (round $round)"
	tcp_listening "$ns_host" 9000 || fail "the head stopped listening while $db is stopped"

	info "start $db again"
	dk start "$db" >/dev/null
	dk_wait_listen "$db" 3306
	wait_echo "$ns_host" 127.0.0.1:9000 "echo works again after docker start (round $round)" 100
	tcp_echo_check "$ns_host" 127.0.0.1:9000 "and again (round $round)"
done
assert_match "the refused connections are logged" "closed after [0-9.]+ s, 0 bytes in, 0 bytes out: .*container is not running" "$(cat "$(wh_log main)")"
assert_eq "state" listening "$(wh_json_get db state)"
echo "PASS"
