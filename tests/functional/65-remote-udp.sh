#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 65-remote-udp: UDP over `remote`. On A, `url udp://:5300 remote B tail url :5301`; a UDP echo
# server on B's :5301. Each datagram travels as a length-prefixed frame on a peer stream (one
# stream per UDP session) and leaves B as a datagram again. Three clients at once (three
# sessions), datagrams of 1 byte to 65507 bytes (the largest UDP payload over IPv4) come back
# whole and exact; then, with --udp-idle 2 on both daemons, every session ends on both hosts
# and its peer stream with it. B is named: A knows it as 'peer-b' (/etc/netns/NS/hosts, which
# `ip netns exec` puts in place of /etc/hosts), resolved at create time; an unknown name
# fails the create with a clear error.
#
#   A (wh-a-$$) 198.18.0.1                                   B (wh-b-$$) 198.18.0.2
#   3 x udp client -> :5300 [wormholed A] ==TLS link :9999==> [wormholed B] -> :5301 udp echo
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
cleanup_hosts() {
	local rc=$?
	set +e # (exit "$rc") below must not end the trap before wh_cleanup
	rm -rf "/etc/netns/$ns_a"
	(exit "$rc")
	wh_cleanup
}
trap cleanup_hosts EXIT
peers_setup
mkdir -p "/etc/netns/$ns_a"
printf '198.18.0.2 peer-b\n' >"/etc/netns/$ns_a/hosts"
start_peer_daemon "$ns_a" a --udp-idle 2
start_peer_daemon "$ns_b" b --udp-idle 2
wait_tcp_listen "$ns_b" 9999
bg_in "$ns_b" "$PYTHON" "$WH_NET" udp-echo-server 127.0.0.1 5301
wait_udp_bound "$ns_b" 5301

if whd a create id nx url udp://:5400 remote no-such-host.invalid tail url :5301 2>"$wh_tmp/err"; then
	fail "a remote on an unknown name was created"
fi
grep -q "word 5 'remote': cannot resolve peer 'no-such-host.invalid'" "$wh_tmp/err" ||
	fail "unclear error: $(cat "$wh_tmp/err")"
out=$(whd a create id dns url udp://:5300 remote peer-b tail url :5301) || fail "create failed"
assert_eq "create output" "dns udp://127.0.0.1:5300" "$out"
wait_udp_bound "$ns_a" 5300
rid=$(segments b)
assert_match "remote id" '^dns\.[0-9a-f]{6}$' "$rid"
# B binds nothing for it: the datagrams come on the link
assert_eq "B's UDP sockets" "127.0.0.1:5301" "$(in_ns "$ns_b" ss -Huln | awk '{print $4}' | tr '\n' ' ' | sed 's/ $//')"

sizes="1 100 1472 9000 16375 16376 60000 65507 1"
pids=()
for k in 1 2 3; do
	in_ns "$ns_a" timeout 30 "$PYTHON" "$WH_NET" udp-client 127.0.0.1 5300 $sizes >"$wh_tmp/c$k.out" 2>&1 &
	pids+=($!)
done
for k in 1 2 3; do
	wait "${pids[$((k - 1))]}" || fail "client $k: $(cat "$wh_tmp/c$k.out")"
	assert_eq "client $k datagrams echoed" 9 "$(grep -c 'echoed whole' "$wh_tmp/c$k.out")"
done

# three sessions, each its own stream: B logged nothing closed yet, and holds three connections
b_active() {
	"$WORMHOLE" -H "unix://$(wh_sock b)" list --json |
		"$PYTHON" -c 'import json,sys; print(sum(s["conns_active"] for s in json.load(sys.stdin)["segments"]))'
}
a_active() {
	"$WORMHOLE" -H "unix://$(wh_sock a)" list --json |
		"$PYTHON" -c 'import json,sys; print(sum(s["conns_active"] for s in json.load(sys.stdin)["segments"] if s["id"] == "dns"))'
}
assert_eq "sessions on A" 3 "$(a_active)"
assert_eq "sessions on B" 3 "$(b_active)"

# idle: after 2 s without traffic every session ends, on both hosts
_idle_both() { [[ $(a_active) == 0 && $(b_active) == 0 ]]; }
wait_for "UDP sessions idle on A and B" 80 _idle_both
assert_eq "A's closed sessions" 3 "$(grep -c "segment 'dns': 127.0.0.1:[0-9]* -> .*closed after" "$(wh_log a)")"
assert_eq "B's closed sessions" 3 "$(grep -c "segment '$rid': .*closed after" "$(wh_log b)")"

# and a new session works after that
res=$(in_ns "$ns_a" timeout 20 "$PYTHON" "$WH_NET" udp-client 127.0.0.1 5300 65507 7) || fail "after idle: $res"
assert_eq "datagrams after idle" 2 "$(grep -c 'echoed whole' <<<"$res")"
whd a delete dns
for ((i = 0; i < 100; i++)); do
	[[ -z $(segments b) ]] && break
	sleep 0.05
done
assert_eq "B after the delete" "" "$(segments b)"
echo "PASS"
