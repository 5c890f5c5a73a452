#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 42-ctl-path: `wormholed -H unix://PATH` only ever replaces a stale socket (issue 10 item 6).
# A regular file (or a symlink) at PATH is left alone and the daemon exits with an error; a socket
# a live daemon answers on gives "already in use" and the first daemon keeps serving; a socket
# nobody listens on any more is taken over.
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
f="$wh_tmp/f"
echo x >"$f"
rc=0
out=$(nh timeout 5 "$WORMHOLED" --state "$wh_tmp/st-f" --chains "$wh_tmp/ch" -H "unix://$f" 2>&1) || rc=$?
echo "$out" >&2
[[ $rc -ne 0 ]] || fail "wormholed started on a regular file"
assert_eq "the file is intact" "x" "$(cat "$f")"
assert_match "error says why" "not a socket" "$out"

ln -s "$f" "$wh_tmp/link"
rc=0
nh timeout 5 "$WORMHOLED" --state "$wh_tmp/st-link" --chains "$wh_tmp/ch" -H "unix://$wh_tmp/link" >/dev/null 2>&1 || rc=$?
[[ $rc -ne 0 && -L $wh_tmp/link ]] || fail "wormholed replaced a symlink"
assert_eq "the symlink's target is intact" "x" "$(cat "$f")"

wh_start_daemon main
rc=0
out=$(nh timeout 5 "$WORMHOLED" --state "$wh_tmp/st-main2" --chains "$wh_tmp/ch" -H "unix://$(wh_sock main)" 2>&1) || rc=$?
echo "$out" >&2
[[ $rc -ne 0 ]] || fail "a second wormholed started on a live socket"
assert_match "error says in use" "already in use" "$out"
wh ping >/dev/null || fail "the first daemon stopped answering"

stale="$wh_tmp/stale.sock"
"$PYTHON" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$stale"
[[ -S $stale ]] || fail "no stale socket made"
wh_start_daemon stale
echo "ok: stale socket taken over" >&2
echo "PASS"
