#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 59-fault-unix-unlink: a segment's unix head is removed on delete only if it still is the socket
# the daemon bound (issue 10 item 5). Before the delete, the head's directory is swapped for a
# symlink to a directory holding a file of the same name; the delete must leave that file alone
# (it used to unlink it by path). A head whose socket file was replaced by a regular file is left
# alone too; an untouched one is removed. The daemon answers ping, "other" serves, descriptors and
# RSS are back at the baseline.
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------+
#   | unix $tmp/d/h.sock "swapped" / $tmp/e/h.sock "replaced" / $tmp/f/h.sock   |
#   |   [wormholed] --> :9001 echo                                              |
#   +-------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/faults.sh
source "$(dirname "$0")/../lib/faults.sh"

fault_setup
fault_baseline
mkdir -p "$wh_tmp/d" "$wh_tmp/e" "$wh_tmp/f" "$wh_tmp/victim"
wh_create id swapped url "unix://$wh_tmp/d/h.sock" tail url :9001 >/dev/null
wh_create id replaced url "unix://$wh_tmp/e/h.sock" tail url :9001 >/dev/null
wh_create id plain url "unix://$wh_tmp/f/h.sock" tail url :9001 >/dev/null
[[ -S $wh_tmp/d/h.sock && -S $wh_tmp/e/h.sock && -S $wh_tmp/f/h.sock ]] || fail "heads not bound"

info "swap d for a symlink to a directory holding a file h.sock; replace e/h.sock by a file"
echo precious >"$wh_tmp/victim/h.sock"
mv "$wh_tmp/d" "$wh_tmp/d.old"
ln -s "$wh_tmp/victim" "$wh_tmp/d"
rm "$wh_tmp/e/h.sock"
echo mine >"$wh_tmp/e/h.sock"

wh delete swapped
wh delete replaced
wh delete plain
assert_eq "the file behind the symlink" precious "$(cat "$wh_tmp/victim/h.sock")"
assert_eq "the file that replaced a head" mine "$(cat "$wh_tmp/e/h.sock")"
[[ -e $wh_tmp/f/h.sock ]] && fail "the untouched head's socket was not removed"
echo "ok: the untouched head's socket is gone" >&2
grep -q "is no longer the socket it bound" "$(wh_log main)" || fail "no log line about leaving a file alone"
fault_recovered "unix heads deleted"
echo "PASS"
