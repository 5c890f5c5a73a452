#!/bin/sh
# SPDX-License-Identifier: MIT
#
# examples/labels/run.sh [up|down] - the two services of compose.yaml with plain `docker run`
# (docker compose is not needed). As root, with `wormholed --docker-labels` running:
#
#   examples/labels/run.sh up       # web on 127.0.0.1:8080, db on 127.0.0.1:13306 and
#                                   # /run/wormhole-example-db.sock
#   wormhole list
#   echo hello | socat - TCP:127.0.0.1:8080
#   examples/labels/run.sh down     # the segments go with the containers
#
# IMAGE (default wormhole-test/busybox:latest, built by tests/lib/images.sh) must hold wh-echo;
# PROJECT (default wormhole-example) prefixes the container names, as compose would.
set -eu
image=${IMAGE:-wormhole-test/busybox:latest}
project=${PROJECT:-wormhole-example}

case "${1:-up}" in
up)
	docker run -d --name "$project-web-1" --network none --init \
		--label com.docker.compose.project="$project" \
		--label wormhole.publish=8080:80 \
		"$image" wh-echo 80
	docker run -d --name "$project-db-1" --network none --init \
		--label com.docker.compose.project="$project" \
		--label wormhole.publish=13306:3306,unix:///run/wormhole-example-db.sock:3306 \
		"$image" wh-echo 3306
	;;
down)
	docker rm -f "$project-web-1" "$project-db-1"
	;;
*)
	echo "usage: $0 [up|down]" >&2
	exit 2
	;;
esac
