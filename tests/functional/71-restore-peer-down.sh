#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 71-restore-peer-down: a segment with `remote` survives a restart of its daemon while the peer
# is away, and serves again once the peer is back, with no action.
#  1. By address: A has `url :9000 remote 198.18.0.2 tail url :9002`; B's daemon is stopped, A
#     restarts on the same state: A logs that B does not answer, `list` still shows the segment
#     (waiting for its link), and the state file keeps it. B comes back: within B's re-dial
#     backoff the part on B is created and data flows again.
#  2. By name, the gateway case: H ("homelab", behind NAT) dials G; G has `url :9100 remote
#     homelab tail url :9003`. G restarts: at G's start no daemon called homelab has dialed in yet
#     (before this fix the restore failed and the segment was gone). H re-dials by itself, says
#     its name, G creates the part on H, data flows.
#
#   A/G (wh-a-$$) 198.18.0.1 :9999  <-->  B/H (wh-b-$$) 198.18.0.2 :9999, echo :9002 and :9003
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_tcp_echo "$ns_b" 9002
start_tcp_echo "$ns_b" 9003

restart() { # restart NS NAME ARGS...: SIGTERM, then the same daemon on the same state
	local ns=$1 name=$2
	shift 2
	stop_pid "${wh_daemon_pid[$name]}"
	cp "$(wh_log "$name")" "$wh_tmp/$name.log.before"
	start_peer_daemon "$ns" "$name" "$@"
}
echo_ok() { # echo_ok NS ADDR TAG: one echo through, quietly
	local out
	out=$(printf '%s\n' "$3" | timeout 3 ip netns exec "$1" socat -T 2 - "TCP:$2" 2>/dev/null) || return 1
	[[ $out == *"$3"* ]]
}

# ---- 1. by address
start_peer_daemon "$ns_a" a --peer-listen 198.18.0.1:9999
start_peer_daemon "$ns_b" b --peer-listen 198.18.0.2:9999
whd a create id web url :9000 remote 198.18.0.2 tail url :9002 >/dev/null
wait_tcp_listen "$ns_a" 9000
tcp_echo_check "$ns_a" 127.0.0.1:9000 "before the restart"

stop_pid "${wh_daemon_pid[b]}"
restart "$ns_a" a --peer-listen 198.18.0.1:9999
wait_for "A's word that B does not answer" 100 grep -q "segment 'web': restored; 198.18.0.2:9999 does not answer now" "$(wh_log a)"
assert_eq "A's segments after its restart" "web" "$(whd a list -q | grep -v '\.' | tr '\n' ' ' | sed 's/ $//')"
whd a list | grep -q "waiting for its link" || fail "list does not say the part waits for its link"
grep -q '"id":"web"' "$wh_tmp/state-a/segments.json" || fail "the state file lost the segment"
wait_tcp_listen "$ns_a" 9000
if echo_ok "$ns_a" 127.0.0.1:9000 "while B is away"; then fail "data flowed with B away"; fi

start_peer_daemon "$ns_b" b --peer-listen 198.18.0.2:9999
wait_for "data through A once B is back" 300 echo_ok "$ns_a" 127.0.0.1:9000 "B back"
grep -q "remote segment 'web\.[0-9a-f]*' created on 198.18.0.2:9999 (restored)" "$(wh_log a)" ||
	fail "A did not log the late create"
tcp_echo_check "$ns_a" 127.0.0.1:9000 "after B came back"
whd a delete web

# ---- 2. by name: G (daemon a) and homelab (daemon b, which dials)
stop_pid "${wh_daemon_pid[b]}"
start_peer_daemon "$ns_b" b --name homelab --link 198.18.0.1
named() { whd a list --json | grep -q '"name":"homelab","address":"[^"]*","direction":"in","state":"up"'; }
wait_for "G knows homelab" 100 named
whd a create id pub url :9100 remote homelab tail url :9003 >/dev/null
wait_tcp_listen "$ns_a" 9100
tcp_echo_check "$ns_a" 127.0.0.1:9100 "to homelab before G's restart"

restart "$ns_a" a --peer-listen 198.18.0.1:9999
assert_eq "G's segments after its restart" "pub" "$(whd a list -q | grep -v '\.' | tr '\n' ' ' | sed 's/ $//')"
wait_for "data to homelab once it dialed in again" 300 echo_ok "$ns_a" 127.0.0.1:9100 "homelab back"
tcp_echo_check "$ns_a" 127.0.0.1:9100 "to homelab after G's restart"
if grep -q "failed at start" "$(wh_log a)"; then fail "G's restore failed: $(grep -i error "$(wh_log a)")"; fi
echo "PASS"
