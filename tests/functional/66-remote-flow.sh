#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 66-remote-flow: per-stream flow control on one peer link. Two segments on A lead to B over
# the same link: :9001 to a source that writes without end, :9000 to an echo server. One client
# connects to :9001 and never reads (the slow reader); then 200 clients at once, on :9000, each
# do 20 round trips of 1 KiB and echo 256 KiB. They must all finish, about as fast as 200
# clients without the slow reader did (baseline run first), while the slow stream stays stalled
# at its window: the source on B gets rid of a bounded number of bytes, and A's memory does
# not grow with the flood.
#
#   A (wh-a-$$) 198.18.0.1                                  B (wh-b-$$) 198.18.0.2
#   slow client -> :9001 [wormholed A] ==one link==> [wormholed B] -> :9003 endless source
#   200 clients -> :9000 [           ] ==========> [           ] -> :9002 echo
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_peer_daemon "$ns_a" a --max-conns 1000
start_peer_daemon "$ns_b" b --max-conns 1000
wait_tcp_listen "$ns_b" 9999

cat >"$wh_tmp/flow.py" <<'PY'
import asyncio, os, sys, time

async def servers(stat):
    async def echo(r, w):
        try:
            while True:
                b = await r.read(65536)
                if not b:
                    break
                w.write(b)
                await w.drain()
        except ConnectionError:
            pass
        w.close()
    async def source(r, w):
        chunk = b"z" * 65536
        sent = 0
        try:
            while True:
                w.write(chunk)
                await w.drain()
                sent += len(chunk)
                with open(stat, "w") as f:
                    f.write(str(sent))
        except ConnectionError:
            pass
    await asyncio.start_server(echo, "127.0.0.1", 9002, backlog=1024)
    await asyncio.start_server(source, "127.0.0.1", 9003)
    await asyncio.Event().wait()

async def one(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    msg = os.urandom(1024)
    for _ in range(20):
        w.write(msg)
        await w.drain()
        assert await r.readexactly(len(msg)) == msg
    bulk = os.urandom(256 * 1024)
    w.write(bulk)
    await w.drain()
    assert await r.readexactly(len(bulk)) == bulk
    w.close()

async def clients(port, n):
    t = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one(port) for _ in range(n))), 60)
    print("%.3f" % (time.monotonic() - t))

async def slow(port, hold):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"x")
    await w.drain()
    await asyncio.sleep(float(hold))  # never reads
    w.close()

cmd = sys.argv[1]
if cmd == "servers":
    asyncio.run(servers(sys.argv[2]))
elif cmd == "clients":
    asyncio.run(clients(int(sys.argv[2]), int(sys.argv[3])))
elif cmd == "slow":
    asyncio.run(slow(int(sys.argv[2]), sys.argv[3]))
PY

bg_in "$ns_b" "$PYTHON" "$wh_tmp/flow.py" servers "$wh_tmp/sent"
wait_tcp_listen "$ns_b" 9002
wait_tcp_listen "$ns_b" 9003
whd a create id echo url :9000 remote 198.18.0.2 tail url :9002 >/dev/null
whd a create id flood url :9001 remote 198.18.0.2 tail url :9003 >/dev/null
wait_tcp_listen "$ns_a" 9000
wait_tcp_listen "$ns_a" 9001

ulimit -n 4096
base=$(in_ns "$ns_a" "$PYTHON" "$wh_tmp/flow.py" clients 9000 200) || fail "baseline: 200 clients failed"
info "baseline: 200 clients in $base s"

rss() { awk '/^VmRSS:/{print $2}' "/proc/${wh_daemon_pid[a]}/status"; }
bg_in "$ns_a" "$PYTHON" "$wh_tmp/flow.py" slow 9001 60
slow_pid=$last_pid
# the slow stream fills up: its source stops getting rid of bytes
_stalled() {
	local a b
	a=$(cat "$wh_tmp/sent" 2>/dev/null || echo 0)
	sleep 0.5
	b=$(cat "$wh_tmp/sent" 2>/dev/null || echo 0)
	((a > 0 && a == b))
}
wait_for "the slow stream to stall" 200 _stalled
stalled=$(cat "$wh_tmp/sent")
rss0=$(rss)
info "slow stream stalled after $stalled bytes from the source; A's RSS $rss0 kB"

t=$(in_ns "$ns_a" "$PYTHON" "$wh_tmp/flow.py" clients 9000 200) || fail "200 clients beside the slow reader failed"
info "beside the slow reader: 200 clients in $t s (baseline $base s)"
alive "$slow_pid" || fail "the slow client ended early"
now=$(cat "$wh_tmp/sent")
rss1=$(rss)
info "source sent $now bytes; A's RSS $rss1 kB"

# the others were not slowed down: within 2x the baseline plus 2 s of noise
"$PYTHON" -c "import sys; sys.exit(not ($t <= 2 * $base + 2))" ||
	fail "200 clients took $t s beside the slow reader, baseline $base s"
# the slow stream stayed stalled: no more than a window's worth went on meanwhile
((now - stalled <= 1048576)) || fail "the slow stream moved $((now - stalled)) bytes while stalled"
# bounded: the source's bytes are held by kernel buffers and one stream window, not by A
((stalled < 64 * 1048576)) || fail "the slow stream took $stalled bytes before it stalled"
((rss1 - rss0 < 32768)) || fail "A's RSS grew from $rss0 kB to $rss1 kB"
stop_pid "$slow_pid"
echo "PASS"
