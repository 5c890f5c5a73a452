#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 20-new-user: what a new user trips over. Every subcommand answers --help with exit 0 without a
# daemon (the socket path given does not exist); an unknown command suggests the nearest one
# (exit 2); the CLI as a user other than root says that wormhole needs root; `ping` prints a bare
# number into a pipe; a tail host that does not resolve says so; `show ID` lists the segment's
# open connection (client, tail, state, age, bytes) and says so when there is none. The bash
# completion (completions/wormhole.bash) offers the commands, the chain words of `create --help`,
# and the daemon's segment ids after `delete`.
#
#   netns wh-test-$$ ("host")
#   +----------------------------------------------------------------------+
#   | client (held open) --> :9000 [wormholed] --> :9001 socat echo        |
#   +----------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
nodaemon="unix://$wh_tmp/nobody-listens.sock"
for c in create delete list show link unlink ping keygen tunnel-create tunnel-delete tunnel-list version; do
	out=$("$WORMHOLE" -H "$nodaemon" "$c" --help 2>&1) || fail "'$c --help' exited $?: $out"
	assert_match "'$c --help' prints its usage" "^Usage: wormhole $c" "$out"
	"$WORMHOLE" -H "$nodaemon" "$c" -h >/dev/null 2>&1 || fail "'$c -h' exited $?"
done
echo "ok: every command answers --help without a daemon" >&2

rc=0
out=$("$WORMHOLE" -H "$nodaemon" lsit 2>&1) || rc=$?
assert_eq "unknown command: exit 2" 2 "$rc"
assert_match "unknown command: the nearest one" "Did you mean 'wormhole list'" "$out"

wh_start_daemon main
# the socket is root's only: a user other than root gets told, not "Permission denied"
if command -v setpriv >/dev/null; then
	chmod 0755 "$wh_tmp"
	rc=0
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$WORMHOLE" -H "unix://$(wh_sock main)" list 2>&1) || rc=$?
	assert_eq "non-root: exit 1" 1 "$rc"
	assert_match "non-root: says wormhole needs root" "wormhole needs root" "$out"
else
	echo "note: no setpriv, non-root check skipped" >&2
fi

ms=$(wh ping)
assert_match "ping into a pipe: a bare number" '^[0-9]+\.[0-9]+$' "$ms"

rc=0
out=$(wh create url :9100 tail url no-such-host.invalid:9101 2>&1) || rc=$?
assert_eq "unresolvable tail: exit 1" 1 "$rc"
assert_match "unresolvable tail: says the name did not resolve" \
	"name 'no-such-host.invalid' did not resolve" "$out"

start_tcp_echo "$ns_host" 9001
wh_create id web url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000
out=$(wh show web)
echo "$out" >&2
assert_match "show without connections" "no open connections" "$out"
bg_in "$ns_host" "$PYTHON" "$WH_NET" tcp-hold 127.0.0.1 9000 "hello"
wait_json web conns_active 1
out=$(wh show web)
echo "$out" >&2
assert_match "show: the segment row" "^web +tcp://127.0.0.1:9000 +tcp://127.0.0.1:9001" "$out"
assert_match "show: connection header" "SEGMENT +CONN +CLIENT +TAIL +STATE +AGE +IN +OUT" "$out"
assert_match "show: the connection" \
	"web +[0-9]+ +127.0.0.1:[0-9]+ +tcp://127.0.0.1:9001 +(relaying|connecting) +[0-9.]+s" "$out"
# complete WORDS...: what the bash completion offers for the last word
complete_words() {
	# shellcheck disable=SC2016
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _wormhole; echo "${COMPREPLY[*]}"' \
		_ "$repo_dir/completions/wormhole.bash" "$@"
}
repo_dir=$(cd "$(dirname "$0")/../.." && pwd)
assert_match "completion: commands" "^create delete list show .*ping" "$(complete_words "$WORMHOLE" "")"
assert_eq "completion: words after 'url :80 t'" "tail trigger tunnel" \
	"$(complete_words "$WORMHOLE" create url :80 t)"
assert_eq "completion: segment ids after delete" "web" \
	"$(complete_words "$WORMHOLE" -H "unix://$(wh_sock main)" delete w)"

rc=0
out=$(wh show nosuch 2>&1) || rc=$?
assert_eq "show of a missing segment: exit 1" 1 "$rc"
assert_match "show of a missing segment: says so" "no such segment" "$out"
echo "PASS"
