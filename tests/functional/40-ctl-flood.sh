#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 40-ctl-flood: a control client that pipelines 3 000 `list` requests over 2 000 segments and never
# reads (issue 10 items 1, 2). The daemon must stop reading it once its output queue is full:
# its RSS grows by less than 64 MB (it used to reach 1 GB), `wormhole ping` meanwhile answers
# within 100 ms (it took 7.7 s), and the client is dropped when it does not drain (10 s).
#
#   netns wh-test-$$ ("host")
#   +--------------------------------------------------------------------------+
#   | ctl-client.py create-many (2000) --> [wormholed] <-- ctl-client.py flood  |
#   |                                                  <-- wormhole ping x 20   |
#   +--------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
client="$(dirname "$0")/ctl-client.py"
wh_start_daemon main
sock=$(wh_sock main)
pid=${wh_daemon_pid[main]}
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

res=$(nh timeout 60 "$PYTHON" "$client" create-many "$sock" 2000) || fail "create: $res"
echo "$res" >&2
before=$(rss)

bg_in "$ns_host" "$PYTHON" "$client" flood "$sock" 3000
flood=$last_pid
sleep 1
pings=()
for ((i = 0; i < 20; i++)); do
	ms=$("$WORMHOLE" -H "unix://$sock" ping) || fail "ping failed during the flood"
	pings+=("$ms")
	sleep 0.1
done
after=$(rss)
# The median must be under 100 ms (the defect: 7.7 s); one slow ping in 20 may come from the
# machine itself (a loaded CI host schedules the CLI late), so the slowest gets 1 s.
read -r median worst < <("$PYTHON" -c "import statistics as s; v=[float(x) for x in '${pings[*]}'.split()]; print(s.median(v), max(v))")
echo "RSS before ${before} kB, during the flood ${after} kB; pings: median ${median} ms, slowest ${worst} ms" >&2
"$PYTHON" -c "import sys; sys.exit(not ($median < 100 and $worst < 1000))" ||
	fail "pings during the flood: median $median ms, slowest $worst ms"
# WH_RSS_FACTOR: the ASan build (functional-asan) needs about twice the memory for the same work
bound=$((65536 * ${WH_RSS_FACTOR:-1}))
[[ $((after - before)) -lt $bound ]] || fail "RSS grew by $((after - before)) kB (bound $bound kB)"
alive "$flood" || fail "the flooding client ended early"

info "the client that never reads is dropped"
wait_for "the daemon drops the flooding client" 150 bash -c "! kill -0 $flood 2>/dev/null || grep -q Z /proc/$flood/stat"
wh ping >/dev/null
echo "PASS"
