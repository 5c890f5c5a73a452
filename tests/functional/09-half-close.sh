#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 09-half-close: the client sends a 64 KiB request and shuts down its write side; the backend
# answers only after it sees EOF (it reads the request to the end, then writes its sha256 and a
# 1 MiB reply). The client must receive the whole reply after its own shutdown, so wormhole has to
# pass the half-close on (shutdown(SHUT_WR) towards the backend) and keep the other way open.
#
#   netns wh-test-$$ ("host")
#   +------------------------------------------------------------------------------------------+
#   | socat (stdin EOF -> SHUT_WR) -> :9000 [wormholed] -> :9001 socat SYSTEM:"sha256sum; cat reply" |
#   +------------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
head -c 65536 /dev/urandom >"$wh_tmp/request"
head -c 1048576 /dev/urandom >"$wh_tmp/reply"
# the backend's answer: the request's sha256 line (proves it saw the whole request and its EOF),
# then the 1 MiB reply
{
	sha256sum <"$wh_tmp/request" | cut -d' ' -f1
	cat "$wh_tmp/reply"
} >"$wh_tmp/expected"
bg_in "$ns_host" socat -t 10 TCP4-LISTEN:9001,bind=127.0.0.1,reuseaddr,fork \
	SYSTEM:"sha256sum | head -c 64; echo; cat $wh_tmp/reply"
wait_tcp_listen "$ns_host" 9001

wh_create id hc url :9000 tail url :9001 >/dev/null
wait_tcp_listen "$ns_host" 9000

# socat shuts the socket's write side when stdin ends, then reads until the server closes (-t 20)
nh timeout 25 socat -t 20 - TCP:127.0.0.1:9000 <"$wh_tmp/request" >"$wh_tmp/got"
assert_files_equal "reply received after the client's half-close" "$wh_tmp/expected" "$wh_tmp/got"

echo "PASS"
