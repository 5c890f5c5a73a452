#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 16-labels: wormholed --docker-labels. A container labelled wormhole.publish before the daemon
# starts is picked up; the compose-style example (examples/labels/run.sh: two containers, plain
# `docker run --label`) publishes tcp and unix heads at once; a udp item works; `docker restart`
# re-publishes in the new namespace; a label colliding with a taken port or segment id is refused
# and logged with nothing of it left listening; removing a container removes its segments.
#
#   netns wh-test-$$ ("host")                                containers (--network none)
#   +-------------------------------------------------+      +-------------------------------+
#   | client -> 127.0.0.1:9100  [wormholed             ]-----+-> pre:  wh-echo 3306           |
#   | client -> 127.0.0.1:8080 / 13306 / unix socket   ]-----+-> web:  wh-echo 80, db: 3306   |
#   | client -> udp 127.0.0.1:9102                      ]-----+-> dns:  socat udp echo 3307    |
#   +-------------------------------------------------+      +-------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
proj="whl$$"
sock="$wh_tmp/db.sock"

dk_run "$proj-pre" --label wormhole.publish=9100:3306 -- wh-echo 3306
dk_wait_listen "$proj-pre" 3306
wh_start_daemon main --docker-labels

info "a container running before the daemon started is picked up"
wait_tcp_listen "$ns_host" 9100
tcp_echo_check "$ns_host" 127.0.0.1:9100 "pre-existing container"
assert_eq "its segment" "$proj-pre.9100" "$(wh list -q | grep pre)"

info "the compose-style example, with plain docker run --label"
dk_names+=("$proj-web-1" "$proj-db-1")
# the example publishes on fixed ports; move the unix socket into our temp dir
sed "s|/run/wormhole-example-db.sock|$sock|" "$WH_REPO/examples/labels/run.sh" >"$wh_tmp/run.sh"
PROJECT=$proj IMAGE=$IMG sh "$wh_tmp/run.sh" up >/dev/null
wait_tcp_listen "$ns_host" 8080
wait_tcp_listen "$ns_host" 13306
wait_unix_listen "$ns_host" "$sock"
dk_wait_listen "$proj-web-1" 80
dk_wait_listen "$proj-db-1" 3306
tcp_echo_check "$ns_host" 127.0.0.1:8080 "example web"
tcp_echo_check "$ns_host" 127.0.0.1:13306 "example db"
line="unix-$$"
assert_eq "example db over the unix socket" "$line" \
	"$(printf '%s\n' "$line" | ip netns exec "$ns_host" timeout 10 socat -t 5 - "UNIX-CONNECT:$sock")"
assert_eq "tail of the web segment" "tcp://docker:$proj-web-1@127.0.0.1:80" "$(wh_json_get "$proj-web-1.8080" tail)"

info "udp"
# busybox has no udp server: a host socat echoes inside the container's namespace
dk_run "$proj-dns" --label wormhole.publish=udp/9102:3307 -- sleep 3600
pretty "$proj-dns" "socat UDP4-RECVFROM:3307,bind=127.0.0.1,fork EXEC:cat"
nsenter -t "$(dk_pid "$proj-dns")" -n socat UDP4-RECVFROM:3307,bind=127.0.0.1,fork EXEC:cat &
wh_pids+=("$!")
wait_udp_bound "$ns_host" 9102
assert_eq "tail of the udp segment" "udp://docker:$proj-dns@127.0.0.1:3307" "$(wh_json_get "$proj-dns.udp-9102" tail)"
got=$(printf 'dgram-%s\n' $$ | ip netns exec "$ns_host" timeout 5 socat -T 2 - UDP:127.0.0.1:9102) || true
assert_eq "a datagram through the udp item" "dgram-$$" "$got"

info "docker restart: the segments follow the new namespace"
ns_before=$(dk_netns "$proj-web-1")
dk restart -t 1 "$proj-web-1" >/dev/null
dk_wait_listen "$proj-web-1" 80
wait_tcp_listen "$ns_host" 8080
[[ $(dk_netns "$proj-web-1") != "$ns_before" ]] || info "note: namespace inode reused"
tcp_echo_check "$ns_host" 127.0.0.1:8080 "web after docker restart"

info "collisions are refused, never half-applied"
dk_run "$proj-bad" --label "wormhole.publish=9105:3306,8080:80" -- wh-echo 80
wait_for "the refusal in the log" 100 grep -q "container '$proj-bad': label wormhole.publish refused" "$(wh_log main)"
grep "container '$proj-bad'" "$(wh_log main)" >&2
tcp_listening "$ns_host" 9105 && fail "9105 of the refused label still listens"
tcp_echo_check "$ns_host" 127.0.0.1:8080 "web still serves after the refused label"
wh_create id "$proj-taken.9106" url :9107 tail url :9108 >/dev/null
dk_run "$proj-taken" --label "wormhole.publish=9106:80" -- wh-echo 80
wait_for "the id collision's refusal" 100 grep -q "container '$proj-taken': label wormhole.publish refused: $proj-taken.9106: segment '$proj-taken.9106' already exists" "$(wh_log main)"
tcp_listening "$ns_host" 9106 && fail "9106 of the refused label listens"
wh delete "$proj-taken.9106"
dk_run "$proj-junk" --label "wormhole.publish=80" -- wh-echo 80
wait_for "the malformed label's refusal" 100 grep -q "container '$proj-junk': label wormhole.publish refused: 80: item '80'" "$(wh_log main)"
dk_run "$proj-far" --label "wormhole.publish=9109:80" --label "wormhole.publish.remote=198.18.0.2" -- wh-echo 80
wait_for "the remote label's refusal" 100 grep -q "container '$proj-far': label wormhole.publish refused on 198.18.0.2: wormhole.publish.remote: this wormholed has no peer key" "$(wh_log main)"
tcp_listening "$ns_host" 9109 && fail "a label meant for a peer was published here"
wh list >&2

info "removal takes the segments with it"
dk rm -f "$proj-web-1" "$proj-db-1" >/dev/null
wait_for "8080 closed" 100 bash -c "! ip netns exec $ns_host ss -Htln 'sport = :8080' | grep -q ."
wait_for "13306 closed" 100 bash -c "! ip netns exec $ns_host ss -Htln 'sport = :13306' | grep -q ."
[[ -e $sock ]] && fail "the unix socket file is still there"
ids=$(wh list -q | tr '\n' ' ')
assert_eq "segments left" "$proj-pre.9100 $proj-dns.udp-9102 " "$ids"
dk stop -t 1 "$proj-pre" >/dev/null
wait_for "9100 closed once pre stopped" 100 bash -c "! ip netns exec $ns_host ss -Htln 'sport = :9100' | grep -q ."
echo "PASS"
