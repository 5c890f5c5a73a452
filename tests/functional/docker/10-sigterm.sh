#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 10-sigterm: SIGTERM makes wormholed remove its docker-run containers before it exits: one made
# at create, one made by a trigger (after its first connection), with a client connection open
# through the first. Right after the exit (status 0), no container labelled for the daemon's
# socket remains, and a container it only followed (docker-ns) still runs.
#
#   netns wh-test-$$ ("host")                              containers
#   +-----------------------------------------------+      +------------------------------+
#   | held client --> :9000 [wormholed] ------------+------+-> wh-run-$$ (docker-run)      |
#   |                 :9001 [wormholed] trigger ----+------+-> wh-trig-$$ (docker-run)     |
#   |                 :9002 [wormholed] ------------+------+-> wh-keep-$$ (docker-ns: stays)|
#   |   kill -TERM <wormholed pid>                  |      +------------------------------+
#   +-----------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
run="wh-run-$$" trig="wh-trig-$$" keep="wh-keep-$$"
dk_names+=("$run" "$trig")
wh_start_daemon main
dk_run "$keep" wh-echo 3306
wh_create id atcreate url :9000 tail url :3306 docker-run "--network none --init --name $run $IMG wh-echo 3306" >/dev/null
wh_create id ontrigger url :9001 trigger url :3306 docker-run "--network none --init --name $trig $IMG wh-echo 3306" >/dev/null
wh_create id followed url :9002 tail url :3306 docker-ns "$keep" >/dev/null
dk_wait_listen "$run" 3306
wait_echo "$ns_host" 127.0.0.1:9001 "the trigger starts $trig" 200
tcp_echo_check "$ns_host" 127.0.0.1:9002 "echo via $keep"
assert_eq "containers of this daemon" 2 "$(dk_mine | wc -l)"

bg_in "$ns_host" sh -c "'$PYTHON' '$WH_NET' tcp-close-wait 127.0.0.1 9000 open >'$wh_tmp/client.out' 2>&1"
wait_json atcreate conns_active 1

pid=${wh_daemon_pid[main]}
info "kill -TERM $pid"
t0=$(date +%s%N)
kill -TERM "$pid"
for ((i = 0; i < 400; i++)); do
	alive "$pid" || break
	sleep 0.05
done
alive "$pid" && fail "wormholed still running 20 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
echo "ok: exited after $((($(date +%s%N) - t0) / 1000000)) ms" >&2
assert_eq "exit status after SIGTERM" 0 "$rc"
assert_eq "containers of this daemon right after its exit" "" "$(dk_mine)"
docker inspect "$run" >/dev/null 2>&1 && fail "$run still exists"
docker inspect "$trig" >/dev/null 2>&1 && fail "$trig still exists"
assert_eq "the followed container still runs" true "$(docker inspect -f '{{.State.Running}}' "$keep")"
[[ ! -e "$(wh_sock main)" ]] || fail "control socket still exists"
wait_for "the held client sees its connection closed" 50 grep -q '^closed after' "$wh_tmp/client.out"
grep -E "removed container|shutting down" "$(wh_log main)" >&2
echo "PASS"
