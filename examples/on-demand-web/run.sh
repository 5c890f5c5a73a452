#!/bin/bash
# SPDX-License-Identifier: MIT
#
# examples/on-demand-web/run.sh - a web container started by its first visitor
#
#   curl --> 127.0.0.1:8088 [wormholed]  (armed: no container yet)
#            first connection: docker run --network none ... httpd -p 80
#            then            ==setns==> 127.0.0.1:80 in the new container
#
# `trigger` makes the words after it run on the first connection: the container is created and
# started then, and the visitor's connection waits for it (its tail is retried while the server
# starts). `idle 10m` removes the container again after ten minutes without a connection and arms
# the segment for the next visitor. With a real image:
#
#   wormhole create id web url :8088 idle 10m trigger url :80 docker-run '--network none --init nginx'
#
# As root, with wormholed running and Docker: examples/on-demand-web/run.sh. It creates the
# segment, shows that no container runs, fetches a page (which starts it) and removes the segment
# (which removes the container; KEEP=1 leaves it). Environment: IMAGE (default
# wormhole-test/busybox:latest from tests/lib/images.sh: busybox httpd), NAME (the container,
# default wormhole-example-web), PORT (default 8088), WORMHOLE, WORMHOLE_HOST (as in
# examples/database/run.sh). tests/functional/docker/19-example-on-demand-web.sh runs it.
set -euo pipefail
image=${IMAGE:-wormhole-test/busybox:latest}
name=${NAME:-wormhole-example-web}
port=${PORT:-8088}
wh() {
	"${WORMHOLE:-wormhole}" ${WORMHOLE_HOST:+-H "$WORMHOLE_HOST"} "$@"
}
for t in docker socat; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

cleanup() {
	local rc=$?
	if [[ ${KEEP:-0} != 1 ]]; then
		wh delete example-web 2>/dev/null || true
		docker rm -f "$name" >/dev/null 2>&1 || true
	fi
	exit $rc
}
trap cleanup EXIT

# busybox httpd serving one page; with nginx the command is simply the image's own
server="sh -c \"mkdir -p /www && echo hello from an on-demand container >/www/index.html && exec httpd -f -p 80 -h /www\""
echo "+ wormhole create id example-web url :$port idle 10m trigger url :80 docker-run '--network none --init --name $name $image $server'"
wh create id example-web url ":$port" idle 10m trigger url :80 \
	docker-run "--network none --init --name $name $image $server"
wh list
if docker inspect "$name" >/dev/null 2>&1; then
	echo "FAIL: the container exists before the first visitor" >&2
	exit 1
fi
echo "no container yet; the first request starts it"
page=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 60 socat -t 50 - "TCP:127.0.0.1:$port" | tail -n 1)
echo "page: $page"
[[ $page == "hello from an on-demand container" ]] || { echo "FAIL: wrong page" >&2; exit 1; }
[[ $(docker inspect -f '{{.State.Running}}' "$name") == true ]] || {
	echo "FAIL: $name does not run after the first request" >&2
	exit 1
}
wh list
echo "PASS"
