#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 21-adopt: a restored segment adopts the container its trigger had started. `web` (url :9000
# trigger ... docker-run) is created at run time, so it is saved in the state file; its first
# connection starts its container. The daemon is stopped with SIGTERM, started again, killed with
# SIGKILL, started again: each time the container keeps running, the new daemon adopts it (same
# id, exactly one container labelled for web, no "started container" in its log), `list` shows
# web triggered (listening) and a connection goes through it. `wormhole delete web` then removes
# it. A second segment `gone`, whose container is removed while the daemon is down, comes back
# armed and its next connection starts a fresh container. web's container, stopped while the
# daemon is down, is started again by the restore (same id). A third, `lazy` (`idle 6s`), is
# adopted `running` after the SIGTERM restart and its idle timer then stops and removes the
# adopted container.
#
#   netns wh-test-$$ ("host")                              containers
#   +-----------------------------------------------+      +-----------------------------------+
#   | client --> :9000 [wormholed #1, #2, #3] ------+------+-> web's (docker-run, trigger):     |
#   |                                               |      |   started by #1, adopted by #2, #3 |
#   | client --> :9001 [wormholed] -----------------+------+-> gone's: removed while down,      |
#   |                                               |      |   a new one on the next connection |
#   +-----------------------------------------------+      +-----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
state="$wh_tmp/state-main"
n_log=0

state_is() { [[ $(wh_json_get "$1" state) == "$2" ]]; }
state_not_triggered() { ! state_triggered "$1"; }

# check_adopted WHAT: web's container $web_id was adopted by the daemon now running
check_adopted() {
	wait_for "$1: web adopts its container" 150 log_has "segment 'web': adopted the running container"
	assert_eq "$1: web's containers" "$web_id" "$(dk_mine web)"
	assert_eq "$1: the container still runs" true "$(docker inspect -f '{{.State.Running}}' "$web_id")"
	assert_eq "$1: state of web" listening "$(wh_json_get web state)"
	assert_match "$1: tail of web" "^tcp://docker:[^@]+@127.0.0.1:3306$" "$(wh_json_get web tail)"
	tcp_echo_check "$ns_host" 127.0.0.1:9000 "$1: through the adopted container"
	assert_eq "$1: still the same container" "$web_id" "$(dk_mine web)"
	assert_eq "$1: containers started by this daemon (log)" 0 "$(grep -c "started container" "$(wh_log main)")"
	assert_eq "$1: trigger runs counted by this daemon" 0 "$(grep -c "first connection, running the trigger" "$(wh_log main)")"
}

wh_start_daemon main
wh_create id web url :9000 trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wh_create id lazy url :9002 idle 6s trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wh_create id gone url :9001 trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wait_echo "$ns_host" 127.0.0.1:9000 "the first connection starts web's container" 200
wait_echo "$ns_host" 127.0.0.1:9001 "the first connection starts gone's container" 200
web_id=$(dk_mine web)
gone_id=$(dk_mine gone)
assert_eq "containers of web" 1 "$(wc -w <<<"$web_id")"
assert_eq "containers of gone" 1 "$(wc -w <<<"$gone_id")"
assert_match "web's container carries its word's label" "^trig\.1$" \
	"$(docker inspect -f '{{index .Config.Labels "wormhole.word"}}' "$web_id")"
wait_for "the state file has web triggered" 50 state_triggered web
wait_for "the state file has gone triggered" 50 state_triggered gone
wait_echo "$ns_host" 127.0.0.1:9002 "the first connection starts lazy's container" 200
lazy_id=$(dk_mine lazy)
assert_eq "containers of lazy" 1 "$(wc -w <<<"$lazy_id")"
assert_match "lazy: state" "^running" "$(wh_json_get lazy state)"
wait_for "the state file has lazy triggered (running)" 50 state_triggered lazy

stop_daemon TERM
assert_eq "after SIGTERM: web's container runs on" true "$(docker inspect -f '{{.State.Running}}' "$web_id")"
assert_match "the exit says why it stays" "leaving container .* running" "$(cat "$wh_tmp/main.log.1")"
assert_eq "after SIGTERM: the containers of this daemon" "$(printf '%s\n' "$web_id" "$gone_id" "$lazy_id" | sort)" "$(dk_mine | sort)"
info "gone's container is removed while the daemon is down"
dk rm -f "$gone_id" >/dev/null

wh_start_daemon main
check_adopted "after SIGTERM"
wait_for "gone re-arms" 150 log_has "segment 'gone': nothing to adopt from before the restart"
assert_eq "gone: state" armed "$(wh_json_get gone state)"
assert_eq "gone: no container" "" "$(dk_mine gone)"
wait_for "lazy adopts its container" 150 log_has "segment 'lazy': adopted the running container"
assert_eq "lazy: the same container" "$lazy_id" "$(dk_mine lazy)"
assert_match "lazy: state after the adoption" "^running" "$(wh_json_get lazy state)"
info "lazy's idle timer stops the adopted container"
dk_wait_none_mine 200 lazy
wait_for "lazy is armed again" 50 state_is lazy armed
wait_for "the state file has lazy armed" 50 state_not_triggered lazy

stop_daemon KILL
assert_eq "after SIGKILL: web's container runs on" true "$(docker inspect -f '{{.State.Running}}' "$web_id")"
wh_start_daemon main
check_adopted "after SIGKILL"
assert_eq "gone: still armed" armed "$(wh_json_get gone state)"
assert_eq "gone: still no container" "" "$(dk_mine gone)"

info "gone's next connection starts a fresh container"
wait_echo "$ns_host" 127.0.0.1:9001 "gone's next connection" 200
new_id=$(dk_mine gone)
assert_eq "gone: one container" 1 "$(wc -w <<<"$new_id")"
[[ $new_id != "$gone_id" ]] || fail "gone's container has its old id"
assert_eq "gone: state" listening "$(wh_json_get gone state)"

info "the orphan sweep after the restore left web's container alone"
sleep 1
assert_eq "web's container" "$web_id" "$(dk_mine web)"

info "web's container is stopped while the daemon is down: the restore starts it again"
stop_daemon TERM
dk stop -t 2 "$web_id" >/dev/null
assert_eq "web's container is stopped" false "$(docker inspect -f '{{.State.Running}}' "$web_id")"
wh_start_daemon main
wait_for "web starts its stopped container" 150 log_has "segment 'web': started kept container"
assert_match "the log says why" "segment 'web': container .* from before the restart is stopped, starting it" "$(cat "$(wh_log main)")"
assert_eq "web: the same container" "$web_id" "$(dk_mine web)"
assert_eq "web: it runs again" true "$(docker inspect -f '{{.State.Running}}' "$web_id")"
assert_eq "web: state" listening "$(wh_json_get web state)"
tcp_echo_check "$ns_host" 127.0.0.1:9000 "through the container started again"

wh delete web
dk_wait_none_mine 150 web
echo "ok: delete removes the adopted container" >&2
assert_eq "lazy: still armed, no container" "armed " "$(wh_json_get lazy state) $(dk_mine lazy)"
wh delete gone
wh delete lazy
dk_wait_none_mine 150
echo "PASS"
