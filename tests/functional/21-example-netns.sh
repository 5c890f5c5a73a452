#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 21-example-netns: runs examples/netns-chain/run.sh (a server in a named netns, reached from
# the host through wormhole) against this test's daemon, inside this test's namespace.
#
#   netns wh-test-$$ ("host")                          netns wh-ex-$$ (the example's)
#   +-----------------------------------------+        +---------------------------+
#   | client --> :8090 [wormholed] ===========+========+=> 127.0.0.1:80 socat cat  |
#   +-----------------------------------------+        +---------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
nh env WORMHOLE="$WORMHOLE" WORMHOLE_HOST="unix://$(wh_sock main)" NS="wh-ex-$$" \
	bash "$(dirname "$0")/../../examples/netns-chain/run.sh" >&2 || fail "the example failed"
assert_eq "the example removed its segment" "" "$(wh list -q)"
ip netns list | grep -q "^wh-ex-$$" && fail "the example left its netns"
echo "PASS"
