#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 60-tunnels: IPsec tunnels between two daemons, on a kernel with xfrm policies but (here) no ESP:
# every SA is refused with ENOSYS, so what this checks is that each failure rolls back on both
# hosts, and the policy-only paths. The ESP data path is tested in the VM (tests/vm/).
#
#   A (wh-a-$$) 198.18.0.1 [wormholed a] ==TLS link :9999== [wormholed b] 198.18.0.2 B (wh-b-$$)
#
# - tunnel-create A -> B: B's install fails at its inbound SA, A's create fails with that reason,
#   and neither host keeps an SA, a policy, an overlay address, a route, an encap socket or a
#   registry entry; the same for a `udptunnel` chain word (no segment left on A or B either)
# - an overlay address already in use on the peer (a /30 CIDR makes the pair predictable): the
#   peer refuses in tunnel-prepare, nothing is left
# - a partial tunnel (our reqid: policies, an overlay address and a route, no SA) found at start
#   is removed; a policy that is not ours is left alone
# - the requests between daemons are refused on the local control socket; CLI usage errors exit 2
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b
wait_tcp_listen "$ns_b" 9999

# nothing_left NS NAME: no xfrm state or policy, no overlay address or route, no encap socket,
# an empty tunnel-list
nothing_left() {
	local ns=$1 name=$2
	assert_eq "$name: xfrm states" "" "$(ip -n "$ns" xfrm state)"
	assert_eq "$name: xfrm policies" "" "$(ip -n "$ns" xfrm policy)"
	assert_eq "$name: overlay addresses on lo" "" "$(ip -n "$ns" -4 addr show dev lo | grep -v '127.0.0.1' | grep inet || true)"
	assert_eq "$name: overlay routes" "" "$(ip -n "$ns" route | grep '^100\.' || true)"
	assert_eq "$name: encap sockets" "" "$(in_ns "$ns" ss -Huln 'sport >= :4500 and sport <= :4599')"
	assert_eq "$name: tunnel-list" '{"tunnels": []}' "$(whd "$name" tunnel-list --json | tr -d ' \n' | sed 's/:\[\]/: []/')"
}

if whd a tunnel-create 198.18.0.2 >"$wh_tmp/out" 2>"$wh_tmp/err"; then
	# a kernel with ESP: the policies are there, and tunnel-delete removes both halves
	info "this kernel has ESP: checking the installed tunnel instead"
	assert_eq "policies on A" 2 "$(ip -n "$ns_a" xfrm policy | grep -c '^src')"
	assert_eq "policies on B" 2 "$(ip -n "$ns_b" xfrm policy | grep -c '^src')"
	whd a tunnel-delete 198.18.0.2
else
	grep -q "inbound SA: Function not implemented" "$wh_tmp/err" ||
		fail "tunnel-create failed for another reason: $(cat "$wh_tmp/err")"
	info "tunnel-create refused as expected: $(cat "$wh_tmp/err")"
	grep -q "tunnel-prepare" "$(wh_log b)" || grep -q "installing tunnel" "$(wh_log b)" ||
		fail "B never saw the tunnel requests"
fi
nothing_left "$ns_a" a
nothing_left "$ns_b" b

# the chain word: the tunnel fails, so does the create, nothing is left (segments included)
if whd a create id web url :9000 udptunnel 198.18.0.2 url :9001 tail url :9002 2>"$wh_tmp/err"; then
	info "this kernel has ESP: udptunnel chain created"
	whd a delete web
	whd a tunnel-delete 198.18.0.2
else
	grep -q "word 5 'udptunnel': peer '198.18.0.2:9999': tunnel-install: .*inbound SA" "$wh_tmp/err" || fail "the error does not name the word: $(cat "$wh_tmp/err")"
	info "udptunnel chain refused: $(cat "$wh_tmp/err")"
fi
assert_eq "segments on A" "" "$(segments a)"
assert_eq "segments on B" "" "$(segments b)"
nothing_left "$ns_a" a
nothing_left "$ns_b" b

# a collision on the peer: with a /30 the pair is .1 and .2; B already has .2
stop_pid "${wh_daemon_pid[a]}"
stop_pid "${wh_daemon_pid[b]}"
start_peer_daemon "$ns_a" a2 --tunnel-cidr 100.70.0.0/30
start_peer_daemon "$ns_b" b2 --tunnel-cidr 100.70.0.0/30
ip -n "$ns_b" addr add 100.70.0.2/32 dev wh-ba
if whd a2 tunnel-create 198.18.0.2 2>"$wh_tmp/err"; then
	fail "tunnel-create succeeded with the peer's overlay address taken"
fi
grep -q "tunnel-prepare: overlay address .*in use" "$wh_tmp/err" ||
	fail "no collision reported: $(cat "$wh_tmp/err")"
ip -n "$ns_b" addr del 100.70.0.2/32 dev wh-ba
nothing_left "$ns_a" a2
nothing_left "$ns_b" b2

# a partial tunnel of ours (policies, address, route; no SA) is removed at start, a foreign
# policy stays
stop_pid "${wh_daemon_pid[b2]}"
reqid=0x5748abcd
in_ns "$ns_b" ip addr add 100.64.9.2/32 dev lo
in_ns "$ns_b" ip route add 100.64.9.1/32 dev wh-ba src 100.64.9.2 scope link
in_ns "$ns_b" ip xfrm policy add src 100.64.9.2/32 dst 100.64.9.1/32 dir out \
	tmpl src 198.18.0.2 dst 198.18.0.1 proto esp reqid $reqid mode tunnel
in_ns "$ns_b" ip xfrm policy add src 100.64.9.1/32 dst 100.64.9.2/32 dir in \
	tmpl src 198.18.0.1 dst 198.18.0.2 proto esp reqid $reqid mode tunnel
in_ns "$ns_b" ip xfrm policy add src 10.9.9.1/32 dst 10.9.9.2/32 dir out \
	tmpl src 198.18.0.2 dst 198.18.0.1 proto esp reqid 7 mode tunnel
start_peer_daemon "$ns_b" b3
grep -q "tunnel 5748abcd to 198.18.0.1: found partial" "$(wh_log b3)" ||
	fail "B did not report the partial tunnel: $(cat "$(wh_log b3)")"
assert_eq "B's policies after start" "src 10.9.9.1/32 dst 10.9.9.2/32" \
	"$(ip -n "$ns_b" xfrm policy | grep '^src' | sed 's/ *$//')"
assert_eq "B's overlay address" "" "$(ip -n "$ns_b" -4 addr show dev lo | grep 100.64 || true)"
assert_eq "B's overlay route" "" "$(ip -n "$ns_b" route | grep '^100\.' || true)"
ip -n "$ns_b" xfrm policy delete src 10.9.9.1/32 dst 10.9.9.2/32 dir out
nothing_left "$ns_b" b3

# the requests between daemons come over a peer link only
for op in tunnel-prepare tunnel-install tunnel-rekey; do
	reply=$(printf '{"op":"%s","step":1,"tunnel":{"reqid":1}}\n' "$op" |
		in_ns "$ns_b" timeout 5 socat -t 2 - "UNIX-CONNECT:$(wh_sock b3)")
	assert_match "$op on the control socket" '"ok":false.*peer link only' "$reply"
done
reply=$(printf '{"op":"tunnel-delete","tunnel":{"reqid":1464380365}}\n' |
	in_ns "$ns_b" timeout 5 socat -t 2 - "UNIX-CONNECT:$(wh_sock b3)")
assert_match "a half's tunnel-delete on the control socket" '"ok":false.*peer link only' "$reply"

# usage errors: exit 2, nothing sent; an unknown tunnel: exit 1
set +e
whd b3 tunnel-create 2>/dev/null
assert_eq "tunnel-create without HOST" 2 $?
whd b3 tunnel-create '[nope' 2>/dev/null
assert_eq "tunnel-create with a bad HOST" 2 $?
whd b3 tunnel-list --xml 2>/dev/null
assert_eq "tunnel-list --xml" 2 $?
whd b3 tunnel-delete 198.18.0.1 2>"$wh_tmp/err"
assert_eq "tunnel-delete of no tunnel" 1 $?
"$WORMHOLED" --tunnel-ports 5-1 2>/dev/null
assert_eq "wormholed --tunnel-ports 5-1" 2 $?
"$WORMHOLED" --rekey 0 2>/dev/null
assert_eq "wormholed --rekey 0" 2 $?
set -e
grep -q "no tunnel to '198.18.0.1'" "$wh_tmp/err" || fail "unclear error: $(cat "$wh_tmp/err")"
echo "ok: 60-tunnels"
