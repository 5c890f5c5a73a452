#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 21-example-netns: runs examples/netns-chain/run.sh (a server in a named netns, reached from
# the host through wormhole) against a daemon of this test.
#
#   test's own mount namespace, the machine's network namespace    netns wh-ex-$$ (the example's)
#   +-----------------------------------------+                   +---------------------------+
#   | client --> :PORT [wormholed] ===========+===================+=> 127.0.0.1:80 socat cat  |
#   +-----------------------------------------+                   +---------------------------+
#
# The example adds its netns with `ip netns add`, as a user does, so the daemon must see the same
# /run/netns: both run in one private mount namespace of the test (unshare --mount, a tmpfs on
# /run/netns), so nothing is left on the machine. Traffic stays on the loopback.
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
command -v unshare >/dev/null || skip "unshare (util-linux) missing"
port=$((20000 + $$ % 10000))
sock=$wh_tmp/ex.sock
example=$(cd "$(dirname "$0")/../.." && pwd)/examples/netns-chain/run.sh
mkdir -p "$wh_tmp/ex-state" "$wh_tmp/ex-chains"
cat >"$wh_tmp/ex.sh" <<'INNER'
set -euo pipefail
mount --make-rprivate /
mkdir -p /run/netns
mount -t tmpfs wh-test /run/netns
"$WORMHOLED" -H "unix://$SOCK" --state "$STATE" --chains "$CHAINS" 2>"$LOG" &
d=$!
for ((i = 0; i < 100; i++)); do
	[[ -S $SOCK ]] && break
	sleep 0.05
done
rc=0
env WORMHOLE="$WORMHOLE" WORMHOLE_HOST="unix://$SOCK" NS="$NSNAME" PORT="$PORT" \
	bash "$EXAMPLE" || rc=$?
left=$("$WORMHOLE" -H "unix://$SOCK" list -q)
kill "$d"
wait "$d" || true
[[ -z $left ]] || {
	echo "FAIL: the example left its segment: $left"
	exit 1
}
exit $rc
INNER
SOCK=$sock STATE=$wh_tmp/ex-state CHAINS=$wh_tmp/ex-chains LOG=$wh_tmp/ex.log NSNAME=wh-ex-$$ \
	PORT=$port EXAMPLE=$example WORMHOLED=$WORMHOLED WORMHOLE=$WORMHOLE \
	unshare --mount bash "$wh_tmp/ex.sh" >&2 || {
	cat "$wh_tmp/ex.log" >&2
	fail "the example failed"
}
ip netns list | grep -q "^wh-ex-$$" && fail "the example left its netns"
echo "PASS"
