#!/bin/bash
# SPDX-License-Identifier: MIT
#
# examples/database/run.sh - a database in a container without any network, published on the
# host's 127.0.0.1:13306 by wormhole
#
#   client --> 127.0.0.1:13306 [wormholed] ==setns==> 127.0.0.1:3306 in container NAME
#                                                       (docker run --network none)
#
# The container has no interface but lo: nothing reaches it except through wormhole, which
# listens on the host and connects inside the container's network namespace. The same two
# commands publish a real database:
#
#   docker run -d --name db --network none -e MARIADB_ROOT_PASSWORD=... mariadb:10.11
#   wormhole create id db url :13306 tail url :3306 docker-ns db
#
# As root, with wormholed running and Docker: examples/database/run.sh. It starts the container,
# publishes it, sends a line through and checks the answer (the stand-in "database" echoes), then
# removes both again (KEEP=1 leaves them running). Environment: IMAGE (default
# wormhole-test/busybox:latest, made by tests/lib/images.sh; it must hold wh-echo), NAME (the
# container, default wormhole-example-db), PORT (default 13306), WORMHOLE (the CLI, default
# wormhole), WORMHOLE_HOST (its -H, default none). tests/functional/docker/18-example-database.sh
# runs it.
set -euo pipefail
image=${IMAGE:-wormhole-test/busybox:latest}
name=${NAME:-wormhole-example-db}
port=${PORT:-13306}
wh() {
	"${WORMHOLE:-wormhole}" ${WORMHOLE_HOST:+-H "$WORMHOLE_HOST"} "$@"
}
for t in docker socat; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

cleanup() {
	local rc=$?
	if [[ ${KEEP:-0} != 1 ]]; then
		wh delete example-db 2>/dev/null || true
		docker rm -f "$name" >/dev/null 2>&1 || true
	fi
	exit $rc
}
trap cleanup EXIT

echo "+ docker run -d --name $name --network none --init $image wh-echo 3306"
docker run -d --name "$name" --network none --init "$image" wh-echo 3306 >/dev/null
echo "+ wormhole create id example-db url :$port tail url :3306 docker-ns $name"
wh create id example-db url ":$port" tail url :3306 docker-ns "$name"

# the container may still be starting: wormhole retries a container tail while it refuses
reply=$(printf 'SELECT 1;\n' | timeout 20 socat -t 10 - "TCP:127.0.0.1:$port")
echo "answer through 127.0.0.1:$port: $reply"
[[ $reply == "SELECT 1;" ]] || { echo "FAIL: expected the line back" >&2; exit 1; }
wh list
echo "PASS"
