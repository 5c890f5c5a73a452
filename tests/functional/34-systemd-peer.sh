#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 34-systemd-peer: the peer port from the service manager (wormholed-peer.socket,
# FileDescriptorName=peer). tests/tools/svcmgr.py binds 198.18.0.2:7777 and passes it as "peer";
# the daemon on B accepts links on it and binds no peer port of its own (no 0.0.0.0:9999). A on
# the other host drives B through it (`-H tcp://198.18.0.2:7777 -K KEY`), a segment with `remote
# 198.18.0.2:7777` carries data through it, and after a restart (SIGUSR1 to the manager) the same
# socket, never closed, takes links again. Without a key, the passed socket is closed with a
# notice, not left accepting connections nobody could authenticate.
#
#   A (wh-a-$$) 198.18.0.1                         B (wh-b-$$) 198.18.0.2
#   client -> :9000 [wormholed A] ==TLS link==> :7777 (svcmgr.py "peer") [wormholed B] -> :9002 echo
set -euo pipefail
WH_DEFAULT_KEY=/etc/wormhole/key.secret # meson option keyfile
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
mgr=$wh_tmp/mgr
ctl=$wh_tmp/b-ctl.sock
mkdir -p "$mgr" "$wh_tmp/state-b" "$wh_tmp/chains-b"
start_peer_daemon "$ns_a" a --peer-listen 198.18.0.1:9999
start_tcp_echo "$ns_b" 9002

log=$(wh_log b)
wh_daemons+=(b)
pretty "$ns_b" "svcmgr.py --dir $mgr --listen peer=tcp:198.18.0.2:7777 -- wormholed -H unix://$ctl -K KEY &"
ip netns exec "$ns_b" "$PYTHON" "$WH_REPO/tests/tools/svcmgr.py" --dir "$mgr" \
	--listen peer=tcp:198.18.0.2:7777 \
	-- "$WORMHOLED" -H "unix://$ctl" -K "$wh_key" --state "$wh_tmp/state-b" \
	--chains "$wh_tmp/chains-b" >"$log" 2>&1 &
mgr_pid=$!
wh_pids+=("$mgr_pid")
wait_for "READY=1 from B" 100 grep -qx 'READY=1' "$mgr/notify.log"

assert_match "B's log" "peer links accepted on the socket passed by systemd" "$(cat "$log")"
listeners=$(in_ns "$ns_b" ss -Htln | awk '{print $4}' | grep -v '^127\.0\.0\.1:9002$' | sort | tr '\n' ' ')
assert_eq "B's TCP listeners but the echo server (no default peer port)" "198.18.0.2:7777 " "$listeners"

out=$(in_ns "$ns_a" "$WORMHOLE" -H tcp://198.18.0.2:7777 -K "$wh_key" ping) ||
	fail "ping through the passed peer socket failed"
assert_match "ping over the passed socket" '^[0-9]+\.[0-9]+' "$out"

out=$(whd a create id web url :9000 remote 198.18.0.2:7777 tail url :9002) || fail "create failed"
assert_eq "create output" "web tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_a" 9000
tcp_echo_check "$ns_a" 127.0.0.1:9000 "through the link on the passed socket"

# a restart: the manager keeps the socket, the next daemon takes links on it again
kill -USR1 "$mgr_pid"
two_ready() { (($(grep -cx 'READY=1' "$mgr/notify.log") >= 2)); }
wait_for "the second READY=1" 100 two_ready
out=$(in_ns "$ns_a" "$WORMHOLE" -H tcp://198.18.0.2:7777 -K "$wh_key" list -q) ||
	fail "list through the passed socket after a restart failed"
echo "ok: B answers on the same socket after a restart" >&2

# without a key the passed socket is closed, with a notice (the manager keeps its own copy, as
# systemd does, so only the daemon's word tells)
kill -TERM "$mgr_pid"
wait "$mgr_pid" 2>/dev/null || true
if [[ -e $WH_DEFAULT_KEY ]]; then
	echo "note: $WH_DEFAULT_KEY exists on this machine: the keyless case is not checked" >&2
	exit 0
fi
mgr2=$wh_tmp/mgr2
mkdir -p "$mgr2"
log2=$(wh_log b2)
wh_daemons+=(b2)
ip netns exec "$ns_b" "$PYTHON" "$WH_REPO/tests/tools/svcmgr.py" --dir "$mgr2" \
	--listen peer=tcp:198.18.0.2:7778 \
	-- "$WORMHOLED" -H "unix://$ctl" --state "$wh_tmp/state-b" --chains "$wh_tmp/chains-b" \
	>"$log2" 2>&1 &
mgr_pid=$!
wh_pids+=("$mgr_pid")
wait_for "READY=1 from B without a key" 100 grep -qx 'READY=1' "$mgr2/notify.log"
assert_match "B's notice" "closing the peer socket passed by systemd: no key" "$(cat "$log2")"
