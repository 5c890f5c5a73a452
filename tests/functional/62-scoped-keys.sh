#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 62-scoped-keys: `wormhole keygen --allow RULES`. A's own key is the full-power one; its key
# directory holds B's scoped key "homelab" (port=8080-8089 remote=self no-docker-run name=homelab).
# B dials A with it (--link) and asks A for what it may and may not do; every refusal names the
# rule and A logs which key did what; a read-only key may list and nothing more; removing a key
# file revokes it.
#
#   A (wh-a-$$) 198.18.0.1 keys: full + keys.d/{homelab,viewer} <== B (wh-b-$$) 198.18.0.2, -K homelab
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
mkdir -m 700 "$wh_tmp/keys.d"
"$WORMHOLE" keygen --allow "port=8080-8089 remote=self no-docker-run name=homelab" "$wh_tmp/keys.d/homelab.key" >/dev/null
"$WORMHOLE" keygen --allow "read-only" "$wh_tmp/keys.d/viewer.key" >/dev/null
head -2 "$wh_tmp/keys.d/homelab.key" >&2
assert_eq "key header" "id homelab" "$(head -1 "$wh_tmp/keys.d/homelab.key")"
if "$WORMHOLE" keygen --allow "port=abc" "$wh_tmp/bad.key" 2>"$wh_tmp/err"; then
	fail "a key with a bad rule was made"
fi
grep -q "port=abc" "$wh_tmp/err" || fail "the error does not name the rule"
[[ ! -e $wh_tmp/bad.key ]] || fail "a bad key file was left"

start_peer_daemon "$ns_a" a --keys "$wh_tmp/keys.d"
wait_tcp_listen "$ns_a" 9999
# B holds only its scoped key
wh_key_full=$wh_key
wh_key="$wh_tmp/keys.d/homelab.key"
start_peer_daemon "$ns_b" b --name homelab --link 198.18.0.1
start_tcp_echo "$ns_b" 8081
named() { "$WORMHOLE" -H "unix://$(wh_sock a)" list --json | grep -q '"name":"homelab","address":"[^"]*","direction":"in","state":"up","key":"homelab"'; }
wait_for "A knows homelab by its key" 100 named

rb() { in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_tmp/keys.d/homelab.key" "$@"; }
# allowed: a head on 8081, remote to itself
rb create id pub url 0.0.0.0:8081 remote homelab tail url :8081 || fail "an allowed create was refused"
wait_tcp_listen "$ns_a" 8081
tcp_echo_check "$ns_a" 198.18.0.1:8081 "scoped key"
grep -q "key 'homelab' from 198.18.0.2:[0-9]*: create" "$(wh_log a)" || fail "A did not log which key created"

refused() { # refused RULE-TEXT ARGS...: the create is refused, naming the rule
	local rule=$1
	shift
	if rb "$@" 2>"$wh_tmp/err"; then
		fail "allowed, but the key does not allow it: $*"
	fi
	cat "$wh_tmp/err" >&2
	grep -qF "refused by rule '$rule'" "$wh_tmp/err" || fail "the refusal does not name '$rule'"
}
refused "port=8080-8089" create id ssh url 0.0.0.0:22 remote homelab tail url :22
refused "port=8080-8089" create id eph remote homelab tail url :8081
refused "remote=self" create id other url :8082 remote 198.18.0.1 tail url :8081
refused "no-docker-run" create id dr url :8083 tail docker-run "alpine sleep 1"
grep "refused" "$(wh_log a)" >&2; grep -q "key .homelab. from .*: create refused: refused by rule" "$(wh_log a)" || fail "A did not log the refusal"
tcp_listening "$ns_a" 22 && fail "port 22 listens"
rb list >/dev/null || fail "list refused"
if rb unlink 198.18.0.2 2>/dev/null; then fail "a scoped key ran unlink"; fi

# a read-only key lists and does nothing else
cp "$wh_tmp/keys.d/viewer.key" "$wh_tmp/viewer.key"
in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_tmp/viewer.key" list >/dev/null || fail "viewer cannot list"
if in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_tmp/viewer.key" delete pub 2>"$wh_tmp/err"; then
	fail "viewer deleted"
fi
grep -qF "refused by rule 'read-only'" "$wh_tmp/err" || fail "read-only refusal: $(cat "$wh_tmp/err")"
# the full key still does anything
in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_key_full" create id full url :9022 tail url :22 >/dev/null ||
	fail "the full key was refused"

# revoke: remove the viewer's file; its new links fail the handshake
rm "$wh_tmp/keys.d/viewer.key"
if in_ns "$ns_b" "$WORMHOLE" -H tcp://198.18.0.1 -K "$wh_tmp/viewer.key" list 2>"$wh_tmp/err"; then
	fail "a revoked key still lists"
fi
# and homelab's live link refuses requests once its file is gone
mv "$wh_tmp/keys.d/homelab.key" "$wh_tmp/homelab.key"
if in_ns "$ns_a" "$WORMHOLE" -H "unix://$(wh_sock a)" list >/dev/null && rb list 2>"$wh_tmp/err"; then
	fail "homelab still lists after its key was removed"
fi
# and the link it opened is closed within the lease timer's second: the data path through it ends
revoked_closed() { grep -q "peer link from 198.18.0.2:[0-9]* down: its key 'homelab' was revoked" "$(wh_log a)"; }
wait_for "A closes homelab's link" 50 revoked_closed
homelab_up() { "$WORMHOLE" -H "unix://$(wh_sock a)" list --json | grep -q '"name":"homelab","address":"[^"]*","direction":"in","state":"up"'; }
sleep 1 # B re-dials at once: each try must fail the handshake
if homelab_up; then fail "homelab's link is up again with a revoked key"; fi
if echo probe-$$ | in_ns "$ns_a" socat -T 2 - TCP:198.18.0.1:8081 2>/dev/null | grep -q "probe-$$"; then
	fail "data still flows through the revoked key's link"
fi
echo "ok: the revoked key's link is closed and stays closed" >&2
