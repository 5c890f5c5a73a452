#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 07-chain: `url :9000 chain url :9001 chain url :9002 tail url :9003` makes three segments in one
# daemon, 9000->9001, 9001->9002, 9002->9003; list shows three rows (two with a parent), data
# crosses all three exactly, and each segment counted the one connection.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------------+
#   | client -> :9000 [seg top] -> :9001 [seg 2] -> :9002 [seg 3] -> :9003 socat echo      |
#   +------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
start_tcp_echo "$ns_host" 9003

out=$(wh_create id c url :9000 chain url :9001 chain url :9002 tail url :9003)
assert_eq "create output" "c tcp://127.0.0.1:9000" "$out"
for p in 9000 9001 9002; do
	wait_tcp_listen "$ns_host" "$p"
done

wh list --json >"$wh_tmp/list.json"
cat "$wh_tmp/list.json" >&2
rows=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for s in sorted(d["segments"], key=lambda s: s["head"]):
    print(s["head"], s["tail"], "top" if s["parent"] is None else "child", s["state"])
' "$wh_tmp/list.json")
assert_eq "segments" "tcp://127.0.0.1:9000 tcp://127.0.0.1:9001 top listening
tcp://127.0.0.1:9001 tcp://127.0.0.1:9002 child listening
tcp://127.0.0.1:9002 tcp://127.0.0.1:9003 child listening" "$rows"

# parents link the chain: 9001's parent is the top, 9002's parent is 9001's segment
links=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
byid = {s["id"]: s for s in d["segments"]}
for s in sorted(d["segments"], key=lambda s: s["head"]):
    p = byid.get(s["parent"]) if s["parent"] is not None else None
    print(s["head"], "<-", p["head"] if p else ("none" if s["parent"] is None else "MISSING"))
' "$wh_tmp/list.json")
assert_eq "parent links" "tcp://127.0.0.1:9000 <- none
tcp://127.0.0.1:9001 <- tcp://127.0.0.1:9000
tcp://127.0.0.1:9002 <- tcp://127.0.0.1:9001" "$links"

table=$(wh list)
echo "$table" >&2
assert_eq "table rows (header + 3)" 4 "$(wc -l <<<"$table")"

head -c 524288 /dev/urandom >"$wh_tmp/in"
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9000 <"$wh_tmp/in" >"$wh_tmp/out"
assert_files_equal "echo across three segments" "$wh_tmp/in" "$wh_tmp/out"

wait_all_idle
totals=$(wh list --json | "$PYTHON" -c '
import json, sys
for s in sorted(json.load(sys.stdin)["segments"], key=lambda s: s["head"]):
    print(s["conns_total"], s["bytes_in"], s["bytes_out"])')
assert_eq "per-segment conns_total bytes_in bytes_out" "1 524288 524288
1 524288 524288
1 524288 524288" "$totals"

info "deleting the top deletes the whole chain"
wh delete c
assert_eq "segments left" "" "$(wh list --json | "$PYTHON" "$WH_NET" json-ids)"
for p in 9000 9001 9002; do
	if tcp_listening "$ns_host" "$p"; then
		fail "port $p still listening after deleting the chain"
	fi
done
echo "PASS"
