#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 18-emfile: when wormholed runs out of file descriptors it pauses accepting instead of spinning
# on a listener it cannot accept from, says so in its log, keeps its existing connections, and
# serves again once descriptors are free.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------+
#   | 60 held clients --> 127.0.0.1:9000 [wormholed, nofile soft 48 ] --> :9001 echo |
#   +------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

command -v prlimit >/dev/null || skip "prlimit (util-linux) is missing"

wh_setup
wh_start_daemon main
pid=${wh_daemon_pid[main]}
start_tcp_echo "$ns_host" 9001
wh_create id lim url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "before the limit"

info "lower wormholed's descriptor limit (soft) to 48 and hold 60 connections"
soft=$(prlimit --pid "$pid" --nofile --noheadings --output SOFT)
prlimit --pid "$pid" --nofile=48:
bg_in "$ns_host" "$PYTHON" -c '
import socket, time
held = []
for i in range(60):
    s = socket.socket()
    s.connect(("127.0.0.1", 9000))
    s.sendall(b"x")
    held.append(s)
time.sleep(30)
'
holder=$last_pid
wait_for "the pause in the log" 100 grep -q "pausing the listener" "$(wh_log main)" ||
	fail "no 'pausing the listener' line in the log"
echo "ok: $(grep -m1 'pausing the listener' "$(wh_log main)")" >&2

info "while out of descriptors, the daemon does not spin"
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
sleep 1 # measuring a rate over a fixed interval, not synchronising
after=$(cpu)
ticks=$((after - before))
hz=$(getconf CLK_TCK)
((ticks * 10 < hz * 2)) || fail "wormholed used $ticks/$hz s of CPU in 1 s while paused"
echo "ok: $ticks ticks of CPU in 1 s (CLK_TCK $hz)" >&2
alive "$pid" || fail "wormholed died"

info "descriptors free again: new connections are served"
stop_pid "$holder"
prlimit --pid "$pid" --nofile="$soft":
wait_all_idle 100 || true
tcp_echo_check "$ns_host" 127.0.0.1:9000 "after the limit"
echo "PASS"
