#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 56-fault-sigkill-restart: SIGKILL with live connections, segments and a unix head. The kernel
# closes everything; the stale control socket and the stale unix head are taken over by a new
# daemon on the same paths, which answers ping within 100 ms, serves the same segments again, and
# with them holds exactly the descriptors the first one held at its baseline.
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   | 50 held clients --> :9000 "victim" [wormholed] --> :9001 echo                    |
#   | socat --> unix $tmp/u.sock "uhead" -------------> :9001 echo                     |
#   | socat --> :9100 "other" -------------------------> :9001 echo                    |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
usock=$wh_tmp/u.sock
create_all() {
	wh_create id victim url :9000 tail url :9001 >/dev/null
	wh_create id uhead url "unix://$usock" tail url :9001 >/dev/null
	wait_tcp_listen "$ns_host" 9000
	wait_unix_listen "$ns_host" "$usock"
}
create_all
fault_baseline
first_base=$base_fds

bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" hold 9000 50 x >"$wh_tmp/hold.out"
holder=$last_pid
wait_for "50 connections held" 100 grep -q "open 50," "$wh_tmp/hold.out"

info "SIGKILL"
kill -KILL "$fault_pid"
wait "$fault_pid" || true
[[ -S $(wh_sock main) ]] || fail "expected the stale control socket to stay after SIGKILL"
[[ -S $usock ]] || fail "expected the stale unix head to stay after SIGKILL"
stop_pid "$holder"

info "restart on the same paths"
wh_daemons=()
wh_start_daemon main
fault_pid=${wh_daemon_pid[main]}
# the segments come back from the state directory; the stale unix socket is taken over
wait_tcp_listen "$ns_host" 9100
wait_tcp_listen "$ns_host" 9000
wait_unix_listen "$ns_host" "$usock"
got=$(echo via-unix | nh timeout 10 socat -t 5 - "UNIX-CONNECT:$usock")
assert_eq "the unix head serves again" via-unix "$got"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "'victim' serves again"
fault_baseline
assert_eq "descriptors of the new daemon" "$first_base" "$base_fds"
fault_recovered "restart after SIGKILL"
echo "PASS"
