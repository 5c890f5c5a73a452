#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 50-remote: the original's TestRemote across two hosts. On A, `url :9000 remote B tail url
# :9002`; an echo server on B's :9002. Data crosses A -> B over one TLS 1.3 PSK link; a capture
# of the traffic between the hosts shows a TLS 1.3 handshake and not the marker sent through;
# `list` on A shows the remote child with its host; `-H tcp://B -K KEY list` drives B's daemon;
# `ping B` prints a round trip; delete on A removes the segment on B; B's log line for the
# connection names the original client on A.
#
#   A (wh-a-$$) 198.18.0.1                           B (wh-b-$$) 198.18.0.2
#   client -> :9000 [wormholed A] ==TLS link :9999==> [wormholed B] -> :9002 socat echo
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

wh_setup
peers_setup
start_peer_daemon "$ns_a" a
start_peer_daemon "$ns_b" b
wait_tcp_listen "$ns_b" 9999
start_tcp_echo "$ns_b" 9002

out=$(whd a create id web url :9000 remote 198.18.0.2 tail url :9002) || fail "create failed"
assert_eq "create output" "web tcp://127.0.0.1:9000" "$out"
wait_tcp_listen "$ns_a" 9000
tcp_echo_check "$ns_a" 127.0.0.1:9000 "through the link"

# B has the remote segment, named after ours, and no plaintext listener for it
rid=$(segments b)
assert_match "remote id" '^web\.[0-9a-f]{6}$' "$rid"
# B's log names the original client (A's 127.0.0.1:PORT), carried on the stream's request
_b_logged_client() { grep -qE "segment '$rid': 127\.0\.0\.1:[0-9]+ -> .*closed after" "$(wh_log b)"; }
wait_for "B's log line with the original client" 50 _b_logged_client
listeners=$(in_ns "$ns_b" ss -Htln | awk '{print $4}' | sort | tr '\n' ' ')
assert_eq "B's listeners" "0.0.0.0:9999 127.0.0.1:9002 [::]:9999 " "$listeners"

# A's list shows the remote child with its host
"$WORMHOLE" -H "unix://$(wh_sock a)" list --json >"$wh_tmp/a.json"
row=$("$PYTHON" -c '
import json, sys
for s in json.load(open(sys.argv[1]))["segments"]:
    if s["parent"] == "web":
        print(s["id"], s["head"], s["state"])
' "$wh_tmp/a.json")
assert_eq "remote child row" "$rid peer://198.18.0.2:9999 remote" "$row"

# remote control: B's list from A, over the link, with the key
rlist=$(in_ns "$ns_a" "$WORMHOLE" -H tcp://198.18.0.2 -K "$wh_key" list --json |
	"$PYTHON" -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)["segments"]))')
assert_eq "remote list" "$rid" "$rlist"
rtt=$(in_ns "$ns_a" "$WORMHOLE" -K "$wh_key" ping 198.18.0.2)
assert_match "ping output" '^[0-9]+\.[0-9]+$' "$rtt"
# without a key: a clear error, exit 1
if in_ns "$ns_a" "$WORMHOLE" -H tcp://198.18.0.2 -K "$wh_tmp/nokey" list 2>"$wh_tmp/err"; then
	fail "list without a key succeeded"
fi
grep -q "wormhole keygen" "$wh_tmp/err" || fail "no hint how to make a key: $(cat "$wh_tmp/err")"

# the capture: a TLS 1.3 handshake, and never the marker in clear
if command -v tcpdump >/dev/null; then
	bg_in "$ns_a" tcpdump -Z root --immediate-mode -i wh-ab -U -w "$wh_tmp/cap.pcap" -s 0 tcp port 9999
	cap_pid=$last_pid
	for ((i = 0; i < 100; i++)); do
		[[ -s "$wh_tmp/cap.pcap" ]] && break
		sleep 0.05
	done
	# a new link: restart A's side by deleting and re-creating the segment on a new daemon
	stop_pid "${wh_daemon_pid[a]}"
	start_peer_daemon "$ns_a" a2
	whd a2 create id web2 url :9100 remote 198.18.0.2 tail url :9002 >/dev/null
	wait_tcp_listen "$ns_a" 9100
	marker="MARKER-$$-$RANDOM-secret"
	got=$(printf '%s\n' "$marker" | in_ns "$ns_a" timeout 10 socat -t 5 - TCP:127.0.0.1:9100)
	assert_eq "marker echoed" "$marker" "$got"
	sleep 0.3
	stop_pid "$cap_pid"
	"$PYTHON" - "$wh_tmp/cap.pcap" "$marker" <<'PY' || fail "capture check failed"
import struct, sys
data = open(sys.argv[1], "rb").read()
marker = sys.argv[2].encode()
assert len(data) > 200, "empty capture"
assert marker not in data, "marker seen in clear text"
# ClientHello record, and a supported_versions extension offering TLS 1.3 (0x0304)
assert b"\x16\x03\x01" in data, "no TLS handshake record"
assert b"\x00\x2b" in data and b"\x03\x04" in data, "no TLS 1.3 in the handshake"
assert b"\x17\x03\x03" in data, "no TLS application data"
print("capture: TLS 1.3 handshake, %d bytes, marker absent" % len(data))
PY
	whd a2 delete web2
else
	info "tcpdump missing: capture check skipped"
	whd a delete web
fi
# the delete reached B
for ((i = 0; i < 100; i++)); do
	[[ -z $(segments b | grep -v "^$rid\$" || true) ]] && break
	sleep 0.05
done
assert_eq "B after the delete" "" "$(segments b | grep -v "^$rid\$" || true)"
