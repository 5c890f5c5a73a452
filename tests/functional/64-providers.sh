#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 64-providers: several providers for one head (`remote H1,H2`). Two home hosts B and C dial A
# (--link) as homelab1 and homelab2; on A, `url :9000 balance round-robin remote
# homelab1,homelab2 tail url :9002` spreads new connections over both. C's daemon killed: no
# new connection is lost (the dead provider is skipped); `list` shows each provider's state and
# counts; C back: it gets its segment again (re-created on renew) and takes connections again.
#
#   B (wh-b-$$) 198.18.0.2 --link--> A (wh-a-$$) 198.18.0.1 | 198.18.2.1 <--link-- 198.18.2.2 C (wh-c-$$)
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
ns_add "$ns_c"
veth_link "$ns_a" "$ns_c" wh-ac wh-ca 198.18.2.1 198.18.2.2
start_peer_daemon "$ns_a" a
wait_tcp_listen "$ns_a" 9999
start_peer_daemon "$ns_b" b --name homelab1 --link 198.18.0.1
start_peer_daemon "$ns_c" c --name homelab2 --link 198.18.2.1
bg_in "$ns_b" socat TCP4-LISTEN:9002,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo B"
bg_in "$ns_c" socat TCP4-LISTEN:9002,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo C"
wait_tcp_listen "$ns_b" 9002
wait_tcp_listen "$ns_c" 9002
both() { [[ $("$WORMHOLE" -H "unix://$(wh_sock a)" list --json | grep -o '"name":"homelab[12]"' | wc -l) == 2 ]]; }
wait_for "both providers linked" 100 both

whd a create id lb url :9000 balance round-robin remote homelab1,homelab2 tail url :9002 >/dev/null
wait_tcp_listen "$ns_a" 9000
get() { in_ns "$ns_a" timeout 5 socat -T 3 - TCP:127.0.0.1:9000 </dev/null; }
seen=""
for i in 1 2 3 4; do seen+=$(get); done
info "answers: $seen"
[[ $seen == *B* && $seen == *C* ]] || fail "round-robin did not use both providers: '$seen'"
whd a list >&2

# C's daemon dies: every new connection is served by B
kill -KILL "${wh_daemon_pid[c]}"
c_gone() { [[ $("$WORMHOLE" -H "unix://$(wh_sock a)" list --json | grep -o '"name":"homelab2"' | wc -l) == 0 ]]; }
wait_for "A notices homelab2 is gone" 150 c_gone
for i in 1 2 3 4 5 6; do
	got=$(get) || fail "connection $i lost with one provider down"
	assert_eq "served by B" "B" "$got"
done
whd a list | grep -q "remote down" || fail "list does not show the provider down"

# C comes back (a new daemon: its segment is created again) and takes connections again
start_peer_daemon "$ns_c" c2 --name homelab2 --link 198.18.2.1
wait_for "homelab2 linked again" 100 both
c_has() { [[ -n $(segments c2) ]]; }
wait_for "homelab2 has its segment again" 100 c_has
seen=""
for i in 1 2 3 4; do seen+=$(get); done
[[ $seen == *C* ]] || fail "C is not used after it came back: '$seen'"
whd a list >&2
