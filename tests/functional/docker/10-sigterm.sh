#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 10-sigterm: on SIGTERM wormholed ends every connection and exits 0. The docker-run containers
# of segments saved in the state file (created at run time: one made at create, one made by a
# trigger after its first connection, with a client connection open through the first) keep
# running, for the next start to adopt (21-adopt); the container of a chain-file segment is
# removed before the exit; a container it only followed (docker-ns) still runs.
#
#   netns wh-test-$$ ("host")                              containers
#   +-----------------------------------------------+      +-------------------------------+
#   | held client --> :9000 [wormholed] ------------+------+-> wh-run-$$ (docker-run: stays) |
#   |                 :9001 [wormholed] trigger ----+------+-> wh-trig-$$ (docker-run: stays)|
#   |                 :9002 [wormholed] ------------+------+-> wh-keep-$$ (docker-ns: stays) |
#   |                 :9003 [chain file filed] -----+------+-> wh-file-$$ (docker-run: gone) |
#   |   kill -TERM <wormholed pid>                  |      +-------------------------------+
#   +-----------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
run="wh-run-$$" trig="wh-trig-$$" keep="wh-keep-$$" file="wh-file-$$"
dk_names+=("$run" "$trig" "$file")
mkdir -p "$wh_tmp/chains-main"
printf "url :9003 tail url :3306 docker-run '--network none --init --name %s %s wh-echo 3306'\n" \
	"$file" "$IMG" >"$wh_tmp/chains-main/filed.chain"
wh_start_daemon main
dk_run "$keep" wh-echo 3306
wh_create id atcreate url :9000 tail url :3306 docker-run "--network none --init --name $run $IMG wh-echo 3306" >/dev/null
wh_create id ontrigger url :9001 trigger url :3306 docker-run "--network none --init --name $trig $IMG wh-echo 3306" >/dev/null
wh_create id followed url :9002 tail url :3306 docker-ns "$keep" >/dev/null
dk_wait_listen "$run" 3306
dk_wait_listen "$file" 3306
wait_echo "$ns_host" 127.0.0.1:9001 "the trigger starts $trig" 200
tcp_echo_check "$ns_host" 127.0.0.1:9002 "echo via $keep"
assert_eq "containers of this daemon" 3 "$(dk_mine | wc -l)"
state_has_triggered() { grep -q '"id":"ontrigger","port":9001,"triggered":true' "$wh_tmp/state-main/segments.json"; }
wait_for "the state file has ontrigger triggered" 50 state_has_triggered

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
assert_eq "containers of this daemon right after its exit" \
	"$(printf '%s\n' "$(dk_id "$run")" "$(dk_id "$trig")" | sort)" "$(dk_mine | sort)"
assert_eq "the container made at create runs on" true "$(docker inspect -f '{{.State.Running}}' "$run")"
assert_eq "the container made by the trigger runs on" true "$(docker inspect -f '{{.State.Running}}' "$trig")"
docker inspect "$file" >/dev/null 2>&1 && fail "$file (chain-file segment) still exists"
assert_eq "the followed container still runs" true "$(docker inspect -f '{{.State.Running}}' "$keep")"
[[ ! -e "$(wh_sock main)" ]] || fail "control socket still exists"
wait_for "the held client sees its connection closed" 50 grep -q '^closed after' "$wh_tmp/client.out"
grep -E "removed container|leaving container|shutting down" "$(wh_log main)" >&2
assert_eq "containers left running (log)" 2 "$(grep -c "leaving container" "$(wh_log main)")"
echo "PASS"
