# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/lib/runner.sh - the loop both functional runners share (tests/functional/run.sh and
# tests/functional/docker/run.sh): run_scripts runs each script of the array `scripts` with its
# output in $logdir/NAME.log, prints PASS / FAIL / SKIP (with the script's "SKIP: <why>") and a
# summary (a test whose output holds an ASan/UBSan report fails), and exits 1 if any failed, 77 if every one was skipped, else 0 (removing $logdir unless
# WH_TEST_LOGDIR chose it). A skip is never counted as a pass.

# shellcheck disable=SC2154 # scripts and logdir are the caller's
run_scripts() {
	local s name log t0 rc dt why f
	local pass=0 failed=0 skipped=0
	local failures=()
	for s in "${scripts[@]}"; do
		name=$(basename "$s" .sh)
		log="$logdir/$name.log"
		t0=$(date +%s)
		rc=0
		timeout 180 bash "$s" >"$log" 2>&1 </dev/null || rc=$?
		# a sanitizer report anywhere in the output (a daemon's log, the CLI, a tool) fails it
		if [[ $rc -ne 124 ]] &&
			grep -Eq 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$log"; then
			echo "FAIL: a sanitizer report in the output" >>"$log"
			rc=1
		fi
		dt=$(($(date +%s) - t0))
		case $rc in
		0)
			printf 'PASS  %-24s %3ds\n' "$name" "$dt"
			pass=$((pass + 1))
			;;
		77)
			why=$(grep -m1 '^SKIP:' "$log" | sed 's/^SKIP: *//')
			printf 'SKIP  %-24s %3ds  %s\n' "$name" "$dt" "${why:-(no reason given)}"
			skipped=$((skipped + 1))
			;;
		*)
			why=$(grep -m1 '^FAIL:' "$log" || true)
			[[ $rc -eq 124 ]] && why="timed out after 180 s"
			printf 'FAIL  %-24s %3ds  exit %d  %s\n' "$name" "$dt" "$rc" "${why:-see log}"
			failed=$((failed + 1))
			failures+=("$log")
			;;
		esac
	done

	echo "----"
	echo "$pass passed, $failed failed, $skipped skipped (of ${#scripts[@]}); logs in $logdir"
	for f in "${failures[@]}"; do
		echo "  $f"
	done
	if [[ $failed -gt 0 ]]; then
		exit 1
	fi
	if [[ $pass -eq 0 ]]; then
		exit 77
	fi
	[[ -z ${WH_TEST_LOGDIR:-} ]] && rm -rf "$logdir"
	exit 0
}
