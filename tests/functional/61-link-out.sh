#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 61-link-out: links dialed from inside, named peers. B ("homelab") accepts nothing and keeps a
# link dialed out to A (`--link`); A reaches it as `remote homelab` through that link, and B can
# ask A for it itself (-H tcp://A). `list` shows the link on both sides; a second daemon that
# claims the same name is refused and logged; `unlink` / `link` at run time; the link cut and
# back: the service resumes by itself.
#
#   A (wh-a-$$) 198.18.0.1 "gateway" <==link dialed by B== 198.18.0.2 B (wh-b-$$) "homelab"
#   client -> A:9000 [wormholed A] ==stream on B's link==> [wormholed B] -> :9002 echo
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_peer_daemon "$ns_a" a --name gateway
wait_tcp_listen "$ns_a" 9999
start_peer_daemon "$ns_b" b --name homelab --link 198.18.0.1 --lease 30
start_tcp_echo "$ns_b" 9002

# B accepts nothing: no peer port, and a connect from A fails
listeners=$(in_ns "$ns_b" ss -Htln | awk '{print $4}' | sort | tr '\n' ' ')
assert_eq "B's listeners" "127.0.0.1:9002 " "$listeners"
if in_ns "$ns_a" timeout 3 socat -u OPEN:/dev/null TCP:198.18.0.2:9999,connect-timeout=2 2>/dev/null; then
	fail "A could connect to B:9999"
fi

links_of() { # links_of DAEMON: "name direction state" per link
	"$WORMHOLE" -H "unix://$(wh_sock "$1")" list --json |
		"$PYTHON" -c 'import json,sys; print("\n".join("%s %s %s" % (l["name"], l["direction"], l["state"]) for l in json.load(sys.stdin)["links"]))'
}
named_on_a() { links_of a | grep -q "^homelab in up$"; }
wait_for "A knows homelab" 100 named_on_a
assert_eq "B's link" "198.18.0.1:9999 out up" "$(links_of b)"
grep -q "known there as 'homelab'" "$(wh_log b)" || fail "B did not log its name being taken"

# A uses the link B dialed
out=$(whd a create id web url :9000 remote homelab tail url :9002) || fail "create on A failed"
assert_eq "create output" "web tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_a" 9000
tcp_echo_check "$ns_a" 127.0.0.1:9000 "through the link B dialed"
assert_match "B holds the remote part" '^web\.[0-9a-f]{6}$' "$(segments b)"
whd a list >&2

# B asks A for it itself, over a link of its own to A
in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_key" create id mine url 0.0.0.0:9100 remote homelab tail url :9002 ||
	fail "create through A from B failed"
wait_tcp_listen "$ns_a" 9100
tcp_echo_check "$ns_a" 198.18.0.1:9100 "asked for by B"

# an unknown name: a clear error, nothing created
if whd a create id nope url :9200 remote nosuchhost tail url :9002 2>"$wh_tmp/err"; then
	fail "remote to an unknown name succeeded"
fi
grep -q "nosuchhost" "$wh_tmp/err" || fail "the error does not name the host: $(cat "$wh_tmp/err")"

# a second daemon claiming homelab is refused, and logged on both sides
start_peer_daemon "$ns_b" b2 --name homelab --link 198.18.0.1
b2_refused() { grep -q "the name 'homelab' was refused" "$(wh_log b2)"; }
wait_for "the second homelab is refused" 100 b2_refused
grep -q "refusing the name 'homelab'" "$(wh_log a)" || fail "A did not log the refusal"
tcp_echo_check "$ns_a" 127.0.0.1:9000 "the first homelab still serves"
stop_pid "${wh_daemon_pid[b2]}"
cat "$(wh_log b2)" >&2

# the link cut and back: the service resumes with no action
ip -n "$ns_b" link set wh-ba down
link_down_on_a() { ! links_of a | grep -q "^homelab in"; }
wait_for "A notices the link is gone" 150 link_down_on_a
if in_ns "$ns_a" timeout 5 socat -t 1 - TCP:127.0.0.1:9000 <<<"x" | grep -q x; then
	fail "data went through with the link down"
fi
ip -n "$ns_b" link set wh-ba up
wait_for "B dials A again" 300 named_on_a
tcp_echo_check "$ns_a" 127.0.0.1:9000 "after the link came back"

# unlink / link at run time
whd b unlink 198.18.0.1
link_gone() { [[ -z $(links_of b) ]]; }
wait_for "B's link is dropped" 100 link_gone
whd b link 198.18.0.1
wait_for "B links again" 100 named_on_a
tcp_echo_check "$ns_a" 127.0.0.1:9000 "after link"
