#!/bin/bash
# SPDX-License-Identifier: MIT
#
# examples/netns-chain/run.sh - reach a server in a named network namespace from the host
#
#   client --> 127.0.0.1:8090 [wormholed] ==setns==> 127.0.0.1:80 in netns NS (ip netns add NS)
#
# A named netns (iproute2's /run/netns/NS) that has only its loopback is as closed as a
# container with --network none; `NS@` in a url puts that end inside it:
#
#   ip netns add backend
#   ip netns exec backend ip link set lo up
#   ip netns exec backend socat TCP-LISTEN:80,bind=127.0.0.1,fork,reuseaddr EXEC:cat &
#   wormhole create id backend url :8090 tail url backend@:80
#
# As root, with wormholed running: examples/netns-chain/run.sh does exactly that with its own
# netns (NS, default wormhole-example-$$), checks a line comes back through, and removes the
# segment, the server and the netns (KEEP=1 leaves them). Environment: PORT (default 8090),
# WORMHOLE, WORMHOLE_HOST (as in examples/database/run.sh). tests/functional/21-example-netns.sh
# runs it.
set -euo pipefail
ns=${NS:-wormhole-example-$$}
port=${PORT:-8090}
wh() {
	"${WORMHOLE:-wormhole}" ${WORMHOLE_HOST:+-H "$WORMHOLE_HOST"} "$@"
}
for t in ip socat ss; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
server=""
cleanup() {
	local rc=$?
	if [[ ${KEEP:-0} != 1 ]]; then
		wh delete example-netns 2>/dev/null || true
		[[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
		ip netns del "$ns" 2>/dev/null || true
	fi
	exit $rc
}
trap cleanup EXIT

echo "+ ip netns add $ns"
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" socat TCP-LISTEN:80,bind=127.0.0.1,fork,reuseaddr EXEC:cat &
server=$!
for ((i = 0; i < 100; i++)); do
	[[ -n $(ip netns exec "$ns" ss -Htln "sport = :80") ]] && break
	sleep 0.05
done
echo "+ wormhole create id example-netns url :$port tail url $ns@:80"
wh create id example-netns url ":$port" tail url "$ns@:80"
reply=$(printf 'through the netns\n' | timeout 20 socat -t 10 - "TCP:127.0.0.1:$port")
echo "answer: $reply"
[[ $reply == "through the netns" ]] || { echo "FAIL: expected the line back" >&2; exit 1; }
wh list
echo "PASS"
