#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/scale-zero.sh [N] - first byte after a scale-from-zero start (`idle`), as root
#
# One segment `url :9120 idle 1s trigger url :3306 docker-run '--network none --init
# wormhole-test/busybox wh-echo --stamp 3306'` on a private wormholed in its own netns. N times
# (default 10): wait until the segment has scaled to zero ("armed", its container removed), then a
# client (bench/tools/dockertool firstbyte) connects, sends one byte and times the reply. wh-echo
# --stamp prints when its listen() succeeded (CLOCK_REALTIME), so "after ready" = first byte -
# container listening: what wormhole adds on top of the container's own start. Target: <= 50 ms.
# Needs the Docker engine of tests/lib/dockerd.sh (started if none answers) and the test image.
set -euo pipefail
N=${1:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$REPO/build}
# shellcheck source=../tests/lib/dockerd.sh
source "$REPO/tests/lib/dockerd.sh"
# shellcheck source=../tests/lib/images.sh
source "$REPO/tests/lib/images.sh"
dockerd_start || { echo "SKIP: no Docker engine"; exit 77; }
images_build || { echo "SKIP: cannot build the test image"; exit 77; }
T=$(mktemp -d /tmp/wh-bench-s0.XXXXXX)
NS=wh-bench-s0-$$
cc -O2 -o "$T/dockertool" "$HERE/tools/dockertool.c"
ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "$T/state" "$T/chains" # never the machine's /var/lib/wormhole
ip netns exec "$NS" "$BUILD/wormholed/wormholed" -H "unix://$T/ctl.sock" --state "$T/state" --chains "$T/chains" 2>"$T/wormholed.log" &
WH=$!
cleanup() {
	kill "$WH" 2>/dev/null && wait "$WH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[[ -n ${LABEL:-} ]] && docker ps -aq --filter "label=$LABEL" | xargs -r docker rm -f >/dev/null
	dockerd_stop
	rm -rf "$T"
}
trap cleanup EXIT
WHC() { "$BUILD/wormhole-cli/wormhole" -H "unix://$T/ctl.sock" "$@"; }
for _ in $(seq 100); do WHC ping >/dev/null 2>&1 && break; sleep 0.05; done
# the containers it starts carry its daemon id (the state directory's identity)
LABEL="wormhole.daemon=$(cat "$T/state/daemon-id")"
WHC create id s0 url :9120 idle 1s trigger url :3306 docker-run "--network none --init wormhole-test/busybox:latest wh-echo --stamp 3306" >/dev/null
state() { WHC list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["segments"][0]["state"])'; }
printf 'i\tfirst_byte_after_connect_ms\tcontainer_listening_after_connect_ms\tfirst_byte_after_listening_ms\n'
for i in $(seq "$N"); do
	for _ in $(seq 200); do
		[[ $(state) == armed && -z $(docker ps -aq --filter "label=$LABEL") ]] && break
		sleep 0.05
	done
	out=$(ip netns exec "$NS" "$T/dockertool" firstbyte 9120 60)
	id=$(docker ps -aq --no-trunc --filter "label=$LABEL")
	listen=""
	for _ in $(seq 100); do
		listen=$(docker logs "$id" 2>/dev/null | awk '$1 == "listening" { print $2; exit }')
		[[ -n $listen ]] && break
		sleep 0.05
	done
	cn=$(sed 's/.*connect_ns=\([0-9]*\).*/\1/' <<<"$out")
	fb=$(sed 's/.*first_byte_ns=\([0-9]*\).*/\1/' <<<"$out")
	awk -v i="$i" -v c="$cn" -v f="$fb" -v l="$listen" 'BEGIN { printf "%d\t%.1f\t%.1f\t%.1f\n", i, (f-c)/1e6, (l-c)/1e6, (f-l)/1e6 }'
done
