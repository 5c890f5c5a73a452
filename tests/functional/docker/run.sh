#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/functional/docker/run.sh - run every Docker functional test (NN-*.sh here) in order, as root.
#
#   tests/functional/docker/run.sh [PATTERN...]     e.g. run.sh 01 06-trigger
#
# The same contract as tests/functional/run.sh: each script's output goes to
# $WH_TEST_LOGDIR/NAME.log (default: a temp dir, kept when something fails); PASS / FAIL / SKIP
# (with the script's "SKIP: <why>") per test and a summary; a skip is not counted as a pass. Exits
# 1 if any test failed, 77 if every test was skipped, else 0. WORMHOLED and WORMHOLE default to
# build/wormholed/wormholed and build/wormhole-cli/wormhole.
#
# A Docker engine is started once for the whole run when none answers (tests/lib/dockerd.sh: a
# private dockerd with its own data-root and socket, no bridge, no iptables) and stopped again at
# the end; an engine that was already there is used and left alone. The test image is built once
# here too (tests/lib/images.sh); if either fails, the tests say SKIP themselves.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export WORMHOLED=${WORMHOLED:-$repo/build/wormholed/wormholed}
export WORMHOLE=${WORMHOLE:-$repo/build/wormhole-cli/wormhole}
logdir=${WH_TEST_LOGDIR:-$(mktemp -d /tmp/wh-functional-docker.XXXXXX)}
mkdir -p "$logdir"

scripts=()
for s in "$here"/[0-9][0-9]-*.sh; do
	name=$(basename "$s" .sh)
	if [[ $# -gt 0 ]]; then
		match=0
		for p in "$@"; do
			[[ $name == *"$p"* ]] && match=1
		done
		[[ $match -eq 1 ]] || continue
	fi
	scripts+=("$s")
done
[[ ${#scripts[@]} -gt 0 ]] || {
	echo "no test matches: $*" >&2
	exit 2
}

# shellcheck source=../../lib/dockerd.sh
source "$repo/tests/lib/dockerd.sh"
# shellcheck source=../../lib/images.sh
source "$repo/tests/lib/images.sh"
if [[ $(id -u) -eq 0 ]] && command -v docker >/dev/null; then
	if dockerd_start >"$logdir/dockerd-start.log" 2>&1; then
		echo "Docker engine: $DOCKER_HOST${wh_dockerd_started:+ (private, started for this run)}"
		images_build >>"$logdir/dockerd-start.log" 2>&1 ||
			echo "warning: cannot build the test image (see $logdir/dockerd-start.log)"
	else
		echo "warning: no Docker engine (see $logdir/dockerd-start.log)"
	fi
fi
# Stop the engine we started, by the pid in its pidfile: a test (13) may have restarted it.
stop_engine() {
	[[ -n $wh_dockerd_started ]] || return 0
	if [[ -f $wh_dockerd_pidfile ]]; then
		dockerd_stop_pid "$(cat "$wh_dockerd_pidfile")"
	fi
	dockerd_stop
}
trap stop_engine EXIT

# shellcheck source=../../lib/runner.sh
source "$repo/tests/lib/runner.sh"
run_scripts
