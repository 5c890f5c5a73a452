#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 23-adopt-child: children adopt their containers across a restart like top segments. `site` is
# 09-nested's example (`url :8080 trigger docker-run 'web' child url :3306 trigger docker-run
# 'db'`, web relaying each connection to its own localhost:3306, where the child listens); `ch`
# is `url :9001 trigger chain url :9002 trigger url :3306 docker-run 'db2'`, whose chain child is
# created by the trigger and starts its own container on its own first connection. One
# connection to each starts all three containers. The daemon is stopped with SIGTERM, started
# again, killed with SIGKILL and started again: each time the three containers keep running,
# the children come back with the ids they had (their labels name them), the new daemon adopts
# every container (same ids, no "started container" in its log, exactly one container per
# segment, the orphan sweep takes none) and data goes end to end through both chains.
# A restart while Docker does not answer adopts nothing and removes nothing: the triggers re-arm
# still adopting, a connection meanwhile is closed, the state file keeps every segment triggered
# and the children's ids; once Docker answers (its socket appears) the next connections adopt
# all three containers. After another restart without Docker, stopped before Docker answers,
# the next restart, with Docker, adopts all three.
# `wormhole delete site` removes the parent, its child and both their containers; `delete ch`
# the rest.
#
#   netns wh-test-$$ ("host")     container web (site)                 container db (site's child)
#   +------------------------+    +-------------------------------+    +-------------------+
#   | client -> :8080 [whd] -+----+-> :8080 wh-echo --forward ---+ |    |                   |
#   |                        |    |   127.0.0.1:3306 [child head]<+-+----+-> :3306 wh-echo   |
#   |                        |    +-------------------------------+    +-------------------+
#   | client -> :9001 [whd] -> :9002 [ch's chain child] -----------------> db2 :3306 wh-echo |
#   +------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
state="$wh_tmp/state-main"
n_log=0


# child_of PARENT: the id of PARENT's child segment
child_of() {
	local i
	for i in $(wh_ids); do
		if [[ $(wh_json_get "$i" parent) == "$1" ]]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# check_all WHAT: every segment has its one container, the one it had from the start
check_all() {
	local seg want
	for seg in site "$site_child" ch "$ch_child"; do
		want=${cid[$seg]:-}
		assert_eq "$1: containers of '$seg'" "$want" "$(dk_mine "$seg")"
		[[ -z $want ]] && continue
		assert_eq "$1: the container of '$seg' runs" true "$(docker inspect -f '{{.State.Running}}' "$want")"
	done
	assert_eq "$1: containers of this daemon" 3 "$(dk_mine | wc -l)"
	assert_eq "$1: segments" "$(printf '%s\n' site "$site_child" ch "$ch_child" | sort | tr '\n' ' ')" "$(wh_ids)"
}

# check_adopted WHAT: the daemon now running adopted every container and serves through them
check_adopted() {
	local seg
	for seg in site "$site_child" "$ch_child"; do
		wait_for "$1: '$seg' adopts its container" 150 log_has "segment '$seg': adopted the running container"
	done
	for seg in site "$site_child" ch "$ch_child"; do
		assert_eq "$1: state of '$seg'" listening "$(wh_json_get "$seg" state)"
	done
	assert_eq "$1: the parent of site's child" site "$(wh_json_get "$site_child" parent)"
	assert_eq "$1: the parent of ch's child" ch "$(wh_json_get "$ch_child" parent)"
	assert_match "$1: site's child's head, inside web" "^tcp://docker:[^@]+@127.0.0.1:3306$" "$(wh_json_get "$site_child" head)"
	assert_match "$1: ch's tail is its child's head" "^tcp://127.0.0.1:9002$" "$(wh_json_get ch tail)"
	check_all "$1"
	tcp_echo_check "$ns_host" 127.0.0.1:8080 "$1: through web and db"
	tcp_echo_check "$ns_host" 127.0.0.1:9001 "$1: through ch's chain to db2"
	info "$1: the orphan sweep leaves them alone"
	sleep 2
	check_all "$1, after the sweep"
	assert_eq "$1: containers started by this daemon (log)" 0 "$(grep -c "started container" "$(wh_log main)")"
	assert_eq "$1: trigger runs counted by this daemon" 0 "$(grep -c "first connection, running the trigger" "$(wh_log main)")"
}

wh_start_daemon main
wh_create id site url :8080 \
	trigger docker-run "--network none --init $IMG wh-echo --forward 127.0.0.1:3306 8080" \
	child url :3306 trigger docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wh_create id ch url :9001 trigger chain url :9002 \
	trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wait_echo "$ns_host" 127.0.0.1:8080 "the first connection starts web, site's child and db" 300
wait_echo "$ns_host" 127.0.0.1:9001 "the first connection creates ch's child, which starts db2" 300
site_child=$(child_of site) || fail "site has no child"
ch_child=$(child_of ch) || fail "ch has no child"
declare -A cid
cid[site]=$(dk_mine site)
cid[$site_child]=$(dk_mine "$site_child")
cid[$ch_child]=$(dk_mine "$ch_child")
for seg in site "$site_child" "$ch_child"; do
	assert_eq "containers of '$seg'" 1 "$(wc -w <<<"${cid[$seg]}")"
done
assert_match "db carries its word's label" "^trig\.0$" \
	"$(docker inspect -f '{{index .Config.Labels "wormhole.word"}}' "${cid[$site_child]}")"
check_all "before the restarts"
for seg in site "$site_child" ch "$ch_child"; do
	wait_for "the state file has '$seg' triggered" 50 state_triggered "$seg"
done

stop_daemon TERM
assert_match "the exit leaves the child's container running" \
	"segment '$site_child': leaving container .* running" "$(cat "$wh_tmp/main.log.1")"
assert_match "the exit leaves the chain child's container running" \
	"segment '$ch_child': leaving container .* running" "$(cat "$wh_tmp/main.log.1")"
assert_eq "after SIGTERM: the containers of this daemon" \
	"$(printf '%s\n' "${cid[@]}" | sort)" "$(dk_mine | sort)"
wh_start_daemon main
check_adopted "after SIGTERM"
for seg in site "$site_child" ch "$ch_child"; do
	wait_for "the state file has '$seg' triggered again" 50 state_triggered "$seg"
done

stop_daemon KILL
assert_eq "after SIGKILL: the containers of this daemon" \
	"$(printf '%s\n' "${cid[@]}" | sort)" "$(dk_mine | sort)"
wh_start_daemon main
check_adopted "after SIGKILL"

info "a restart while Docker does not answer: nothing is adopted, nothing removed, nothing lost"
stop_daemon TERM
DOCKER_HOST="unix://$wh_tmp/no-docker.sock" wh_start_daemon main
wait_for "site defers its adoption" 150 log_has "segment 'site': cannot adopt what it had from before the restart (word [0-9]* 'docker-run': cannot ask Docker"
wait_for "ch's child defers its adoption" 150 log_has "segment '$ch_child': cannot adopt what it had from before the restart"
assert_eq "without Docker: state of site" armed "$(wh_json_get site state)"
assert_eq "without Docker: ch's child came back with its id" ch "$(wh_json_get "$ch_child" parent)"
assert_eq "without Docker: state of ch's child" armed "$(wh_json_get "$ch_child" state)"
got=$(printf 'x\n' | nh timeout 10 socat -t 5 - TCP:127.0.0.1:8080 2>/dev/null) || true
assert_eq "without Docker: a connection to site is closed" "" "$got"
wait_for "the waiting connection was closed for want of Docker" 50 log_has "Docker does not answer"
assert_eq "without Docker: the containers run on" "$(printf '%s\n' "${cid[@]}" | sort)" "$(dk_mine | sort)"
for seg in site "$site_child" ch "$ch_child"; do
	state_triggered "$seg" || fail "without Docker: the state file lost '$seg' triggered"
done
info "Docker answers again (its socket appears): the next connections adopt"
ln -s "${DOCKER_HOST#unix://}" "$wh_tmp/no-docker.sock"
wait_echo "$ns_host" 127.0.0.1:8080 "site's next connection adopts web, then its child db" 300
wait_echo "$ns_host" 127.0.0.1:9001 "ch's next connection: its child adopts db2" 300
for seg in site "$site_child" "$ch_child"; do
	wait_for "'$seg' adopts once Docker answers" 150 log_has "segment '$seg': adopted the running container"
done
check_all "Docker answers again"
assert_eq "Docker answers again: containers started (log)" 0 "$(grep -c "started container" "$(wh_log main)")"
rm "$wh_tmp/no-docker.sock"
info "the same restart without Docker, stopped while still without it"
stop_daemon TERM
DOCKER_HOST="unix://$wh_tmp/no-docker.sock" wh_start_daemon main
wait_for "site defers its adoption again" 150 log_has "segment 'site': cannot adopt what it had from before the restart"
wait_for "ch's child defers its adoption again" 150 log_has "segment '$ch_child': cannot adopt what it had from before the restart"
stop_daemon TERM
for seg in site "$site_child" ch "$ch_child"; do
	state_triggered "$seg" || fail "after a stop without Docker: the state file lost '$seg' triggered"
done
wh_start_daemon main
check_adopted "Docker back"

wh delete site
dk_wait_none_mine 150 site
dk_wait_none_mine 150 "$site_child"
echo "ok: deleting site removes both its containers" >&2
assert_eq "segments after deleting site" "$(printf '%s\n' ch "$ch_child" | sort | tr '\n' ' ')" "$(wh_ids)"
assert_eq "db2 still runs" "${cid[$ch_child]}" "$(dk_mine "$ch_child")"
wh delete ch
dk_wait_none_mine 150
assert_eq "segments at the end" "" "$(wh_ids)"
echo "PASS"
