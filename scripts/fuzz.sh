#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/fuzz.sh - a libFuzzer campaign over every target in tests/fuzz (or the ones named)
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 300 ctl-proto url
#
# Each target (tests/fuzz/fuzz-TARGET.c) is built with clang, -fsanitize=fuzzer,address,undefined
# (any UBSan report aborts), together with lib/base and lib/grammar, into $WH_FUZZ_DIR (default
# build-fuzz/). It then runs for SECONDS (default 60) on a working corpus seeded from
# tests/fuzz/corpus/TARGET (the checked-in corpus is never written to), with
# tests/fuzz/fuzz-TARGET.dict when there is one. Prints per target the executions, the corpus
# size, and the crashes with their artifact files; a crashing input belongs in
# tests/fuzz/corpus/TARGET/ once fixed, so the normal build replays it as a test.
# Needs clang 14 and its runtime (apt-get install -y clang-14 libclang-rt-14-dev; installed when
# missing and we are root). Exit status: 0 no crash, 1 a crash, 2 usage or build failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[[ $secs =~ ^[0-9]+$ ]] || {
	echo "usage: $0 [SECONDS] [TARGET...]" >&2
	exit 2
}
shift || true
out=${WH_FUZZ_DIR:-$repo/build-fuzz}
mkdir -p "$out"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	for f in "$repo"/tests/fuzz/fuzz-*.c; do
		t=$(basename "$f" .c)
		t=${t#fuzz-}
		[[ $t == replay ]] || targets+=("$t")
	done
fi

CC=${CC:-}
if [[ -z $CC ]]; then
	for c in clang-14 clang; do
		command -v "$c" >/dev/null && CC=$c && break
	done
fi
probe() {
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' >"$out/probe.c"
	"$CC" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" 2>/dev/null
}
if [[ -z $CC ]] || ! probe; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "installing clang-14 and libclang-rt-14-dev" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y clang-14 libclang-rt-14-dev >&2
		CC=clang-14
	fi
	probe || {
		echo "no clang with libFuzzer (apt-get install -y clang-14 libclang-rt-14-dev)" >&2
		exit 2
	}
fi

srcs=("$repo"/lib/base/*.c "$repo"/lib/grammar/*.c "$repo"/lib/docker/docker-json.c)
cflags=(-g -O1 -std=gnu17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
	-I"$repo"/lib/base -I"$repo"/lib/grammar -I"$repo"/lib/docker -I/usr/include/yajl)
libs=(-lyajl -lcurl $(pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd))

status=0
summary=()
for t in "${targets[@]}"; do
	src=$repo/tests/fuzz/fuzz-$t.c
	[[ -f $src ]] || {
		echo "no target '$t' ($src)" >&2
		exit 2
	}
	bin=$out/fuzz-$t
	echo "==== $t: building $bin" >&2
	"$CC" "${cflags[@]}" "$src" "${srcs[@]}" "${libs[@]}" -o "$bin" || exit 2
	work=$out/corpus-$t
	art=$out/artifacts-$t/
	rm -rf "$art"
	mkdir -p "$work" "$art"
	cp -n "$repo"/tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
	dict=()
	[[ -f $repo/tests/fuzz/fuzz-$t.dict ]] && dict=(-dict="$repo/tests/fuzz/fuzz-$t.dict")
	echo "==== $t: fuzzing for $secs s" >&2
	rc=0
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art" "${dict[@]}" "$work" >"$out/log-$t" 2>&1 || rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$out/log-$t" | tail -n1)
	crashes=$(find "$art" -type f | wc -l)
	ncorpus=$(find "$work" -type f | wc -l)
	line=$(printf '%-12s execs %-10s corpus %-6s crashes %s' "$t" "${execs:-?}" "$ncorpus" "$crashes")
	if [[ $crashes -gt 0 || $rc -ne 0 ]]; then
		status=1
		line+="  (exit $rc; see $out/log-$t; $(find "$art" -type f | tr '\n' ' '))"
	fi
	echo "$line"
	summary+=("$line")
done
echo "==== summary (${secs} s per target)"
printf '%s\n' "${summary[@]}"
exit $status
