#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 01-docker-ns-tail: `url :P tail url :3306 docker-ns C` reaches a server that listens only on
# container C's own 127.0.0.1:3306 (the daemon's namespace has nothing there), with C given by
# name, by full id and by a unique id prefix; `list` shows the tail as tcp://docker:NAME@...
# A missing container is "No such container: x" (exit 1) and an ambiguous prefix is exit 1 with
# a message listing the matching containers; neither leaves a segment behind.
#
#   netns wh-test-$$ ("host")                        container wh-db-$$ (--network none)
#   +--------------------------------------------+   +-----------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] -----+---+--> 127.0.0.1:3306 wh-echo 3306     |
#   |            127.0.0.1:9001 (by full id) ----+---+-->       "                         |
#   |            127.0.0.1:9002 (by prefix) -----+---+-->       "                         |
#   |            127.0.0.1:3306: nothing         |   | (socket made in C's netns by setns)|
#   +--------------------------------------------+   +-----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
db="wh-db-$$"
wh_start_daemon main
dk_run "$db" wh-echo 3306
dk_wait_listen "$db" 3306
id=$(dk_id "$db")

if nh timeout 5 socat -u /dev/null TCP:127.0.0.1:3306 2>/dev/null; then
	fail "127.0.0.1:3306 reachable from the daemon's namespace; the test topology is wrong"
fi

out=$(wh_create id byname url :9000 tail url :3306 docker-ns "$db")
assert_eq "create by name" "byname tcp://127.0.0.1:9000" "$out"
assert_eq "tail in list" "tcp://docker:$db@127.0.0.1:3306" "$(wh_json_get byname tail)"
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo via the name"
head -c 262144 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "256 KiB through the container" "$wh_tmp/in" "$wh_tmp/out"

out=$(wh_create id byid url :9001 tail url :3306 docker-ns "$id")
assert_eq "create by full id" "byid tcp://127.0.0.1:9001" "$out"
tcp_echo_check "$ns_host" 127.0.0.1:9001 "echo via the full id"

out=$(wh_create id byprefix url :9002 tail url :3306 docker-ns "${id:0:12}")
assert_eq "create by prefix" "byprefix tcp://127.0.0.1:9002" "$out"
tcp_echo_check "$ns_host" 127.0.0.1:9002 "echo via the prefix ${id:0:12}"
assert_eq "tail in list (prefix resolved to the name)" "tcp://docker:$db@127.0.0.1:3306" \
	"$(wh_json_get byprefix tail)"

before=$(wh_ids)
info "no such container"
wh_fails "missing container" 1 "$wh_tmp/err" create url :9003 tail url :3306 docker-ns "wh-nosuch-$$"
assert_match "missing container message" "No such container: wh-nosuch-$$" "$(cat "$wh_tmp/err")"
assert_eq "segments after the failed create" "$before" "$(wh_ids)"
tcp_listening "$ns_host" 9003 && fail "a listener on :9003 was left behind"

info "ambiguous prefix: create stopped containers until two ids share their first hex digit"
declare -A first=()
a="" b=""
for ((i = 0; i < 17; i++)); do
	n="wh-amb-$$-$i"
	dk_names+=("$n")
	cid=$(dk create --network none --name "$n" "$IMG" true)
	c=${cid:0:1}
	if [[ -n ${first[$c]:-} ]]; then
		a=${first[$c]} b=$cid
		break
	fi
	first[$c]=$cid
done
[[ -n $b ]] || fail "17 containers without two sharing a first hex digit (impossible)"
p=$c
while [[ ${a:0:${#p}+1} == "${b:0:${#p}+1}" ]]; do p=${a:0:${#p}+1}; done
info "prefix '$p' matches ${a:0:12} and ${b:0:12}"
wh_fails "ambiguous prefix" 1 "$wh_tmp/err" create url :9004 tail url :3306 docker-ns "$p"
err=$(cat "$wh_tmp/err")
assert_match "ambiguous prefix message" "ambiguous container prefix '$p'" "$err"
assert_match "the message lists ${a:0:12}" "${a:0:12}" "$err"
assert_match "the message lists ${b:0:12}" "${b:0:12}" "$err"
assert_eq "segments after the failed create" "$before" "$(wh_ids)"
tcp_listening "$ns_host" 9004 && fail "a listener on :9004 was left behind"

tcp_echo_check "$ns_host" 127.0.0.1:9000 "the first segment still works"
echo "PASS"
