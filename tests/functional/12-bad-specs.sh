#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 12-bad-specs: 29 invalid specs are each refused with exit status 2, nothing on stdout, and a
# message on stderr that names the word at fault in quotes; `list --json` is byte-identical before
# and after (nothing was created or half-created). Runtime failures (head port in use, head in a
# netns that does not exist, the second segment of a chain failing) give exit 1, a
# "wormhole: create: ..." message, and leave nothing behind (list identical, no stray listener).
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------------------+
#   | [wormholed] segment "keep" :9000 -> :9001 (so the list is not empty)       |
#   | socat occupies 127.0.0.1:9500                                               |
#   +---------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
wh_create id keep url :9000 tail url :9001 >/dev/null
wh list --json >"$wh_tmp/before.json"

n_bad=0
bad_failures=()
# bad REGEX WORDS...: `create WORDS` must exit 2, print nothing on stdout, and stderr must match
# REGEX (extended); the list must not change. A failing case is recorded (all are reported at the
# end); if it created a segment anyway, that segment is deleted so later cases start clean.
bad() {
	local re=$1 rc=0 out err why=""
	shift
	n_bad=$((n_bad + 1))
	out=$(wh create "$@" 2>"$wh_tmp/err") || rc=$?
	err=$(cat "$wh_tmp/err")
	echo "stderr: $err" >&2
	[[ $rc -eq 2 ]] || why+=" exit status $rc (expected 2);"
	[[ -z $out ]] || why+=" stdout '$out';"
	grep -Eq -- "$re" <<<"$err" || why+=" stderr does not match /$re/;"
	wh list --json >"$wh_tmp/after.json"
	if ! cmp -s "$wh_tmp/before.json" "$wh_tmp/after.json"; then
		why+=" list --json changed: $(cat "$wh_tmp/after.json");"
		[[ -n $out ]] && wh delete "${out%% *}" >&2
	fi
	if [[ -n $why ]]; then
		echo "NOT OK: create $*:$why" >&2
		bad_failures+=("create $*:$why")
	else
		echo "ok: create $* refused (exit 2, /$re/)" >&2
	fi
}

bad "word 3 'tial': unknown word" url :9100 tial url :9101
bad "word 1 'url': missing argument" url
bad "word 6 'docker-ns': missing argument" url :9100 tail url :9101 docker-ns
bad "word 1 'url'.*':0'.*invalid port" url :0 tail url :9101
bad "word 1 'url'.*':70000'.*invalid port" url :70000 tail url :9101
bad "word 1 'url'.*':65536'.*invalid port" url :65536 tail url :9101
bad "word 1 'url'.*':abc'.*invalid port" url :abc tail url :9101
bad "word 1 'url'.*':-1'.*invalid port" url :-1 tail url :9101
bad "word 1 'url'.*'a/b@:9100'.*netns" url 'a/b@:9100' tail url :9101
bad "word 4 'url'.*'\.\.@:9101'.*netns" url :9100 tail url '..@:9101'
bad "word 4 'url'.*udp.*tcp" url udp://:9100 tail url tcp://:9101
bad "word 4 'url'.*tcp.*udp" url tcp://:9100 tail url udp://:9101
bad "word 4 'url'.*udp.*unix" url udp://:9100 tail url unix:///tmp/x.sock
bad "word 1 'url'.*'unix://x@/tmp/a.sock'.*namespace" url 'unix://x@/tmp/a.sock' tail url :9101
bad "word 1 'url'.*'ftp://:9100'.*protocol" url ftp://:9100 tail url :9101
bad "word 1 'url'.*'unix://relative.sock'.*absolute" url unix://relative.sock tail url :9101
bad "word 1 'url'.*'\[::1:9100'" url '[::1:9100' tail url :9101
bad "word 1 'url'.*itself" url :9000
bad "word 6 'chain'.*itself" url :9100 tail url :9101 chain
bad "[Ee]mpty" # no words at all
bad "word 3 'docker-ns'.*'tail'" url :3306 docker-ns tail docker-ns x
bad "word 4 'docker-run'.*'--privileged'" url :9100 tail docker-run '--privileged busybox'
bad "word 4 'docker-run'.*image" url :9100 tail docker-run ''
bad "word 6 'docker-ns'.*'bad name!'" url :9100 tail url :9101 docker-ns 'bad name!'
bad "word 6 'id': missing argument" url :9100 tail url :9101 id
bad "word 1 'id'.*'bad id!'" id 'bad id!' url :9100 tail url :9101
bad "word 3 'remote': missing argument" url :9100 remote
bad "word 6 'udptunnel': missing argument" url :9100 tail url :9101 udptunnel
bad "word 6 'tunnel'.*'a b'" url :9100 tail url :9101 tunnel 'a b'
[[ $n_bad -ge 20 ]] || fail "only $n_bad bad specs"
if [[ ${#bad_failures[@]} -gt 0 ]]; then
	printf 'bad spec not refused properly: %s\n' "${bad_failures[@]}" >&2
	fail "${#bad_failures[@]} of $n_bad bad specs not refused properly: ${bad_failures[*]}"
fi
echo "ok: $n_bad bad specs refused with exit 2" >&2

# runtime REGEX WORDS...: `create WORDS` must exit 1 with "wormhole: create: " and REGEX
runtime() {
	local re=$1 rc=0 out
	shift
	out=$(wh create "$@" 2>"$wh_tmp/err") || rc=$?
	echo "stderr: $(cat "$wh_tmp/err")" >&2
	assert_eq "create $*: exit status" 1 "$rc"
	assert_eq "create $*: stdout" "" "$out"
	assert_match "create $*: message" "^wormhole: create: .*($re)" "$(cat "$wh_tmp/err")"
	wh list --json >"$wh_tmp/after.json"
	cmp -s "$wh_tmp/before.json" "$wh_tmp/after.json" ||
		fail "list --json changed after 'create $*': $(cat "$wh_tmp/after.json")"
}

info "runtime failures"
bg_in "$ns_host" socat TCP4-LISTEN:9500,bind=127.0.0.1,reuseaddr EXEC:cat
wait_tcp_listen "$ns_host" 9500
# the message names the process that holds the port (found through /proc)
runtime "head .tcp://127.0.0.1:9500.: port 9500 is already in use by pid [0-9]+ \(socat\)" url :9500 tail url :9501
runtime "network namespace .wh-nosuch-$$.*No such file or directory" url "wh-nosuch-$$@:9600" tail url :9601
# the first segment binds 9700, the second fails on 9500: the first must be undone
runtime "head .tcp://127.0.0.1:9500.: port 9500 is already in use" url :9700 chain url :9500 tail url :9501
if tcp_listening "$ns_host" 9700; then
	fail "a failed chain left a listener on 9700"
fi
echo "ok: nothing left on 9700" >&2
# a failed create must not have consumed the id: "keep2" can still be created afterwards
runtime "head .tcp://127.0.0.1:9500.: port 9500 is already in use" id keep2 url :9500 tail url :9501
out=$(wh_create id keep2 url :9800 tail url :9801)
assert_eq "create after failures" "keep2 tcp://127.0.0.1:9800" "$out"
echo "PASS"
