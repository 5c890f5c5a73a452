#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 58-fault-idle-timeout: with --idle-timeout 1, a TCP connection quiet both ways is closed between
# 1 and 1.5 s (plus scheduling) after its last byte, with "idle timeout" in its log line; one that
# moves a byte every 0.3 s lives on; 200 idle clients all go, and descriptors and RSS are back
# at the baseline without anyone closing them (issue 10 item 7: idle connections no longer hold
# descriptors forever).
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------+
#   | whnet tcp-close-wait / 200 held --> :9000 "victim" [wormholed --idle-timeout 1] |
#   |                                       --> :9002 sink-server                    |
#   | socat --> :9100 "other" --------------> :9001 echo                             |
#   +------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup --idle-timeout 1
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" sink-server 9002
wait_tcp_listen "$ns_host" 9002
wh_create id victim url :9000 tail url :9002 >/dev/null
wait_tcp_listen "$ns_host" 9000
fault_baseline

res=$(nh timeout 20 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 9000 hello)
echo "$res" >&2
secs=$(sed -n 's/^closed after \([0-9.]*\) s.*/\1/p' <<<"$res")
[[ -n $secs ]] || fail "unexpected: $res"
"$PYTHON" -c "import sys; sys.exit(not (0.9 <= $secs <= 2.5))" ||
	fail "a quiet connection was closed after $secs s (expected 1..1.5 s, 2.5 s with slack)"
echo "ok: a quiet connection closed after $secs s" >&2
grep -q "segment 'victim'.*idle timeout" "$(wh_log main)" || fail "no 'idle timeout' log line"

info "a connection with a byte every 0.3 s for 3 s lives on"
res=$(nh timeout 20 "$PYTHON" -c '
import socket, sys, time
c = socket.create_connection(("127.0.0.1", 9000))
c.settimeout(0.01)
for i in range(10):
    c.send(b"k")
    time.sleep(0.3)
    try:
        if c.recv(1) == b"":
            print("closed at %d" % i); sys.exit(1)
    except socket.timeout:
        pass
print("alive")')
assert_eq "a busy connection" alive "$res"

info "200 idle clients"
bg_in "$ns_host" "$PYTHON" "$WH_FAULT_TOOL" hold 9000 200 >"$wh_tmp/hold.out"
wait_for "200 connections held" 100 grep -q opened "$wh_tmp/hold.out"
wait_json victim conns_active 0 50
fault_recovered "idle connections timed out"
echo "PASS"
