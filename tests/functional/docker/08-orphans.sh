#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 08-orphans: a daemon killed with SIGKILL cannot remove its docker-run container; the container
# stays. A new daemon started on the same control socket path removes it (label
# wormhole.daemon=<that path>) within a bound, but leaves alone a container labelled for another
# daemon's socket path.
#
#   netns wh-test-$$ ("host")                         containers
#   +------------------------------------------+      +----------------------------------------+
#   | wormholed #1 (main.sock) --SIGKILL       |      | wh-orphan-$$  daemon=main.sock -> gone  |
#   | wormholed #2 (main.sock) removes orphans |      | wh-other-$$   daemon=other.sock -> stays|
#   +------------------------------------------+      +----------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
orphan="wh-orphan-$$" other="wh-other-$$"
dk_names+=("$orphan")
wh_start_daemon main
sock=$(wh_sock main)
dk_run "$other" -l "wormhole.daemon=$wh_tmp/other.sock" -l wormhole.segment=sk -- sleep 100000

wh_create id sk url :9000 tail url :3306 docker-run \
	"--network none --init --name $orphan $IMG wh-echo 3306" >/dev/null
dk_wait_listen "$orphan" 3306
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo before the kill"
id=$(dk_id "$orphan")
assert_eq "the container is labelled for $sock" "$id" "$(dk_mine sk)"

pid=${wh_daemon_pid[main]}
info "kill -KILL $pid"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
alive "$pid" && fail "wormholed survived SIGKILL"
sleep 1
assert_eq "the container outlives the killed daemon" true "$(docker inspect -f '{{.State.Running}}' "$orphan")"
cp "$(wh_log main)" "$wh_tmp/main.log.1"

info "a new daemon on the same socket path"
wh_start_daemon main
dk_wait_none_mine 150
echo "ok: no container labelled for $sock" >&2
docker inspect "$orphan" >/dev/null 2>&1 && fail "$orphan still exists"
assert_match "the removal is logged" "removed container ${id:0:12} left behind by an earlier run" "$(cat "$(wh_log main)")"
assert_eq "the other daemon's container is left alone" true "$(docker inspect -f '{{.State.Running}}' "$other")"
assert_eq "segments of the new daemon" "" "$(wh_ids)"

info "the new daemon works"
wh_create id sk2 url :9000 tail url :3306 docker-ns "$other" >/dev/null
assert_eq "state" listening "$(wh_json_get sk2 state)"
echo "PASS"
