#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 17-trigger-rearm: `url :9000 trigger url N@:9001` where netns N does not exist. The first
# connection runs the trigger, which fails: that client is closed (no data), the daemon logs why
# (naming the netns), and the segment stays "armed". Then N is created with a backend inside, and
# the next connection runs the trigger again, succeeds, and gets its echo; state "listening".
#
#   netns wh-test-$$ ("host")                        netns wh-late-$$ (N, made after the failure)
#   +--------------------------------------------+   +-------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] -----+---+--> 127.0.0.1:9001 socat echo |
#   +--------------------------------------------+   +-------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
ns_n="wh-late-$$"
wh_start_daemon main
wh_create id rearm url :9000 trigger url "$ns_n@:9001" >/dev/null
wait_tcp_listen "$ns_host" 9000
assert_eq "state after create" "armed" "$(wh_json_get rearm state)"

info "first connection: the trigger fails"
res=$(nh timeout 20 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 9000 hello)
echo "$res" >&2
assert_match "client closed without data" "^closed after [0-9.]+ s, 0 bytes$" "$res"
secs=$(sed -E 's/^closed after ([0-9.]+) s.*/\1/' <<<"$res")
"$PYTHON" -c "import sys; sys.exit(not float('$secs') < 5.0)" || fail "closing took $secs s"
wait_for "a log line naming the missing netns and why" 30 grep -Eq -- "$ns_n.*No such file or directory" "$(wh_log main)"
echo "log: $(grep -- "$ns_n" "$(wh_log main)" | tail -n1)" >&2
assert_eq "state after the failed trigger" "armed" "$(wh_json_get rearm state)"
if ! tcp_listening "$ns_host" 9000; then
	fail "the head stopped listening after the failed trigger"
fi

info "the netns appears; the next connection re-runs the trigger"
ns_add "$ns_n"
start_tcp_echo "$ns_n" 9001
tcp_echo_check "$ns_host" 127.0.0.1:9000 "connection after re-arm"
assert_eq "state after the successful trigger" "listening" "$(wh_json_get rearm state)"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "one more connection"
wait_json rearm conns_active 0
assert_eq "conns_total" 3 "$(wh_json_get rearm conns_total)"
echo "PASS"
