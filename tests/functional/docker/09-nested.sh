#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 09-nested: the original's example `url :80 trigger docker-run 'web' child url :3306 trigger
# docker-run 'db'`, with web = `wh-echo --forward 127.0.0.1:3306 8080` (it relays each connection
# to its own localhost:3306) and db = `wh-echo 3306`:
#   url :8080 trigger docker-run '... WEB' child url :3306 trigger docker-run '... DB'
# Nothing runs at create. The first connection to :8080 starts web, creates the child listening
# on 127.0.0.1:3306 inside web's namespace, and forwards to web:8080; web's connection to its
# localhost:3306 triggers the child, which starts db. The client's data comes back end to end.
# list shows the parent and the child (with "parent"); two containers exist; deleting the parent
# removes both containers and the child.
#
#   netns wh-test-$$ ("host")      container web (made on 1st conn)     container db (made later)
#   +-------------------------+    +--------------------------------+    +-------------------+
#   | client --> :8080 [whd] -+----+-> :8080 wh-echo --forward ---+  |    |                   |
#   |                         |    |   127.0.0.1:3306 [child head]<+--+----+-> :3306 wh-echo   |
#   +-------------------------+    +--------------------------------+    +-------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
web="wh-web-$$" db="wh-db-$$"
dk_names+=("$web" "$db")
wh_start_daemon main
out=$(wh_create id site url :8080 \
	trigger docker-run "--network none --init --name $web $IMG wh-echo --forward 127.0.0.1:3306 8080" \
	child url :3306 trigger docker-run "--network none --init --name $db $IMG wh-echo 3306")
assert_eq "create output" "site tcp://127.0.0.1:8080" "$out"
wait_tcp_listen "$ns_host" 8080
assert_eq "state" armed "$(wh_json_get site state)"
assert_eq "segments before the first connection" "site " "$(wh_ids)"
assert_eq "containers before the first connection" "" "$(dk_mine)"

info "first connection: starts web, the child, then db"
head -c 65536 /dev/urandom >"$wh_tmp/in"
nh timeout 60 socat -t 50 - TCP:127.0.0.1:8080 <"$wh_tmp/in" >"$wh_tmp/out" || true
assert_files_equal "64 KiB through web and db" "$wh_tmp/in" "$wh_tmp/out"

"$WORMHOLE" -H "unix://$(wh_sock main)" list >&2
ids=$(wh_ids)
assert_eq "segments: the parent and one child" 2 "$(wc -w <<<"$ids")"
child=""
for i in $ids; do
	[[ $i == site ]] || child=$i
done
assert_eq "the child's parent" site "$(wh_json_get "$child" parent)"
assert_eq "the parent's tail" "tcp://docker:$web@127.0.0.1:8080" "$(wh_json_get site tail)"
assert_eq "the child's tail" "tcp://docker:$db@127.0.0.1:3306" "$(wh_json_get "$child" tail)"
assert_eq "the parent's state" listening "$(wh_json_get site state)"
assert_eq "the child's state" listening "$(wh_json_get "$child" state)"
assert_eq "the child's head (inside $web)" "tcp://docker:$web@127.0.0.1:3306" \
	"$(wh_json_get "$child" head)"
assert_eq "containers of this daemon" 2 "$(dk_mine | wc -l)"
assert_eq "$web runs" true "$(docker inspect -f '{{.State.Running}}' "$web")"
assert_eq "$db runs" true "$(docker inspect -f '{{.State.Running}}' "$db")"
dk_listening "$web" 3306 || fail "the child does not listen on 127.0.0.1:3306 inside $web"
tcp_listening "$ns_host" 3306 && fail "the child listens in the daemon's namespace"
dk_exec_echo "$web" 3306 "from inside $web through the child to $db"

tcp_echo_check "$ns_host" 127.0.0.1:8080 "a second connection end to end"
assert_eq "still two containers" 2 "$(dk_mine | wc -l)"

wh delete site
dk_wait_none_mine 200
echo "ok: both containers removed" >&2
assert_eq "segments after delete" "" "$(wh_ids)"
echo "PASS"
