#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 30-socket-activation: wormholed started the way systemd starts it from wormholed.socket. The
# control socket is bound by systemd-socket-activate and passed as fd 3 named "control"
# (LISTEN_FDS/LISTEN_FDNAMES); the daemon is exec'ed only on the first connection, which the
# daemon must then serve from the backlog. A fake $NOTIFY_SOCKET (python3, AF_UNIX datagrams)
# must receive READY=1 once the daemon serves, and STOPPING=1 on SIGTERM; the daemon exits 0 and
# leaves the socket file alone (it belongs to systemd).
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------+
#   | systemd-socket-activate -l /run/wh-sa-$$.sock --fdname=control  (binds)        |
#   |    -- first connect --> exec wormholed (fd 3 "control") --sd_notify--> notify.py |
#   | client --> :9000 [wormholed] --> :9001 socat echo                                 |
#   +------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate (package systemd) missing"
wh_setup
sa_sock=/run/wh-sa-$$.sock
# wh_cleanup keeps the exit status it finds in $?; remove our socket file first, keeping $?
trap 'rc=$?; set +e; rm -f "$sa_sock"; (exit $rc); wh_cleanup' EXIT

sa() {
	pretty "cli" "wormhole -H unix://$sa_sock $*"
	"$WORMHOLE" -H "unix://$sa_sock" "$@"
}

# the fake notify socket: every datagram into notify.log, each followed by a "--" line
notify_sock=$wh_tmp/notify.sock
notify_log=$wh_tmp/notify.log
: >"$notify_log"
bg_in "$ns_host" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n--\n")
        f.flush()
' "$notify_sock" "$notify_log"
wait_for "notify socket $notify_sock" 50 test -S "$notify_sock"

log=$(wh_log sa)
wh_daemons+=(sa) # its log is printed if the test fails
# its own state and chain directories: never the machine's /var/lib/wormhole
mkdir -p "$wh_tmp/state-sa" "$wh_tmp/chains-sa"
pretty "host" "NOTIFY_SOCKET=$notify_sock systemd-socket-activate -l $sa_sock --fdname=control -E NOTIFY_SOCKET wormholed --state $wh_tmp/state-sa --chains $wh_tmp/chains-sa 2>$log &"
ip netns exec "$ns_host" env NOTIFY_SOCKET="$notify_sock" \
	systemd-socket-activate -l "$sa_sock" --fdname=control -E NOTIFY_SOCKET "$WORMHOLED" \
	--state "$wh_tmp/state-sa" --chains "$wh_tmp/chains-sa" >"$log" 2>&1 &
pid=$!
wh_pids+=("$pid")
wait_for "socket $sa_sock bound by systemd-socket-activate" 50 test -S "$sa_sock"

# nothing is exec'ed before the first connection
assert_eq "process before the first connection" "systemd-socket-" "$(cat "/proc/$pid/comm")"
[[ ! -s $notify_log ]] || fail "notification before the daemon ran: $(cat "$notify_log")"

# the first connection execs the daemon, which answers it from the backlog
out=$(timeout 10 "$WORMHOLE" -H "unix://$sa_sock" ping) || fail "first ping through the activated socket failed"
assert_match "first ping" '^[0-9]+\.[0-9]+' "$out"
assert_eq "process after the first connection" "wormholed" "$(cat "/proc/$pid/comm")"
assert_match "daemon log" "control socket from systemd" "$(cat "$log")"
wait_for "READY=1 on the notify socket" 50 grep -qx 'READY=1' "$notify_log"
echo "ok: READY=1 received" >&2
if grep -qx 'STOPPING=1' "$notify_log"; then
	fail "STOPPING=1 before SIGTERM"
fi

# the activated daemon does its job
start_tcp_echo "$ns_host" 9001
out=$(sa create id sa url :9000 tail url :9001) || fail "create through the activated socket failed"
assert_eq "create output" "sa tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_host" 9000
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo through the segment"
assert_match "list" '^sa +tcp://127\.0\.0\.1:9000 +tcp://127\.0\.0\.1:9001 ' "$(sa list)"

# SIGTERM: STOPPING=1, exit 0, the head closed, systemd's socket file left in place
info "kill -TERM $pid"
kill -TERM "$pid"
for ((i = 0; i < 100; i++)); do
	alive "$pid" || break
	sleep 0.05
done
alive "$pid" && fail "wormholed still running 5 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
wait_for "STOPPING=1 on the notify socket" 50 grep -qx 'STOPPING=1' "$notify_log"
echo "ok: STOPPING=1 received" >&2
assert_eq "notifications, in order" "READY=1 STOPPING=1" \
	"$(grep -xE 'READY=1|STOPPING=1' "$notify_log" | tr '\n' ' ' | sed 's/ $//')"
if tcp_listening "$ns_host" 9000; then
	fail "port 9000 still listening after wormholed exited"
fi
echo "ok: head closed" >&2
[[ -S $sa_sock ]] || fail "wormholed removed $sa_sock, which belongs to systemd"
echo "ok: the passed socket's file was left alone" >&2
echo "PASS"
