#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 22-labels-remote: a container labelled wormhole.publish=... and wormhole.publish.remote=HOST is
# published on the peer HOST, never here. Home (A, wormholed --docker-labels --name home) runs the
# containers (--network none, echo servers on their own localhost); the gateway (B) listens on
# the published ports and each connection travels the peer link back into the container. A
# container running before A starts is picked up, and again after `docker restart`; one started
# later with two items gets both;
# `docker stop` closes B's ports and removes the segments on both sides; a port taken on B
# refuses the whole label (logged on A with B's reason, nothing left on A or B); so does a port
# that home's key, scoped on B, does not allow, and a peer name no daemon linked; a peer that
# dials A (C "far", behind NAT) is published on by its name and reaches A back at the address it
# dialed; B restarted (its
# own restore of the segment fails: home has no link yet) gets the publication again once A's
# link is back; A stopped deletes what it published on B.
#
#   A "home" (wh-a-$$) 198.18.0.1                       B "gw" (wh-b-$$) 198.18.0.2
#   containers <--setns-- [wormholed A] ==TLS :9999==> [wormholed B] <-- client -> 198.18.0.2:92xx
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../lib/peers.sh
source "$WH_REPO/tests/lib/peers.sh"

dk_setup
peers_setup
proj="whr$$"

# listing NAME: daemon NAME's segments as "id head tail", one a line, sorted
listing() {
	"$WORMHOLE" -H "unix://$(wh_sock "$1")" list --json |
		"$PYTHON" -c 'import json,sys; print("\n".join(sorted("%s %s %s" % (s["id"], s["head"], s["tail"]) for s in json.load(sys.stdin)["segments"])))'
}
_closed() {
	! tcp_listening "$1" "$2"
}
# tops NAME: daemon NAME's segment ids without the remote parts it holds for others (id.xxxxxx)
tops() {
	segments "$1" | grep -Ev '\.[0-9a-f]{6}$' || true
}
_no_segments() {
	[[ -z $(segments "$1") ]]
}

dk_run "$proj-pre" --label wormhole.publish=0.0.0.0:9200:3306 --label wormhole.publish.remote=198.18.0.2 -- wh-echo 3306
dk_wait_listen "$proj-pre" 3306
# home uses a key scoped on the gateway, as in the README's gateway example
mkdir -m 700 "$wh_tmp/keys"
"$WORMHOLE" keygen --allow "port=9200-9210 remote=self name=home" "$wh_tmp/keys/home.key" >/dev/null
# and accepts C "far" (below) with a key of its own
mkdir -m 700 "$wh_tmp/keys-a"
"$WORMHOLE" keygen --allow no-docker-run --id far "$wh_tmp/keys-a/far.key" >/dev/null
start_peer_daemon "$ns_b" b --keys "$wh_tmp/keys"
wait_tcp_listen "$ns_b" 9999
start_peer_daemon "$ns_a" a --docker-labels --name home -K "$wh_tmp/keys/home.key" --keys "$wh_tmp/keys-a"

info "a container running before the daemon started is published on the peer"
wait_tcp_listen "$ns_b" 9200
tcp_echo_check "$ns_b" 198.18.0.2:9200 "from the gateway's side into the container at home"
tcp_listening "$ns_a" 9200 && fail "a label meant for the peer was published at home too"
listing b >&2
listing a >&2
assert_match "B's segment" "^home\\.$proj-pre\\.[0-9a-z.-]*9200 tcp://0\\.0\\.0\\.0:9200 tcp://home" "$(listing b)"
id_b=$(tops b)
assert_match "A's part: a peer head from B, the tail in the container" \
	"^$id_b\\.[0-9a-f]{6} tcp://peer:198\\.18\\.0\\.2:9999@peer-link:9200 tcp://docker:$proj-pre@127\\.0\\.0\\.1:3306\$" "$(listing a)"
grep -q "container '$proj-pre': published 0.0.0.0:9200 on 198.18.0.2 as segment '$id_b'" "$(wh_log a)" ||
	fail "A's log does not say where the container is published"

info "docker restart: withdrawn, then published again"
dk restart -t 1 "$proj-pre" >/dev/null
dk_wait_listen "$proj-pre" 3306
wait_for "pre published a second time" 100 bash -c "[[ \$(grep -c \"container '$proj-pre': published 0.0.0.0:9200 on 198.18.0.2 as\" $(wh_log a)) == 2 ]]"
grep -q "container '$proj-pre' stopped: deleting its segment '$id_b' on 198.18.0.2:9999" "$(wh_log a)" ||
	fail "the stop did not withdraw it from B"
wait_echo "$ns_b" 198.18.0.2:9200 "pre after docker restart" 100
assert_eq "B's segment after the restart" "$id_b" "$(tops b)"

info "a container started later, two items"
dk_run "$proj-web" --label "wormhole.publish=0.0.0.0:9201:80,9202:80" --label wormhole.publish.remote=198.18.0.2:9999 -- wh-echo 80
dk_wait_listen "$proj-web" 80
wait_tcp_listen "$ns_b" 9201
wait_tcp_listen "$ns_b" 9202
tcp_echo_check "$ns_b" 198.18.0.2:9201 "first item"
tcp_echo_check "$ns_b" 127.0.0.1:9202 "second item (B's localhost)"
head -c 131072 /dev/urandom >"$wh_tmp/in"
in_ns "$ns_b" timeout 20 socat -t 15 - TCP:198.18.0.2:9201 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "128 KiB through the gateway into the container" "$wh_tmp/in" "$wh_tmp/out"

info "docker stop: B's ports close, both sides' segments go"
dk stop -t 1 "$proj-web" >/dev/null
wait_for "9201 closed on B" 100 _closed "$ns_b" 9201
wait_for "9202 closed on B" 100 _closed "$ns_b" 9202
wait_for "only pre's segments left on A" 100 bash -c "[[ \$(\"$WORMHOLE\" -H unix://$(wh_sock a) list -q | wc -l) == 1 ]]"
assert_eq "B's segments after the stop" "$id_b" "$(tops b)"
tcp_echo_check "$ns_b" 198.18.0.2:9200 "pre still serves"

info "a port taken on the peer refuses the whole label, on both sides"
whd b create id taken url 0.0.0.0:9204 tail url :1 >/dev/null
before_a=$(segments a)
dk_run "$proj-bad" --label "wormhole.publish=0.0.0.0:9203:80,0.0.0.0:9204:80" --label wormhole.publish.remote=198.18.0.2 -- wh-echo 80
wait_for "the refusal in A's log" 100 grep -q "container '$proj-bad': label wormhole.publish refused on 198.18.0.2: home.$proj-bad" "$(wh_log a)"
grep "container '$proj-bad'" "$(wh_log a)" >&2
grep -q "container '$proj-bad': label wormhole.publish refused on 198.18.0.2: home\\.$proj-bad\\.[^:]*9204: .*9204" "$(wh_log a)" ||
	fail "the refusal does not name the item and B's reason"
wait_for "9203 closed on B again" 100 _closed "$ns_b" 9203
assert_eq "B's segments" "$(printf '%s\n' "$id_b" taken | sort)" "$(tops b)"
wait_for "nothing of it on A" 100 bash -c "[[ \"\$(\"$WORMHOLE\" -H unix://$(wh_sock a) list -q | sort)\" == \"$before_a\" ]]"
whd b delete taken

info "a port the scoped key does not allow is refused by the gateway"
dk_run "$proj-rule" --label "wormhole.publish=0.0.0.0:9300:80" --label wormhole.publish.remote=198.18.0.2 -- wh-echo 80
wait_for "the rule's refusal in A's log" 100 grep -q "container '$proj-rule': label wormhole.publish refused on 198.18.0.2: home\.$proj-rule\.0\.0\.0\.0-9300: key 'home': refused by rule 'port=9200-9210'" "$(wh_log a)"
tcp_listening "$ns_b" 9300 && fail "the gateway listens on a port the key does not allow"
tcp_listening "$ns_a" 9300 && fail "a label meant for a peer was published here"

info "a peer name no daemon linked is refused, not published here"
dk_run "$proj-nope" --label "wormhole.publish=9205:80" --label wormhole.publish.remote=nosuchpeer -- wh-echo 80
wait_for "the refusal" 100 grep -q "container '$proj-nope': label wormhole.publish refused on nosuchpeer: wormhole.publish.remote: 'nosuchpeer' is neither a numeric address nor a daemon linked here" "$(wh_log a)"
tcp_listening "$ns_a" 9205 && fail "a label meant for a peer was published here"

info "a peer that dials us, named by its name: it reaches us back at the address it dialed"
# C "far" runs in B's namespace, opens no peer port and keeps a link to A (as a host behind NAT)
start_peer_daemon "$ns_b" c --name far --link 198.18.0.1 -K "$wh_tmp/keys-a/far.key"
wait_for "far's link and name on A" 100 grep -q "the daemon there is 'far'" "$(wh_log a)"
dk_run "$proj-far" --label "wormhole.publish=0.0.0.0:9207:80" --label wormhole.publish.remote=far -- wh-echo 80
dk_wait_listen "$proj-far" 80
wait_tcp_listen "$ns_b" 9207
tcp_echo_check "$ns_b" 127.0.0.1:9207 "through far's own link into the container"
id_c=$(tops c)
assert_match "far's segment reaches back by address" "^home\\.$proj-far\\..*9207 tcp://0\\.0\\.0\\.0:9207 tcp://198\\.18\\.0\\.1:9999\$" "$(listing c | grep -v '\.[0-9a-f]\{6\} ')"
grep -q "container '$proj-far': published 0.0.0.0:9207 on far as segment '$id_c'" "$(wh_log a)" ||
	fail "A's log does not say it published on far"
dk stop -t 1 "$proj-far" >/dev/null
wait_for "9207 closed on far" 100 _closed "$ns_b" 9207
wait_for "no segments left on far" 100 _no_segments c

info "the gateway restarts: the publication comes back when the link does"
stop_pid "${wh_daemon_pid[b]}"
wait_for "9200 closed with B gone" 100 _closed "$ns_b" 9200
start_peer_daemon "$ns_b" b --keys "$wh_tmp/keys"
wait_tcp_listen "$ns_b" 9200
wait_echo "$ns_b" 198.18.0.2:9200 "pre again through the new gateway daemon" 100
assert_eq "B's segment again" "$id_b" "$(tops b)"

info "the home daemon stops: what it published on the peer is deleted there"
stop_pid "${wh_daemon_pid[a]}"
wait_for "9200 closed after A stopped" 100 _closed "$ns_b" 9200
wait_for "no segments left on B" 100 _no_segments b
echo "PASS"
