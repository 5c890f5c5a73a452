#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/functional/run.sh - run every functional test (NN-*.sh) in order, as root.
#
#   tests/functional/run.sh [PATTERN...]     e.g. run.sh 01 05-tail-netns
#
# Each script's output goes to $WH_TEST_LOGDIR/NAME.log (default: a temp dir, kept when something
# fails). Prints PASS / FAIL / SKIP (with the script's "SKIP: <why>") per test and a summary; a
# skip is not counted as a pass. Exits 1 if any test failed, 77 if every test was skipped, else 0.
# WORMHOLED and WORMHOLE default to build/wormholed/wormholed and build/wormhole-cli/wormhole.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export WORMHOLED=${WORMHOLED:-$repo/build/wormholed/wormholed}
export WORMHOLE=${WORMHOLE:-$repo/build/wormhole-cli/wormhole}
logdir=${WH_TEST_LOGDIR:-$(mktemp -d /tmp/wh-functional.XXXXXX)}
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

# shellcheck source=../lib/runner.sh
source "$repo/tests/lib/runner.sh"
run_scripts
