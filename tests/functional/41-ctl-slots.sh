#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 41-ctl-slots: control slots cannot be used up (issue 10 item 4). 300 root connections that send
# nothing (more than the 256 slots) do not lock root out: `wormhole ping` still answers, and the
# daemon closes all of them within its idle timeout (5 s, well under 15 s here). A non-root peer
# (the socket opened to everyone) gets its error line and is closed at once, without sending
# anything.
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------+
#   | ctl-client.py idle 300 (root) --> [wormholed] <-- wormhole ping |
#   | ctl-client.py idle 1 (nobody) -->                              |
#   +-------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
client="$(dirname "$0")/ctl-client.py"
wh_start_daemon main
sock=$(wh_sock main)

bg_in "$ns_host" "$PYTHON" "$client" idle "$sock" 300 15
idle=$last_pid
sleep 1
wh ping >/dev/null || fail "root locked out by 300 idle connections"
echo "ok: root still gets through" >&2
wait "$idle" || fail "idle connections were not closed within 15 s"
echo "ok: idle connections closed" >&2

if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	chmod 0755 "$wh_tmp"
	chmod 0666 "$sock"
	chmod 0755 "$(dirname "$client")" 2>/dev/null || true
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 5 "$PYTHON" "$client" idle "$sock" 1 1) ||
		fail "a non-root connection was not closed within 1 s: $out"
	echo "ok: non-root peer closed at once: $out" >&2
fi
echo "PASS"
