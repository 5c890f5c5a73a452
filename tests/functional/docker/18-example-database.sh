#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 18-example-database: runs examples/database/run.sh against this test's daemon and the private Docker engine, with
# the local test image, inside this test's namespace; afterwards no segment and no container of
# the example is left.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
name="wh-ex-db-$$"
dk_names+=("$name")
wh_start_daemon main
nh env WORMHOLE="$WORMHOLE" WORMHOLE_HOST="unix://$(wh_sock main)" IMAGE="$IMG" NAME="$name" \
	DOCKER_HOST="$DOCKER_HOST" bash "$WH_REPO/examples/database/run.sh" >&2 || fail "the example failed"
assert_eq "the example removed its segment" "" "$(wh list -q)"
dk_wait_none_mine 200
docker inspect "$name" >/dev/null 2>&1 && fail "$name is left"
echo "PASS"
