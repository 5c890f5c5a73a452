#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 03-restart: the daemon follows Docker events across `docker restart`. A tail in container DB
# (`url :9000 tail url :3306 docker-ns DB`) reaches DB's new namespace after DB restarts, and a
# head in container APP (`url :4000 docker-ns APP tail url :3306 docker-ns DB`) listens again in
# APP's new namespace after APP restarts. Each is checked with a bounded poll; the namespaces are
# checked to really be new ones.
#
#   netns wh-test-$$ ("host")                       container wh-db-$$ (restarted)
#   +--------------------------------------------+  +---------------------------------+
#   | client --> 127.0.0.1:9000 [wormholed] -----+--+--> 127.0.0.1:3306 wh-echo 3306   |
#   +--------------------------------------------+  +---------------------------------+
#   container wh-app-$$ (restarted)                          ^
#   | wh-echo --connect 127.0.0.1:4000 --> [head :4000] -----+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
app="wh-app-$$" db="wh-db-$$"
wh_start_daemon main
dk_run "$db" wh-echo 3306
dk_run "$app" sleep 100000
dk_wait_listen "$db" 3306

wh_create id intodb url :9000 tail url :3306 docker-ns "$db" >/dev/null
wh_create id inapp url :4000 docker-ns "$app" tail url :3306 docker-ns "$db" >/dev/null
wait_tcp_listen "$ns_host" 9000
dk_wait_listen "$app" 4000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "before the restart"
dk_exec_echo "$app" 4000 "from $app before the restarts"

for round in 1 2; do
	info "restart $db (round $round)"
	old=$(dk_netns "$db")
	dk restart -t 5 "$db" >/dev/null
	new=$(dk_netns "$db")
	[[ $old != "$new" ]] || fail "$db kept its network namespace across the restart"
	dk_wait_listen "$db" 3306
	wait_echo "$ns_host" 127.0.0.1:9000 "echo reaches $db's new namespace (round $round)" 100
	tcp_echo_check "$ns_host" 127.0.0.1:9000 "and again (round $round)"
done

info "restart $app: the head must listen again in its new namespace"
old=$(dk_netns "$app")
dk restart -t 5 "$app" >/dev/null
[[ $old != "$(dk_netns "$app")" ]] || fail "$app kept its network namespace across the restart"
dk_wait_listen "$app" 4000 100
dk_exec_echo "$app" 4000 "from $app after both restarts"
grep -E "container '$db' .*new connections are refused|container '$db' is running" "$(wh_log main)" >&2 || true
assert_eq "state of intodb" listening "$(wh_json_get intodb state)"
assert_eq "state of inapp" listening "$(wh_json_get inapp state)"
echo "PASS"
