#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 45-ctl-dup-keys: an object with the same key twice is refused over the control socket (issue 10
# item 9; the first one used to win, so {"op":"ping","op":"delete",...} was a ping to one reader and
# a delete to another). The reply is an error naming the duplicate key, nothing is done, and the
# same connection still serves the next request.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------+
#   | python (raw JSON lines) --> [wormholed] control socket       |
#   +------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
start_tcp_echo "$ns_host" 9001
wh_create id keep url :9000 tail url :9001 >/dev/null
out=$(nh "$PYTHON" - "$(wh_sock main)" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
for req in (b'{"op":"delete","id":"keep","id":"nothing"}', b'{"op":"ping","op":"delete","id":"keep"}',
            b'{"op":"ping"}'):
    f.write(req + b"\n")
    f.flush()
    print(f.readline().decode().strip())
PY
)
echo "$out" >&2
l1=$(sed -n 1p <<<"$out")
l2=$(sed -n 2p <<<"$out")
l3=$(sed -n 3p <<<"$out")
assert_match "duplicate id" '"ok":false.*duplicate key' "$l1"
assert_match "duplicate op" '"ok":false.*duplicate key' "$l2"
assert_match "the connection still serves" '"ok":true' "$l3"
assert_eq "the segment is still there" keep "$(wh list -q)"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "the segment still serves"
echo "PASS"
