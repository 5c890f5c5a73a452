#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 20-remote-docker-ns: the README's example `url :3306 remote HOST tail url :3306 docker-ns C`
# across two hosts with a real container. On B, container C (--network none) runs an echo server
# on its own 127.0.0.1:3306, which B's namespace cannot reach without the daemon; A's :3306 leads
# over the peer link to B, whose daemon opens the tail inside C's namespace. A line and 256 KiB
# come back exact; B's list shows the remote segment with its tail in C; delete on A removes it
# on B, and C (which wormhole did not start) keeps running.
#
#   A (wh-a-$$) 198.18.0.1                          B (wh-b-$$) 198.18.0.2      container C
#   client -> :3306 [wormholed A] ==TLS :9999==> [wormholed B] --setns--> 127.0.0.1:3306 echo
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../lib/peers.sh
source "$WH_REPO/tests/lib/peers.sh"

dk_setup
peers_setup
db="wh-rdb-$$"
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b
wait_tcp_listen "$ns_b" 9999
dk_run "$db" wh-echo 3306
dk_wait_listen "$db" 3306

if in_ns "$ns_b" timeout 5 socat -u /dev/null TCP:127.0.0.1:3306 2>/dev/null; then
	fail "127.0.0.1:3306 reachable from B's namespace; the test topology is wrong"
fi

out=$(whd a create url :3306 remote 198.18.0.2 tail url :3306 docker-ns "$db") || fail "create failed"
assert_match "create output" '^[a-z0-9-]+ tcp://127\.0\.0\.1:3306$' "$out"
id=${out%% *}
wait_tcp_listen "$ns_a" 3306
tcp_echo_check "$ns_a" 127.0.0.1:3306 "through the link into the container"
head -c 262144 /dev/urandom >"$wh_tmp/in"
in_ns "$ns_a" timeout 20 socat -t 15 - TCP:127.0.0.1:3306 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "256 KiB through the link and the container" "$wh_tmp/in" "$wh_tmp/out"

rid=$(segments b)
assert_match "remote id" "^$id\\.[0-9a-f]{6}\$" "$rid"
tail_b=$("$WORMHOLE" -H "unix://$(wh_sock b)" list --json |
	"$PYTHON" -c 'import json,sys; print([s["tail"] for s in json.load(sys.stdin)["segments"]][0])')
assert_eq "B's tail" "tcp://docker:$db@127.0.0.1:3306" "$tail_b"

whd a delete "$id"
for ((i = 0; i < 100; i++)); do
	[[ -z $(segments b) ]] && break
	sleep 0.05
done
assert_eq "B after the delete" "" "$(segments b)"
assert_eq "C still runs" "true" "$(docker inspect -f '{{.State.Running}}' "$db")"
echo "PASS"
