#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 05-docker-run: `url :9000 tail url :3306 docker-run '--network none --init --name R -l K=V -e
# E=V IMAGE wh-echo 3306'` creates and starts the container at create time, labelled
# wormhole.segment=<id> and wormhole.daemon=<the daemon id in its state directory> besides the user's label and
# environment; the echo through the segment works; `delete` removes the container (bounded).
#
#   netns wh-test-$$ ("host")                        container wh-run-$$ (made by wormholed)
#   +--------------------------------------------+   +----------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] -----+---+--> 127.0.0.1:3306 wh-echo 3306    |
#   +--------------------------------------------+   +----------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
run="wh-run-$$"
dk_names+=("$run") # in case the daemon does not remove it
wh_start_daemon main
sock=$(wh_sock main)

[[ -z $(dk_mine) ]] || fail "containers labelled for this daemon exist already"
out=$(wh_create id web url :9000 tail url :3306 docker-run \
	"--network none --init --name $run -l wh.test=$$ -e WH_TEST_VAR=x$$ $IMG wh-echo 3306")
assert_eq "create output" "web tcp://127.0.0.1:9000" "$out"

ids=$(dk_mine web)
assert_eq "containers labelled wormhole.segment=web" 1 "$(wc -w <<<"$ids")"
assert_eq "the labelled one is $run" "$(dk_id "$run")" "$ids"
assert_eq "label wormhole.daemon" "$(dk_daemon_id main)" "$(docker inspect -f '{{index .Config.Labels "wormhole.daemon"}}' "$run")"
assert_eq "user label wh.test" "$$" "$(docker inspect -f '{{index .Config.Labels "wh.test"}}' "$run")"
assert_eq "running" true "$(docker inspect -f '{{.State.Running}}' "$run")"
assert_eq "network mode" none "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$run")"
assert_eq "init" true "$(docker inspect -f '{{.HostConfig.Init}}' "$run")"
assert_match "environment" " WH_TEST_VAR=x$$ " " $(docker inspect -f '{{range .Config.Env}}{{.}} {{end}}' "$run")"
assert_eq "tail in list" "tcp://docker:$run@127.0.0.1:3306" "$(wh_json_get web tail)"

wait_tcp_listen "$ns_host" 9000
dk_wait_listen "$run" 3306
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo from the docker-run container"
head -c 262144 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "256 KiB through the docker-run container" "$wh_tmp/in" "$wh_tmp/out"

wh delete web
dk_wait_none_mine 150 web
echo "ok: no container labelled wormhole.segment=web after delete" >&2
docker inspect "$run" >/dev/null 2>&1 && fail "$run still exists after delete"
[[ -z $(dk_mine) ]] || fail "containers labelled for this daemon remain"
tcp_listening "$ns_host" 9000 && fail "the head still listens after delete"
grep -E "started container|removed container" "$(wh_log main)" >&2 || true
echo "PASS"
