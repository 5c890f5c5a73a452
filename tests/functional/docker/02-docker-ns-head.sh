#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 02-docker-ns-head: `url :3306 docker-ns APP tail url :3306 docker-ns DB`: the head listens
# inside container APP, the tail is in container DB; a client run inside APP (docker exec) reaches
# DB's server on APP's own 127.0.0.1:3306. Neither the daemon's namespace nor DB gets the head.
#
#   container wh-app-$$ (--network none)         container wh-db-$$ (--network none)
#   +--------------------------------------+     +----------------------------------+
#   | wh-echo --connect 127.0.0.1:3306 --> |     |                                  |
#   |   127.0.0.1:3306 [wormholed head] ---+-----+--> 127.0.0.1:3306 wh-echo 3306   |
#   +--------------------------------------+     +----------------------------------+
#   (wormholed itself runs in netns wh-test-$$ and holds sockets in both containers)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
app="wh-app-$$" db="wh-db-$$"
wh_start_daemon main
dk_run "$db" wh-echo 3306
dk_run "$app" sleep 100000
dk_wait_listen "$db" 3306
dk_listening "$app" 3306 && fail "$app listens on 3306 before the segment exists"

out=$(wh_create id appdb url :3306 docker-ns "$app" tail url :3306 docker-ns "$db")
assert_eq "create output" "appdb tcp://127.0.0.1:3306" "$out"
assert_eq "tail in list" "tcp://docker:$db@127.0.0.1:3306" "$(wh_json_get appdb tail)"
echo "head in list: $(wh_json_get appdb head)" >&2
dk_wait_listen "$app" 3306
tcp_listening "$ns_host" 3306 && fail "the head listens in the daemon's namespace"

dk_exec_echo "$app" 3306 "from inside $app to $db"
head -c 262144 /dev/urandom >"$wh_tmp/in"
pretty "$app" "wh-echo --connect 127.0.0.1:3306 <in >out"
timeout 30 docker exec -i "$app" wh-echo --connect 127.0.0.1:3306 <"$wh_tmp/in" >"$wh_tmp/out" || true
assert_files_equal "256 KiB from $app through to $db" "$wh_tmp/in" "$wh_tmp/out"
wait_all_idle
assert_eq "conns_total" 2 "$(wh_json_get appdb conns_total)"

wh delete appdb
wait_for "the head in $app closed after delete" 50 bash -c "! nsenter -t $(dk_pid "$app") -n ss -Htln 'sport = :3306' | grep -q ."
echo "PASS"
