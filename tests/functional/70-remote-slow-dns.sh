#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 70-remote-slow-dns: `remote NAME` looks NAME up off the event loop. A's resolver is a
# nameserver that never answers (python, 127.0.0.1:53 in A's namespace, every query dropped;
# resolv.conf: timeout 3 s, one attempt), so each lookup of a name not in /etc/hosts takes 3 s.
# While `create ... remote slow-peer` waits on it, the daemon keeps serving: `ping` answers and
# an existing segment relays. The create then fails naming the word and the name, and nothing of
# it is left. A create whose client goes away during the lookup is undone, and the lookup
# finishing later harms nothing (the functional-asan step runs this too). A name from
# /etc/hosts still works, and a name given twice as providers is refused, nothing created.
# `wormhole link NAME` returns at once and keeps looking the name up until it resolves.
#
#   A (wh-a-$$) 198.18.0.1  [dropping "DNS" 127.0.0.1:53]    B (wh-b-$$) 198.18.0.2 :9999
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
mkdir -p "/etc/netns/$ns_a"
printf 'nameserver 127.0.0.1\noptions timeout:3 attempts:1\n' >"/etc/netns/$ns_a/resolv.conf"
printf '198.18.0.2 peer-b\n127.0.0.1 localhost\n' >"/etc/netns/$ns_a/hosts"
trap 'rc=$?; set +e; rm -rf "/etc/netns/$ns_a"; (exit $rc); wh_cleanup' EXIT
bg_in "$ns_a" "$PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    s.recvfrom(4096)  # dropped: the resolver waits for its timeout
'
wait_udp_bound "$ns_a" 53
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b
wait_tcp_listen "$ns_b" 9999
start_tcp_echo "$ns_b" 9002
start_tcp_echo "$ns_a" 9102
whd a create id local url :9100 tail url :9102 >/dev/null
wait_tcp_listen "$ns_a" 9100

# the create waits for the lookup; the loop does not
t0=$(date +%s.%N)
whd a create id slow url :9000 remote slow-peer.example:9999 tail url :9002 2>"$wh_tmp/err" &
cpid=$!
sleep 0.5
for i in 1 2 3 4; do
	ms=$(in_ns "$ns_a" "$WORMHOLE" -H "unix://$(wh_sock a)" ping) || fail "ping failed during the lookup"
	"$PYTHON" -c "import sys; sys.exit(not float('$ms') < 1000)" ||
		fail "ping took $ms ms during the lookup: the loop is blocked"
	tcp_echo_check "$ns_a" 127.0.0.1:9100 "relay during the lookup $i"
	sleep 0.3
done
if wait "$cpid"; then
	fail "a remote on a name that never resolves was created"
fi
t1=$(date +%s.%N)
cat "$wh_tmp/err" >&2
grep -q "word 5 'remote': cannot resolve peer 'slow-peer.example'" "$wh_tmp/err" ||
	fail "unclear error: $(cat "$wh_tmp/err")"
"$PYTHON" -c "import sys; sys.exit(not $t1 - $t0 >= 2.5)" ||
	fail "the create failed before the lookup's timeout: was it looked up at all?"
assert_eq "segments after the failed create" "local" "$(whd a list -q | tr '\n' ' ' | sed 's/ $//')"
tcp_listening "$ns_a" 9000 && fail "port 9000 listens after the failed create"

# a client that goes away while the name is looked up: the create is undone at once, and the
# lookup that ends 3 s later finds nothing to call back
whd a create id gone url :9001 remote slow-peer.example:9999 tail url :9002 2>/dev/null &
cpid=$!
sleep 0.5
kill "$cpid"
wait "$cpid" 2>/dev/null || true
sleep 3.5
assert_eq "segments after the abandoned create" "local" "$(whd a list -q | tr '\n' ' ' | sed 's/ $//')"
alive "${wh_daemon_pid[a]}" || fail "daemon A died after the abandoned lookup"

# names from /etc/hosts; the same one twice (both looked up) is refused
out=$(whd a create id byname url :9010 remote peer-b tail url :9002) || fail "create by name failed"
assert_eq "create by name" "byname tcp://127.0.0.1:9010" "$out"
wait_tcp_listen "$ns_a" 9010
tcp_echo_check "$ns_a" 127.0.0.1:9010 "through a peer found by name"
whd a delete byname
out=$(whd a create id two url :9011 remote peer-b,peer-b:9999 tail url :9002 2>&1) &&
	fail "the same peer named twice was taken twice: $out"
grep -q "named twice" <<<"$out" || fail "the duplicate is not named: $out"
assert_eq "segments after the refused duplicate" "local" "$(whd a list -q | tr '\n' ' ' | sed 's/ $//')"

# `wormhole link NAME` (as --link) does not wait for the lookup either, and a name that does not
# resolve yet is looked up again every 5 s: once /etc/hosts knows it, the link comes up
t0=$(date +%s.%N)
whd a link slow-peer.example >/dev/null || fail "link to a name being looked up was refused"
"$PYTHON" -c "import sys; sys.exit(not $(date +%s.%N) - $t0 < 1.5)" || fail "link waited for the lookup"
not_resolved() { grep -q "link to slow-peer.example: cannot resolve 'slow-peer.example'" "$(wh_log a)"; }
wait_for "the lookup's failure logged" 100 not_resolved
printf '198.18.0.2 slow-peer.example\n' >>"/etc/netns/$ns_a/hosts" # the same file, appended
link_up() { whd a list --json | grep -q '"name":"slow-peer.example:9999","address":"slow-peer.example:9999","direction":"out","state":"up"'; }
wait_for "the link once the name resolves" 150 link_up
whd a unlink slow-peer.example >/dev/null || fail "unlink failed"
echo "PASS"
