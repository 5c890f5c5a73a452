#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 12-interrupted-create: a create that waits (here: an image pull from a "registry" on the host's
# loopback that accepts and never answers) is undone when its CLI goes away: the CLI is killed,
# the daemon logs that the client went away, nothing is listed, no listener is left, and no
# container labelled for this daemon exists. The daemon keeps serving.
#
#   host loopback                                  netns wh-test-$$ ("host" of the test)
#   +-------------------------------------------+  +-------------------------------------+
#   | dockerd --pull--> 127.0.0.1:P socat (mute) |  | wormhole create ... docker-run ...  |
#   +-------------------------------------------+  |   (killed while the pull hangs)     |
#                                                  +-------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
wh_start_daemon main

port=$((16000 + $$ % 1000))
info "a registry that accepts and never answers, on the host's 127.0.0.1:$port"
socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork SYSTEM:"sleep 60" &
mute=$!
wh_pids+=("$mute")
for ((i = 0; i < 100; i++)); do
	ss -Htln "sport = :$port" | grep -q . && break
	sleep 0.05
done

"$WORMHOLE" -H "unix://$(wh_sock main)" create id stuck url :9000 tail url :3306 \
	docker-run "--network none --init 127.0.0.1:$port/wh/hang:1 wh-echo 3306" \
	>"$wh_tmp/create.out" 2>"$wh_tmp/create.err" &
cli=$!
wait_for "the segment's creation to be under way" 100 \
	sh -c "ss -Htn 'dport = :$port' | grep -q ." ||
	fail "dockerd never connected to the mute registry"
kill -TERM "$cli" # (a background job ignores SIGINT in a script)
wait "$cli" 2>/dev/null && fail "the interrupted create exited 0"

wait_for "the daemon to notice" 100 grep -q "went away during its creation" "$(wh_log main)" ||
	fail "no 'went away during its creation' line in the log"
assert_eq "segments after the interrupted create" "" "$(wh list --json | "$PYTHON" "$WH_NET" json-ids)"
tcp_listening "$ns_host" 9000 && fail "port 9000 listens after the interrupted create"
[[ -z $(dk_mine) ]] || fail "containers labelled for this daemon exist: $(dk_mine)"
wh ping >/dev/null || fail "the daemon does not answer any more"
echo "PASS"
