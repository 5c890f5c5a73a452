#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 13-dockerd-restart: dockerd itself restarts under a running wormholed. The daemon's event stream
# breaks and comes back by itself ("Docker events are back" in its log); the container, stopped by
# the engine's shutdown, is started again with `docker start`, and the docker-ns segment reaches
# it in its new namespace with no user action. Only runs against the private test engine (it is
# stopped and started by its pid); a shared engine is never restarted.
#
#   netns wh-test-$$ ("host")                       container wh-db-$$
#   +-------------------------------------------+   +------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] ----+---+--> 127.0.0.1:3306 wh-echo     |
#   +-------------------------------------------+   +------------------------------+
#        private dockerd: stopped by pid, started again, container started again
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
[[ ${DOCKER_HOST:-} == "unix://$wh_dockerd_sock" && -f $wh_dockerd_pidfile ]] ||
	skip "the engine is not the private test engine; a shared one is never restarted"

db="wh-db-$$"
dk_run "$db" wh-echo 3306
dk_wait_listen "$db" 3306
wh_start_daemon main
wh_create id db url :9000 tail url :3306 docker-ns "$db" >/dev/null
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "before the engine restart"

info "stop dockerd (pid $(cat "$wh_dockerd_pidfile")) and start it again"
dockerd_stop_pid "$(cat "$wh_dockerd_pidfile")"
dockerd_start || fail "the private engine did not come back"
wh_dockerd_started="" # leave it running, as we found it; whoever started it stops it by pidfile
wait_for "the daemon's event stream to come back" 300 \
	grep -q "Docker events are back" "$(wh_log main)" ||
	fail "no 'Docker events are back' in the log"
echo "ok: $(grep -m1 'Docker events are back' "$(wh_log main)")" >&2

info "start the container again: the segment follows it"
dk start "$db" >/dev/null
wait_echo "$ns_host" 127.0.0.1:9000 "echo after the engine restart" 200
assert_eq "segment state" listening "$(wh_json_get db state)"
echo "PASS"
