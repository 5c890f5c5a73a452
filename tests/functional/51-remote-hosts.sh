#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 51-remote-hosts: three hosts and what goes wrong between them.
#   - a chain A -> remote B -> remote C: data crosses both links; each host holds its part
#   - rollback: a remote spec that fails on the peer leaves nothing on either host
#   - a wrong key: refused on both sides, logged with the address, both daemons fine
#   - the peer killed mid-stream: the local connection ends promptly, other segments go on
#   - the creator killed: the peer removes the leased segment within the lease (--lease 2)
#
#   A (wh-a-$$) 198.18.0.1 --veth-- 198.18.0.2 B (wh-b-$$) 198.18.1.1 --veth-- 198.18.1.2 C (wh-c-$$)
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup 3
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b --lease 2
start_peer_daemon "$ns_c" c
start_tcp_echo "$ns_c" 7000
start_tcp_echo "$ns_b" 7001

# A -> B -> C
whd a create id three url :9000 remote 198.18.0.2 remote 198.18.1.2 tail url :7000 >/dev/null
wait_tcp_listen "$ns_a" 9000
tcp_echo_check "$ns_a" 127.0.0.1:9000 "three hosts"
# B lists its segment and, as its remote child, C's; C lists its own
assert_match "B holds the middle" '^three\.[0-9a-f]{6}$' "$(segments b | head -1)"
assert_match "C holds the end" '^three\.[0-9a-f]{6}\.[0-9a-f]{6}$' "$(segments c)"
assert_eq "B's rows" "$(segments b | tail -1)" "$(segments c)"
before_a=$(segments a) before_b=$(segments b) before_c=$(segments c)

# rollback: the tail on C cannot be made (no such container), nothing stays anywhere
if whd a create id bad url :9001 remote 198.18.0.2 remote 198.18.1.2 tail url :7000 docker-ns wh-no-such-container-$$ 2>"$wh_tmp/err"; then
	fail "a create whose remote part fails succeeded"
fi
cat "$wh_tmp/err" >&2
grep -q "remote '198.18.0.2:9999'" "$wh_tmp/err" || fail "the error does not name the peer"
sleep 0.3
assert_eq "A after the rollback" "$before_a" "$(segments a)"
assert_eq "B after the rollback" "$before_b" "$(segments b)"
assert_eq "C after the rollback" "$before_c" "$(segments c)"
tcp_listening "$ns_a" 9001 && fail "9001 listens after a failed create"

# a wrong key: A dials B with another key
other="$wh_tmp/other.key"
"$WORMHOLE" keygen "$other" >/dev/null
if in_ns "$ns_a" "$WORMHOLE" -H tcp://198.18.0.2 -K "$other" ping 2>"$wh_tmp/err"; then
	fail "a wrong key was accepted"
fi
cat "$wh_tmp/err" >&2
grep -q "handshake" "$wh_tmp/err" || fail "the client does not say the handshake failed"
grep -q "peer link from 198.18.0.1:[0-9]* refused" "$(wh_log b)" || fail "B did not log the refusal"
tcp_echo_check "$ns_a" 127.0.0.1:9000 "after the wrong key"

# the peer killed mid-stream: a connection A -> B (echo on B) is open; B dies
whd a create id mid url :9002 remote 198.18.0.2 tail url :7001 >/dev/null
wait_tcp_listen "$ns_a" 9002
start=$(date +%s%N)
bg_in "$ns_a" timeout 20 socat -t 0.5 EXEC:"sleep 30" TCP:127.0.0.1:9002
held=$last_pid
held_active() { "$WORMHOLE" -H "unix://$(wh_sock a)" list --json | grep -q '"conns_active":1'; }
wait_for "A relays the held connection" 100 held_active
stop_pid "${wh_daemon_pid[b]}"
kill -KILL "${wh_daemon_pid[b]}" 2>/dev/null || true
for ((i = 0; i < 200; i++)); do
	alive "$held" || break
	sleep 0.05
done
! alive "$held" || fail "the local connection still runs 10 s after the peer died"
elapsed=$((($(date +%s%N) - start) / 1000000))
info "the held connection ended ${elapsed} ms after B was stopped"
# A is fine, and its other segments answer (their streams fail fast while B is away)
whd a ping >/dev/null || fail "A does not answer"

# the creator killed: B comes back with a lease of 2 s; A makes a segment there, then dies
start_peer_daemon "$ns_b" b2 --lease 2
whd a create id leased url :9003 remote 198.18.0.2 tail url :7001 >/dev/null
# (A's other segments find their parts gone on the new B and make them again: only "leased.*" here)
leased_b2() { segments b2 | grep '^leased\.' || true; }
assert_match "B has the leased segment" '^leased\.[0-9a-f]{6}$' "$(leased_b2)"
assert_eq "A lists it as its remote child" "leased $(leased_b2)" "$(segments a | grep -o '^leased.*' | tr '\n' ' ' | sed 's/ $//')"
recreated() { segments b2 | grep -q '^mid\.'; }
wait_for "A's segment 'mid' made again on the new B" 100 recreated
kill -KILL "${wh_daemon_pid[a]}"
for ((i = 0; i < 160; i++)); do
	[[ -z $(segments b2) ]] && break
	sleep 0.05
done
assert_eq "B after the lease" "" "$(segments b2)"
grep -q "lease expired" "$(wh_log b2)" || fail "B did not log the expiry"
