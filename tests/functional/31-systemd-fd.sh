#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 31-systemd-fd: wormholed under a stand-in service manager (tests/tools/svcmgr.py), which binds
# three sockets the way socket units do and passes them (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES)
# under the names web (TCP 127.0.0.1:9100), dns (UDP 127.0.0.1:9153) and sock (unix). Chain
# files say `url fd:NAME`; a broken chain file is logged with its file and line and skipped.
# READY=1 must arrive only when the chain files' segments accept (svcmgr connects to them at the
# moment READY=1 arrives). A head from a name nobody passed fails alone. Deleting and creating
# a fd:NAME segment again reuses the very socket (it was never closed).
#
#   netns wh-test-$$ ("host")
#   +-----------------------------------------------------------------------------------+
#   | svcmgr.py: binds 9100/tcp "web", 9153/udp "dns", unix "sock" -> exec wormholed    |
#   |   client -> 127.0.0.1:9100 (fd:web) [wormholed] -> 127.0.0.1:9101 socat echo        |
#   |   client -> 127.0.0.1:9153 (fd:dns) [wormholed] -> 127.0.0.1:9154 udp echo          |
#   |   client -> $wh_tmp/sock   (fd:sock) [wormholed] -> 127.0.0.1:9101 socat echo       |
#   +-----------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
mgr=$wh_tmp/mgr
chains=$wh_tmp/chains.d
state=$wh_tmp/state
mkdir -p "$mgr" "$chains"
sock=$wh_tmp/sock
ctl=$wh_tmp/ctl.sock

cat >"$chains/web.chain" <<'CHAIN'
# the web port, from the socket unit
url fd:web \
    tail url :9101    # the backend
CHAIN
printf 'url fd:dns tail url udp://:9154\n' >"$chains/dns.chain"
printf 'url fd:sock\ntail url :9101\n' >"$chains/bad-second-line.chain"
printf '# comment\n\nurl fd:sock \\\n  tail url :9101 tial\n' >"$chains/bad-word.chain"
printf 'url fd:sock tail url :9101\n' >"$chains/sock.chain"
printf 'url fd:nosuch tail url :9101\n' >"$chains/nosuch.chain"

start_tcp_echo "$ns_host" 9101
bg_in "$ns_host" "$PYTHON" "$WH_NET" udp-echo-server 127.0.0.1 9154

log=$(wh_log sd)
wh_daemons+=(sd)
pretty host "svcmgr.py ... -- wormholed -H unix://$ctl --state $state --chains $chains"
ip netns exec "$ns_host" "$PYTHON" "$WH_REPO/tests/tools/svcmgr.py" --dir "$mgr" \
	--listen web=tcp:127.0.0.1:9100 --listen dns=udp:127.0.0.1:9153 --listen "sock=unix:$sock" \
	--ready-check 127.0.0.1:9100 --ready-check "127.0.0.1:9101" \
	-- "$WORMHOLED" -H "unix://$ctl" --state "$state" --chains "$chains" >"$log" 2>&1 &
mgr_pid=$!
wh_pids+=("$mgr_pid")
wait_for "READY=1" 100 grep -qx 'READY=1' "$mgr/notify.log"
wait_for "READY-CHECK" 50 grep -q 'READY-CHECK' "$mgr/notify.log"
assert_match "READY-CHECK" "READY-CHECK ok 127.0.0.1:9100" "$(cat "$mgr/notify.log")"
if grep -q "READY-CHECK failed" "$mgr/notify.log"; then
	fail "a listener did not accept when READY=1 arrived: $(grep 'READY-CHECK failed' "$mgr/notify.log")"
fi
assert_match "STATUS with READY" "^STATUS=3 segments up, 3 failed at start" "$(cat "$mgr/notify.log")"

# the broken files are named with their line; the good ones run
assert_match "second spec line" "bad-second-line.chain:2: a second spec" "$(cat "$log")"
assert_match "bad word line" "bad-word.chain:4: word 6 'tial': unknown word" "$(cat "$log")"
assert_match "missing fd name" "chain file .*nosuch.chain: head fd:nosuch: no socket named 'nosuch' was passed" "$(cat "$log")"

cl() {
	pretty cli "wormhole -H unix://$ctl $*"
	"$WORMHOLE" -H "unix://$ctl" "$@"
}
out=$(cl list)
assert_match "list web" "^web +tcp://127\.0\.0\.1:9100 +tcp://127\.0\.0\.1:9101 " "$out"
assert_match "list dns" "^dns +udp://127\.0\.0\.1:9153 +udp://127\.0\.0\.1:9154 " "$out"
assert_match "list sock" "^sock +unix://$sock " "$out"

tcp_echo_check "$ns_host" 127.0.0.1:9100 "fd:web"
out=$(in_ns "$ns_host" "$PYTHON" "$WH_NET" udp-client 127.0.0.1 9153 100 1000) || fail "udp through fd:dns"
echo "ok: udp through fd:dns: $out" >&2
line="unix-$$"
got=$(printf '%s\n' "$line" | in_ns "$ns_host" timeout 10 socat -t 5 - "UNIX-CONNECT:$sock")
assert_eq "echo through fd:sock" "$line" "$got"

# an unknown name at run time: an error for that create only
if out=$(cl create id other url fd:nosuch tail url :9101 2>&1); then
	fail "create with fd:nosuch succeeded"
fi
assert_match "fd:nosuch" "head fd:nosuch: no socket named 'nosuch' was passed to wormholed" "$out"

# delete and create again: the same socket, never closed (connect still works in between,
# it waits in the backlog)
cl delete web
in_ns "$ns_host" ss -Htln "sport = :9100" | grep -q . || fail "the passed socket closed with its segment"
echo "ok: port 9100 still listening (the socket is the service manager's)" >&2
out=$(cl create id web2 url fd:web tail url :9101)
assert_eq "create on fd:web again" "web2 tcp://127.0.0.1:9100" "$out"
tcp_echo_check "$ns_host" 127.0.0.1:9100 "fd:web again"
[[ -S $sock ]] || fail "the unix socket file was removed"

info "kill -TERM $mgr_pid (svcmgr: stop the service)"
kill -TERM "$mgr_pid"
rc=0
wait "$mgr_pid" || rc=$?
assert_eq "exit status of the service" 0 "$rc"
assert_match "STOPPING" "^STOPPING=1" "$(cat "$mgr/notify.log")"
[[ -S $sock ]] || fail "wormholed removed the unix socket, which belongs to the service manager"
echo "PASS"
