#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 12-bad-specs: 24 invalid specs are each refused with exit status 2, nothing on stdout, and a
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
# bad REGEX WORDS...: `create WORDS` must exit 2, print nothing on stdout, and stderr must match
# REGEX (extended); the list must not change
bad() {
	local re=$1 rc=0 out
	shift
	out=$(wh create "$@" 2>"$wh_tmp/err") || rc=$?
	echo "stderr: $(cat "$wh_tmp/err")" >&2
	assert_eq "create $*: exit status" 2 "$rc"
	assert_eq "create $*: stdout" "" "$out"
	assert_match "create $*: message" "$re" "$(cat "$wh_tmp/err")"
	wh list --json >"$wh_tmp/after.json"
	cmp -s "$wh_tmp/before.json" "$wh_tmp/after.json" ||
		fail "list --json changed after 'create $*': $(cat "$wh_tmp/after.json")"
	n_bad=$((n_bad + 1))
}

bad "word 3 'tial': unknown word" url :9100 tial url :9101
bad "'url'" url
bad "'docker-ns'" url :9100 tail url :9101 docker-ns
bad "'url'.*'0'" url :0 tail url :9101
bad "'url'.*'70000'" url :70000 tail url :9101
bad "'url'.*'65536'" url :65536 tail url :9101
bad "'url'.*'abc'" url :abc tail url :9101
bad "'url'.*'-1'" url :-1 tail url :9101
bad "'url'.*'a/b'" url 'a/b@:9100' tail url :9101
bad "'url'.*'\.\.'" url :9100 tail url '..@:9101'
bad "'url'.*(udp|tcp)" url udp://:9100 tail url tcp://:9101
bad "'url'.*(udp|tcp)" url tcp://:9100 tail url udp://:9101
bad "'url'.*namespace" url 'unix://x@/tmp/a.sock' tail url :9101
bad "'url'.*'ftp'" url ftp://:9100 tail url :9101
bad "'url'" url unix://relative.sock tail url :9101
bad "'url'" url '[::1:9100' tail url :9101
bad "'url'" url :9000
bad "[Ee]mpty|[Mm]issing|[Uu]sage|[Nn]o words|spec"
bad "'(docker-ns|tail)'" url :3306 docker-ns tail docker-ns x
bad "'--privileged'" url :9100 tail docker-run '--privileged busybox'
bad "'docker-run'" url :9100 tail docker-run ''
bad "'tail'" url :9100 tail tail url :9101
bad "'trigger'" url :9100 trigger trigger url :9101
bad "'id'" url :9100 tail url :9101 id
bad "'id'" id 'bad id!' url :9100 tail url :9101
bad "'remote'" url :9100 remote
echo "ok: $n_bad bad specs refused with exit 2" >&2
[[ $n_bad -ge 20 ]] || fail "only $n_bad bad specs"

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
runtime "[Aa]ddress already in use|in use" url :9500 tail url :9501
runtime "wh-nosuch-$$|[Nn]o such file|netns|namespace" url "wh-nosuch-$$@:9600" tail url :9601
# the first segment binds 9700, the second fails on 9500: the first must be undone
runtime "[Aa]ddress already in use|in use" url :9700 chain url :9500 tail url :9501
if tcp_listening "$ns_host" 9700; then
	fail "a failed chain left a listener on 9700"
fi
echo "ok: nothing left on 9700" >&2
# a failed create must not have consumed the id: "keep2" can still be created afterwards
runtime "[Aa]ddress already in use|in use" id keep2 url :9500 tail url :9501
out=$(wh_create id keep2 url :9800 tail url :9801)
assert_eq "create after failures" "keep2 tcp://127.0.0.1:9800" "$out"
echo "PASS"
