#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 04-unix: a unix-socket head (`url unix:///T/a.sock tail url :9001`) and a unix-socket tail
# (`url :9002 tail url unix:///T/b.sock`); each carries 256 KiB both ways (echo, sha256 compared).
#
#   netns wh-test-$$ ("host"), T = the test's temp dir
#   +----------------------------------------------------------------------------------+
#   |  socat --> unix T/a.sock  [wormholed] --> 127.0.0.1:9001  socat echo             |
#   |  socat --> 127.0.0.1:9002 [wormholed] --> unix T/b.sock   socat echo (UNIX-LISTEN) |
#   +----------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
wh_start_daemon main
head -c 262144 /dev/urandom >"$wh_tmp/in"

info "unix head"
start_tcp_echo "$ns_host" 9001
out=$(wh_create id uhead url "unix://$wh_tmp/a.sock" tail url :9001)
assert_eq "create output" "uhead unix://$wh_tmp/a.sock" "$out"
wait_unix_listen "$ns_host" "$wh_tmp/a.sock"
nh timeout 20 socat -t 15 - "UNIX-CONNECT:$wh_tmp/a.sock" <"$wh_tmp/in" >"$wh_tmp/out1"
assert_files_equal "echo through the unix head" "$wh_tmp/in" "$wh_tmp/out1"

info "unix tail"
bg_in "$ns_host" socat -t 10 "UNIX-LISTEN:$wh_tmp/b.sock,fork" EXEC:cat
wait_unix_listen "$ns_host" "$wh_tmp/b.sock"
out=$(wh_create id utail url :9002 tail url "unix://$wh_tmp/b.sock")
assert_eq "create output" "utail tcp://127.0.0.1:9002" "$out"
assert_eq "tail in list" "unix://$wh_tmp/b.sock" "$(wh_json_get utail tail)"
wait_tcp_listen "$ns_host" 9002
nh timeout 20 socat -t 15 - TCP:127.0.0.1:9002 <"$wh_tmp/in" >"$wh_tmp/out2"
assert_files_equal "echo through the unix tail" "$wh_tmp/in" "$wh_tmp/out2"

info "delete removes the unix head's socket file"
wh delete uhead
[[ ! -e "$wh_tmp/a.sock" ]] || fail "$wh_tmp/a.sock still exists after delete"
echo "PASS"
