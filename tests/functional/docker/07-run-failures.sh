#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 07-run-failures: docker-run that cannot work fails cleanly.
#  - a missing image (127.0.0.1:5999/..., a registry port where nothing listens, so the pull is
#    refused at once and never leaves the machine): create exits 1 with a message naming the image;
#  - a command that does not exist (/bin/nonexistent, without --init so that the start itself
#    fails): create exits 1 with a message naming it;
#  either way no container is left (label wormhole.daemon=<socket>), no listener, list unchanged.
#  - the same two under `trigger`: create succeeds (armed); a connection is closed without data,
#    the Docker error is logged, no container is left, and the segment stays armed: the next
#    connection tries again (and fails again, logged again).
#
#   netns wh-test-$$ ("host")
#   +-------------------------------------------------------------------------------+
#   | :9100 -> :9101 "keep" (must survive)                                          |
#   | create :9000 / :9001 (fail)      client --> :9002 / :9003 trigger (fails)      |
#   +-------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
[[ -z $(ss -Htln "sport = :5999") ]] || skip "something listens on port 5999 here; the missing-image case needs it closed"
badimg="127.0.0.1:5999/wormhole-test/nope-$$:latest"
bad="wh-bad-$$"
dk_names+=("$bad")
wh_start_daemon main
wh_create id keep url :9100 tail url :9101 >/dev/null
before=$(wh_ids)

# nothing_left WHAT PORT: no container of this daemon, no listener on PORT, list unchanged
nothing_left() {
	assert_eq "$1: containers of this daemon" "" "$(dk_mine)"
	tcp_listening "$ns_host" "$2" && fail "$1: a listener on :$2 was left behind"
	assert_eq "$1: segments" "$before" "$(wh_ids)"
}

info "missing image at create"
wh_fails "missing image" 1 "$wh_tmp/err" create url :9000 tail url :3306 docker-run \
	"--network none --init $badimg wh-echo 3306"
assert_match "missing image message" "wormhole: create: .*127\.0\.0\.1:5999/wormhole-test/nope-$$" "$(cat "$wh_tmp/err")"
nothing_left "missing image" 9000

info "command that does not exist, at create"
wh_fails "bad command" 1 "$wh_tmp/err" create url :9001 tail url :3306 docker-run \
	"--network none --name $bad $IMG /bin/nonexistent"
assert_match "bad command message" "wormhole: create: .*/bin/nonexistent" "$(cat "$wh_tmp/err")"
docker inspect "$bad" >/dev/null 2>&1 && fail "container $bad left behind"
nothing_left "bad command" 9001

# closed_no_data WHAT PORT: a client on PORT is closed (or reset) without receiving anything
closed_no_data() {
	local out
	out=$(nh timeout 60 "$PYTHON" "$WH_NET" tcp-close-wait 127.0.0.1 "$2" "hello?" 2>&1) || true
	echo "client: $out" >&2
	assert_match "$1" "^closed after [0-9.]+ s, 0 bytes$" "$out"
}

# _logged_n N REGEX: the daemon log has at least N lines matching REGEX
_logged_n() {
	[[ $(grep -cE -- "$2" "$(wh_log main)") -ge $1 ]]
}

for what in image command; do
	if [[ $what == image ]]; then
		port=9002 spec="--network none --init $badimg wh-echo 3306" re="127\.0\.0\.1:5999/wormhole-test/nope-$$"
	else
		port=9003 spec="--network none --name $bad $IMG /bin/nonexistent" re="/bin/nonexistent"
	fi
	info "trigger with a bad $what"
	wh_create id "bad$what" url ":$port" trigger url :3306 docker-run "$spec" >/dev/null
	assert_eq "state" armed "$(wh_json_get "bad$what" state)"
	before=$(wh_ids)
	for round in 1 2; do
		closed_no_data "bad $what: connection $round closed without data" "$port"
		wait_for "the Docker error logged ($round)" 100 _logged_n "$round" "segment 'bad$what'.*$re"
		wait_json "bad$what" state armed
		echo "ok: still armed after failure $round" >&2
		assert_eq "bad $what: containers of this daemon" "" "$(dk_mine)"
		tcp_listening "$ns_host" "$port" || fail "bad $what: the head stopped listening"
	done
	grep -E "segment 'bad$what'" "$(wh_log main)" >&2
	assert_eq "segments" "$before" "$(wh_ids)"
done

assert_eq "keep still listed" "keep" "$(wh_json_get keep id)"
echo "PASS"
