#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/test.sh - wormhole's whole test suite, as CI runs it (.ci/run), as root: scripts/test.sh
#
# Steps, each under a "==== [n/N] name ====" header, each timed:
#   deps         scripts/deps.sh (installs what is missing)
#   configure    meson setup build-ci --werror (fresh, or reconfigured when it exists)
#   build        ninja -C build-ci
#   unit         the unit tests (cmocka, fuzz corpus replays)
#   asan         the unit and integration tests again, built with -Db_sanitize=address,undefined
#                in build-ci-asan
#   valgrind     the unit and integration tests under valgrind --leak-check=full (build-ci)
#   cppcheck     cppcheck --error-exitcode=1 on lib/ chains/ wormholed/ wormhole-cli/
#   clang-tidy   clang-tidy with .clang-tidy on the same files
#   units        systemd-analyze verify of the installed units: any output is a failure
#   install      a Debian-style build (--prefix=/usr, man pages required) in build-ci-install,
#                `meson install --destdir` into a temporary directory: the binaries, units, man
#                pages and bash completion must be where Debian expects them
#   vm           tests/vm/run.sh: tunnels with real ESP traffic in a qemu VM (Debian's kernel; the
#                kernel .deb and the initramfs base are cached in /var/tmp/wormhole-vm)
#   functional   tests/functional/run.sh against build-ci's binaries (root: network namespaces);
#                the fault suite is part of it (45-ctl-dup-keys, 5x-fault-*: tests/lib/faults.sh)
#   functional-asan  the same scripts once more against build-ci-asan's wormholed and wormhole;
#                any ASan/UBSan/LeakSanitizer report in a test's output or its daemon's log fails
#                that test (tests/lib/runner.sh, tests/lib/netns.sh)
#   soak         bench/soak.sh 120 on build-ci-asan: mixed load, fds and RSS sampled; fails on
#                growth beyond its bounds or any sanitizer report
#   integration  the integration tests (test-docker: lib/docker against a real dockerd)
#   docker       tests/functional/docker/run.sh, when it exists
# A failing step does not stop the others, except that nothing runs after a failed deps,
# configure or build step. At the end: a summary table; exit status 1 if any step failed.
# Idempotent: build dirs are reused, every step works on a fresh clone.
#
# Environment: WH_CI_STEPS="configure build unit ..." runs only those steps (for debugging this
# script; later steps expect the earlier ones to have run once).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
build=$repo/build-ci
build_asan=$repo/build-ci-asan
src_dirs=(lib chains wormholed wormhole-cli)

if [[ $(id -u) -ne 0 ]]; then
	echo "test.sh: run as root ($0): it installs packages and the functional tests make network namespaces" >&2
	exit 2
fi

all_steps=(deps configure build unit asan valgrind cppcheck clang-tidy units install vm functional
	functional-asan soak integration docker)
read -r -a want <<<"${WH_CI_STEPS:-${all_steps[*]}}"
names=() results=() times=()
stop=0

wanted() {
	local s
	for s in "${want[@]}"; do
		[[ $s == "$1" ]] && return 0
	done
	return 1
}

# step NAME FATAL FUNCTION: run FUNCTION under a header, record PASS/FAIL/SKIP and its time.
# FUNCTION returning 77 is a skip. FATAL=1: a failure stops every later step.
step() {
	local name=$1 fatal=$2 fn=$3 t0 rc dt res
	wanted "$name" || return 0
	names+=("$name")
	if [[ $stop -eq 1 ]]; then
		results+=("NOT RUN")
		times+=(0)
		return 0
	fi
	printf '\n==== [%d/%d] %s ====\n' "${#names[@]}" "${#want[@]}" "$name"
	t0=$(date +%s)
	"$fn"
	rc=$?
	dt=$(($(date +%s) - t0))
	case $rc in
	0) res=PASS ;;
	77) res=SKIP ;;
	*) res="FAIL ($rc)" ;;
	esac
	printf -- '---- %s: %s in %ds\n' "$name" "$res" "$dt"
	results+=("$res")
	times+=("$dt")
	if [[ $res == FAIL* && $fatal -eq 1 ]]; then
		stop=1
	fi
}

do_deps() {
	bash "$repo/scripts/deps.sh"
}

# meson setup, fresh or reconfigured; a build dir meson cannot reconfigure is wiped
setup_dir() {
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$repo" --werror "$@" ||
			meson setup --wipe "$dir" "$repo" --werror "$@"
	else
		rm -rf "$dir"
		meson setup "$dir" "$repo" --werror "$@"
	fi
}

do_configure() {
	setup_dir "$build"
}

do_build() {
	ninja -C "$build"
}

do_unit() {
	meson test -C "$build" --suite unit --print-errorlogs
}

do_asan() {
	# -Db_lundef=false: meson cannot link a sanitized library with -Wl,--no-undefined
	setup_dir "$build_asan" -Db_sanitize=address,undefined -Db_lundef=false &&
		ninja -C "$build_asan" &&
		ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:print_summary=1:fast_unwind_on_malloc=0 \
			LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp:print_suppressions=0 \
			UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1 \
			meson test -C "$build_asan" --suite unit --suite integration --print-errorlogs
}

do_valgrind() {
	# The unit and integration tests: test-docker takes about 20 s under valgrind (15 s without).
	# valgrind follows only the test process, not the dockerd or shell helpers it starts.
	meson test -C "$build" --suite unit --suite integration --print-errorlogs \
		--timeout-multiplier 5 \
		--wrap="valgrind --error-exitcode=1 --leak-check=full --suppressions=$repo/tests/valgrind.supp"
}

do_cppcheck() {
	# warning, portability, performance: the bug-finding classes. "style" is not enabled: on this
	# code it reports mostly our idioms (x = TAKE_FD(fd) as an unread variable, variableScope),
	# so no suppressions file is needed. config.h comes from build-ci.
	cppcheck --error-exitcode=1 --enable=warning,portability,performance --inline-suppr \
		--std=c11 -D_GNU_SOURCE -I lib/base -I lib/grammar -I lib/net -I lib/docker -I lib/peer -I lib/tunnel -I lib/engine \
		-I chains -I "$build" -j "$(nproc)" -q "${src_dirs[@]}"
}

do_clang_tidy() {
	# .clang-tidy holds the checks and why each disabled one is off; every finding is an error.
	# Files and flags come from build-ci's compile_commands.json; gcc-only warning flags in it are
	# no concern of clang's.
	local re
	re="^$repo/($(IFS='|'; echo "${src_dirs[*]}"))/.*\.c\$"
	run-clang-tidy -p "$build" -j "$(nproc)" -quiet -extra-arg=-Wno-unknown-warning-option "$re"
}

do_units() {
	# The units as installed, ExecStart pointing at the binary just built (verify insists that
	# it exists). systemd-analyze verify exits 0 on warnings, so any output is a failure.
	local d out rc
	d=$(mktemp -d /tmp/wh-ci-units.XXXXXX)
	sed "s|^ExecStart=.*/wormholed|ExecStart=$build/wormholed/wormholed|" \
		"$build/systemd/wormholed.service" >"$d/wormholed.service"
	cp "$build/systemd/wormholed.socket" "$build/systemd/wormholed-peer.socket" "$repo/examples/socket-unit/wormhole-mysql.socket" "$d/"
	# the units README.md shows under "Running under systemd", extracted as printed
	awk '/^<!-- unit: /{f=$3; next} /^<!-- end -->/{f=""} f && !/^ *```/{print > ("'"$d"'/" f)}' \
		"$repo/README.md"
	sed -i "s|^ExecStart=[^ ]*/wormholed|ExecStart=$build/wormholed/wormholed|" "$d"/*.service
	out=$(cd "$d" && systemd-analyze verify --man=no ./*.service ./*.socket 2>&1)
	rc=$?
	rm -rf "$d"
	[[ -n $out ]] && printf '%s\n' "$out"
	[[ $rc -eq 0 && -z $out ]]
}

do_install() {
	local d rc=0 f
	local expect=(usr/bin/wormhole usr/sbin/wormholed
		lib/systemd/system/wormholed.service lib/systemd/system/wormholed.socket
		lib/systemd/system/wormholed-peer.socket
		usr/share/man/man1/wormhole.1 usr/share/man/man8/wormholed.8
		usr/share/man/man5/wormhole-chains.5
		usr/share/bash-completion/completions/wormhole
		usr/share/doc/wormhole/examples/wormhole-mysql.socket)
	setup_dir "$repo/build-ci-install" --prefix=/usr -Dtests=disabled -Dman=enabled &&
		ninja -C "$repo/build-ci-install" || return 1
	d=$(mktemp -d /tmp/wh-ci-install.XXXXXX)
	meson install -C "$repo/build-ci-install" --destdir "$d" --quiet || rc=1
	for f in "${expect[@]}"; do
		if [[ -s $d/$f ]]; then
			echo "ok: /$f"
		else
			echo "missing: /$f"
			rc=1
		fi
	done
	# the man pages are roff that man renders without a warning; the completion is bash
	for f in "$d"/usr/share/man/man*/*; do
		[[ -f $f ]] || continue
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
		[[ -z $out ]] || {
			echo "$f: $out"
			rc=1
		}
	done
	bash -n "$d/usr/share/bash-completion/completions/wormhole" || rc=1
	"$d/usr/bin/wormhole" --version || rc=1
	rm -rf "$d"
	return $rc
}

do_vm() {
	bash "$repo/tests/vm/run.sh" "$build"
}

do_functional() {
	WORMHOLED=$build/wormholed/wormholed WORMHOLE=$build/wormhole-cli/wormhole \
		bash "$repo/tests/functional/run.sh"
}

# ASan/UBSan options for the daemons of functional-asan and soak: any report aborts the process
# (and fails the test); a small quarantine keeps RSS comparable with the plain build.
san_env=(
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:quarantine_size_mb=32:print_summary=1
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1
	LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp:print_suppressions=0
)

do_functional_asan() {
	if [[ ! -x $build_asan/wormholed/wormholed ]]; then
		echo "functional-asan: no $build_asan/wormholed/wormholed (the asan step builds it)"
		return 1
	fi
	# 44-list-100k measures the CLI and the daemon at 100 000 segments; under ASan that is many
	# minutes of the same code paths the other tests cover, so it runs in the plain step only.
	local t tests=()
	for t in "$repo"/tests/functional/[0-9][0-9]-*.sh; do
		t=$(basename "$t" .sh)
		[[ $t == 44-list-100k ]] || tests+=("$t")
	done
	env "${san_env[@]}" WH_RSS_FACTOR=3 \
		WORMHOLED=$build_asan/wormholed/wormholed WORMHOLE=$build_asan/wormhole-cli/wormhole \
		bash "$repo/tests/functional/run.sh" "${tests[@]}"
}

do_soak() {
	env "${san_env[@]}" bash "$repo/bench/soak.sh" --build "$build_asan" 120
}

do_integration() {
	meson test -C "$build" --suite integration --print-errorlogs
}

do_docker() {
	if [[ ! -f $repo/tests/functional/docker/run.sh ]]; then
		echo "SKIP: tests/functional/docker/run.sh does not exist yet"
		return 77
	fi
	WORMHOLED=$build/wormholed/wormholed WORMHOLE=$build/wormhole-cli/wormhole \
		bash "$repo/tests/functional/docker/run.sh"
}

t_start=$(date +%s)
step deps 1 do_deps
step configure 1 do_configure
step build 1 do_build
step unit 0 do_unit
step asan 0 do_asan
step valgrind 0 do_valgrind
step cppcheck 0 do_cppcheck
step clang-tidy 0 do_clang_tidy
step units 0 do_units
step install 0 do_install
step vm 0 do_vm
step functional 0 do_functional
step functional-asan 0 do_functional_asan
step soak 0 do_soak
step integration 0 do_integration
step docker 0 do_docker

failed=0
printf '\n==== summary ====\n'
for i in "${!names[@]}"; do
	printf '%-16s %-10s %5ds\n' "${names[i]}" "${results[i]}" "${times[i]}"
	[[ ${results[i]} == PASS || ${results[i]} == SKIP ]] || failed=1
done
printf '%-16s %-10s %5ds\n' total "$([[ $failed -eq 0 ]] && echo PASS || echo FAIL)" \
	"$(($(date +%s) - t_start))"
exit "$failed"
