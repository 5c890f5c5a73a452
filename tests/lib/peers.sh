# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/lib/peers.sh - hosts for the peer-link tests: namespaces joined by veth, one wormholed
# each, a shared key. Source after netns.sh and call wh_setup first.
#
#   host A (wh-a-$$)  198.18.0.1 fd57:6f72::1 --veth-- 198.18.0.2 fd57:6f72::2  host B (wh-b-$$)
#   host B            198.18.1.1              --veth-- 198.18.1.2               host C (wh-c-$$)
#
# C is reachable from B only, so a chain A -> B -> C really hops.

ns_a="wh-a-$$"
ns_b="wh-b-$$"
ns_c="wh-c-$$"
wh_key=""

# veth_link NS1 NS2 IF1 IF2 ADDR1 ADDR2 [V6_1 V6_2]
veth_link() {
	pretty "setup" "veth $3 ($1, $5) <-> $4 ($2, $6)"
	ip link add "$3" netns "$1" type veth peer name "$4" netns "$2"
	ip -n "$1" addr add "$5/24" dev "$3"
	ip -n "$2" addr add "$6/24" dev "$4"
	if [[ -n ${7:-} ]]; then
		ip -n "$1" addr add "$7/64" dev "$3" nodad
		ip -n "$2" addr add "$8/64" dev "$4" nodad
	fi
	ip -n "$1" link set "$3" up
	ip -n "$2" link set "$4" up
}

# peers_setup [3]: hosts A and B (and C), a key in $wh_key
peers_setup() {
	ns_add "$ns_a"
	ns_add "$ns_b"
	veth_link "$ns_a" "$ns_b" wh-ab wh-ba 198.18.0.1 198.18.0.2 fd57:6f72::1 fd57:6f72::2
	if [[ ${1:-2} == 3 ]]; then
		ns_add "$ns_c"
		veth_link "$ns_b" "$ns_c" wh-bc wh-cb 198.18.1.1 198.18.1.2
	fi
	wh_key="$wh_tmp/key.secret"
	"$WORMHOLE" keygen "$wh_key" >/dev/null || fail "keygen failed"
}

# start_peer_daemon NS NAME [ARGS...]: wormholed NAME in namespace NS with the key; waits for
# its control socket and its peer port
start_peer_daemon() {
	local ns=$1 name=$2 sock log pid i
	shift 2
	sock=$(wh_sock "$name")
	log=$(wh_log "$name")
	mkdir -p "$wh_tmp/state-$name" "$wh_tmp/chains-$name" # never the machine's /var/lib/wormhole
	local args=(-H "unix://$sock" -K "$wh_key" --state "$wh_tmp/state-$name" --chains "$wh_tmp/chains-$name" "$@")
	[[ ${WH_VERBOSE:-0} == 1 ]] && args+=(-v)
	pretty "$ns" "wormholed ${args[*]} 2>$log &"
	ip netns exec "$ns" "$WORMHOLED" "${args[@]}" >"$log" 2>&1 &
	pid=$!
	wh_pids+=("$pid")
	wh_daemons+=("$name")
	wh_daemon_pid[$name]=$pid
	for ((i = 0; i < 200; i++)); do
		if "$WORMHOLE" -H "unix://$sock" ping >/dev/null 2>&1; then
			break
		fi
		alive "$pid" || fail "wormholed '$name' exited during startup"
		sleep 0.05
	done
	((i < 200)) || fail "wormholed '$name' did not answer ping within 10 s"
}

# segments NAME: the ids of daemon NAME's segments, one per line, sorted
segments() {
	"$WORMHOLE" -H "unix://$(wh_sock "$1")" list --json |
		"$PYTHON" -c 'import json,sys; print("\n".join(sorted(s["id"] for s in json.load(sys.stdin)["segments"])))'
}
