#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 32-systemd-restart: segments survive restarts under a service manager (tests/tools/svcmgr.py)
# without refusing a single connection. The daemon keeps each listener it binds in the fd store
# (FDSTORE=1, FDNAME=seg.<id>); the manager passes them back on the next start, and the new
# daemon adopts them. A client connects in a loop while the daemon is restarted twice (SIGTERM,
# then SIGKILL: restart on failure); no connect may be refused. The segments come back with the
# same ids and ports (one had an ephemeral port, one a child). Deleting a segment removes its
# listener from the store (FDSTOREREMOVE=1); the next start drops a stored listener whose
# segment is gone from the state file.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------------+
#   | svcmgr.py (fd store) -> wormholed --state $wh_tmp/state                             |
#   | hammer.py -> 127.0.0.1:9200 [ham] -> 127.0.0.1:9201 socat echo                       |
#   | 127.0.0.1:<ephemeral> [eph] -> 9201;  9210 [two] -> 9211 [child] -> 9201              |
#   +------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
mgr=$wh_tmp/mgr
state=$wh_tmp/state
ctl=$wh_tmp/ctl.sock
mkdir -p "$mgr"
start_tcp_echo "$ns_host" 9201

log=$(wh_log sd)
wh_daemons+=(sd)
pretty host "svcmgr.py --dir $mgr -- wormholed -H unix://$ctl --state $state"
ip netns exec "$ns_host" "$PYTHON" "$WH_REPO/tests/tools/svcmgr.py" --dir "$mgr" \
	-- "$WORMHOLED" -H "unix://$ctl" --state "$state" --chains "$wh_tmp/none" >"$log" 2>&1 &
mgr_pid=$!
wh_pids+=("$mgr_pid")

cl() {
	pretty cli "wormhole -H unix://$ctl $*"
	"$WORMHOLE" -H "unix://$ctl" "$@"
}
ready_count() { grep -cx 'READY=1' "$mgr/notify.log" || true; }
ready_at_least() { (($(ready_count) >= $1)); }
store_lines() { (($(wc -l <"$mgr/store") == $1)); }
wait_for "READY=1" 100 grep -qx 'READY=1' "$mgr/notify.log"

assert_eq "create ham" "ham tcp://127.0.0.1:9200" "$(cl create id ham url :9200 tail url :9201)"
eph=$(cl create id eph tail url :9201)
eph_port=${eph##*:}
assert_match "create eph" "^eph tcp://127\.0\.0\.1:[0-9]+$" "$eph"
cl create id two url :9210 chain url :9211 tail url :9201 >/dev/null
child=$(cl list -q | grep -vxE 'ham|eph|two')
[[ -n $child ]] || fail "no child segment"
wait_for "store holds 4 listeners" 50 store_lines 4
# both sides sorted the same way: the child's id is random and may sort before or after "eph"
sorted_words() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
stored() { LC_ALL=C sort "$mgr/store" | tr '\n' ' ' | sed 's/ $//'; }
assert_eq "fd store" "$(sorted_words "seg.$child" seg.eph seg.ham seg.two)" "$(stored)"
state_has() { grep -q "\"id\":\"$1\"" "$state/segments.json"; }
wait_for "state file with segment two" 50 state_has two

info "hammering 127.0.0.1:9200 for 6 s while the daemon restarts twice"
bg_in "$ns_host" "$PYTHON" "$WH_REPO/tests/tools/hammer.py" 127.0.0.1 9200 6 "$wh_tmp/hammer.out"
ham_pid=$last_pid
sleep 1
info "restart (SIGTERM, start again)"
kill -USR1 "$mgr_pid"
wait_for "second READY=1" 100 ready_at_least 2
sleep 1
info "restart on failure (SIGKILL, start again)"
kill -USR2 "$mgr_pid"
wait_for "third READY=1" 100 ready_at_least 3
wait "$ham_pid" || true
cat "$wh_tmp/hammer.out" >&2
read -r _ ok _ refused _ other < <(head -1 "$wh_tmp/hammer.out")
assert_eq "connections refused across two restarts" 0 "$refused"
((ok > 100)) || fail "only $ok connections went through"
echo "ok: $ok connections echoed, $other cut by the restarts" >&2

# the same ids and ports, the child too
out=$(cl list)
assert_match "ham after restarts" "^ham +tcp://127\.0\.0\.1:9200 " "$out"
assert_match "eph after restarts" "^eph +tcp://127\.0\.0\.1:$eph_port " "$out"
assert_match "child after restarts" "$child +tcp://127\.0\.0\.1:9211 " "$out"
tcp_echo_check "$ns_host" "127.0.0.1:$eph_port" "eph after restarts"
tcp_echo_check "$ns_host" 127.0.0.1:9210 "chain after restarts"
assert_eq "one listener per segment in the store" 4 "$(wc -l <"$mgr/store")"

# delete: the listener leaves the store
cl delete eph
removed_eph() { grep -A1 -x 'FDSTOREREMOVE=1' "$mgr/notify.log" | grep -qx 'FDNAME=seg.eph'; }
wait_for "FDSTOREREMOVE of eph" 50 removed_eph
assert_eq "store after delete" "$(sorted_words "seg.$child" seg.ham seg.two)" "$(stored)"

# a stored listener whose segment is not in the state file any more is dropped at start
cl delete two
state_lacks_two() { ! state_has two; }
wait_for "state file without segment two" 50 state_lacks_two
kill -USR2 "$mgr_pid" # killed: the fd store still holds seg.two, the state file does not
wait_for "fourth READY=1" 100 ready_at_least 4
assert_eq "store after a restart" "seg.ham" "$(stored)"
if tcp_listening "$ns_host" 9210; then
	fail "the deleted segment's port 9210 still listens"
fi
kill -TERM "$mgr_pid"
rc=0
wait "$mgr_pid" || rc=$?
assert_eq "exit status" 0 "$rc"
echo "PASS"
