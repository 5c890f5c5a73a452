# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/lib/netns.sh - shared helpers for the functional tests (tests/functional/NN-*.sh)
#
# Each test script sets `set -euo pipefail`, sources this file and calls wh_setup, which checks the
# prerequisites (root, ip, ss, socat, python3, the built binaries; a missing one is "SKIP: <why>",
# exit 77), creates the test's own network namespace "wh-test-$$" (loopback up), a private temp
# dir, and installs `trap wh_cleanup EXIT`. wh_start_daemon runs a wormholed inside that namespace
# with its control socket in the temp dir, and waits (bounded) until `wormhole ping` answers.
# Every background process a test starts goes through bg_in, which records its pid; wh_cleanup
# kills exactly those pids, then every pid still inside the test's namespaces, deletes the
# namespaces, and prints the daemons' logs when the test failed.
#
# Commands are run through wrappers that echo where they run, as in WireGuard's netns.sh:
#   nh CMD...          in the test's host namespace ("host")
#   in_ns NS CMD...    in namespace NS
#   wh ARGS...         the CLI against the main daemon (it only talks to the unix socket)
# Binaries: $WORMHOLED and $WORMHOLE, default build/wormholed/wormholed and
# build/wormhole-cli/wormhole relative to the repository root.

WH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORMHOLED=${WORMHOLED:-$WH_REPO/build/wormholed/wormholed}
WORMHOLE=${WORMHOLE:-$WH_REPO/build/wormhole-cli/wormhole}
WH_NET="$WH_REPO/tests/tools/whnet.py"
if [[ -z ${PYTHON:-} ]]; then
	if [[ -x /usr/bin/python3 ]]; then
		PYTHON=/usr/bin/python3
	else
		PYTHON=$(command -v python3 || true)
	fi
fi

# what an ASan/UBSan report looks like (tests/lib/runner.sh looks for it in every test's log too)
WH_SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

ns_host="wh-test-$$"
wh_tmp=""
wh_pids=()
wh_namespaces=()
wh_daemons=()
declare -A wh_daemon_pid=() # pid of each daemon by name, for the tests (15-sigterm)
export wh_daemon_pid
last_pid=""

if [[ -t 2 ]]; then
	_wh_c1=$'\e[1;36m' _wh_c0=$'\e[0m'
else
	_wh_c1="" _wh_c0=""
fi

# pretty WHERE TEXT: show a command and where it runs, on fd 3 (the script's stderr, set up by
# wh_setup), so that neither $(...) nor a 2>file around a wrapper captures it
pretty() {
	printf '%s[%s]%s %s\n' "$_wh_c1" "$1" "$_wh_c0" "$2" >&3
}
exec 3>&2

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# info TEXT: a progress note
info() {
	printf '%s---%s %s\n' "$_wh_c1" "$_wh_c0" "$*" >&2
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	if [[ "$2" != "$3" ]]; then
		fail "$1: expected '$2', got '$3'"
	fi
	echo "ok: $1 = '$3'" >&2
}

# assert_match WHAT REGEX TEXT (extended regex, grep -E)
assert_match() {
	if ! grep -Eq -- "$2" <<<"$3"; then
		fail "$1: /$2/ does not match: $3"
	fi
	echo "ok: $1 matches /$2/" >&2
}

# assert_files_equal WHAT A B: byte-identical (sha256 and size shown)
assert_files_equal() {
	local a b
	a=$(sha256sum <"$2" | cut -d' ' -f1)
	b=$(sha256sum <"$3" | cut -d' ' -f1)
	if [[ "$a" != "$b" ]]; then
		fail "$1: sha256 differ ($(stat -c %s "$2") bytes $a vs $(stat -c %s "$3") bytes $b)"
	fi
	echo "ok: $1 ($(stat -c %s "$3") bytes, sha256 $a)" >&2
}

# wh_setup: check prerequisites, create the host namespace and temp dir, install the trap
wh_setup() {
	[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
	command -v ip >/dev/null || skip "ip (iproute2) missing"
	command -v ss >/dev/null || skip "ss (iproute2) missing"
	command -v socat >/dev/null || skip "socat missing"
	command -v timeout >/dev/null || skip "timeout (coreutils) missing"
	[[ -n "$PYTHON" ]] || skip "python3 missing"
	[[ -x "$WORMHOLED" ]] || fail "wormholed not found at '$WORMHOLED' (build first, or set WORMHOLED)"
	[[ -x "$WORMHOLE" ]] || fail "wormhole CLI not found at '$WORMHOLE' (build first, or set WORMHOLE)"
	wh_tmp=$(mktemp -d "/tmp/wh-test-$$.XXXXXX")
	trap wh_cleanup EXIT
	ns_add "$ns_host"
}

# ns_add NAME: create a namespace (removed by wh_cleanup) with loopback up
ns_add() {
	pretty "setup" "ip netns add $1"
	ip netns add "$1"
	wh_namespaces+=("$1")
	ip -n "$1" link set lo up
}

# in_ns NS CMD...: run CMD inside NS
in_ns() {
	local ns=$1
	shift
	pretty "$ns" "$*"
	ip netns exec "$ns" "$@"
}

# nh CMD...: run CMD in the test's host namespace
nh() {
	pretty "host" "$*"
	ip netns exec "$ns_host" "$@"
}

# bg_in NS CMD...: start CMD inside NS in the background; its pid is recorded and left in $last_pid
bg_in() {
	local ns=$1
	shift
	pretty "$ns" "$* &"
	ip netns exec "$ns" "$@" &
	last_pid=$!
	wh_pids+=("$last_pid")
}

# alive PID: whether PID runs (an exited child not yet reaped, a zombie, counts as gone)
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

# stop_pid PID: SIGTERM one process we started, then reap it (bounded), SIGKILL if it lingers
stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 40; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

wh_cleanup() {
	local rc=$? pid ns name i n
	set +e
	trap - EXIT
	for ((i = ${#wh_pids[@]} - 1; i >= 0; i--)); do
		kill "${wh_pids[i]}" 2>/dev/null
	done
	for pid in "${wh_pids[@]}"; do
		# a daemon gets 10 s: an ASan build checks for leaks at exit
		n=40
		[[ " ${wh_daemon_pid[*]:-} " == *" $pid "* ]] && n=200
		for ((i = 0; i < n; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${wh_namespaces[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	# a sanitizer report in any daemon's log fails the test (the functional-asan CI step)
	for name in "${wh_daemons[@]}"; do
		if grep -Eq "$WH_SANITIZER_RE" "$wh_tmp/$name.log" 2>/dev/null; then
			echo "FAIL: a sanitizer report in the log of wormholed '$name'" >&2
			[[ $rc -eq 0 || $rc -eq 77 ]] && rc=1
		fi
	done
	if [[ $rc -ne 0 && $rc -ne 77 ]]; then
		for name in "${wh_daemons[@]}"; do
			echo "======== wormholed '$name' log ($wh_tmp/$name.log) ========" >&2
			cat "$wh_tmp/$name.log" >&2 2>/dev/null
			echo "======== end of log ========" >&2
		done
	fi
	[[ -n "$wh_tmp" ]] && rm -rf "$wh_tmp"
	exit $rc
}

# wh_sock NAME: control socket path of daemon NAME
wh_sock() {
	echo "$wh_tmp/$1.sock"
}

# wh_log NAME: log file of daemon NAME
wh_log() {
	echo "$wh_tmp/$1.log"
}

# wh_start_daemon NAME [ARGS...]: start wormholed NAME in the host namespace, wait for `ping`.
# Logs (stdout and stderr) go to $(wh_log NAME). WH_VERBOSE=1 adds -v. WH_DAEMON_PREFIX: words put
# before the binary (e.g. "prlimit --nofile=1024:1024").
wh_start_daemon() {
	local name=$1 sock log pid i
	shift
	sock=$(wh_sock "$name")
	log=$(wh_log "$name")
	# each daemon its own state directory (identity, lock, state file) and no chain files
	local args=(-H "unix://$sock" --state "$wh_tmp/state-$name" --chains "$wh_tmp/chains-$name")
	[[ ${WH_VERBOSE:-0} == 1 ]] && args+=(-v)
	args+=("$@")
	local prefix=()
	read -r -a prefix <<<"${WH_DAEMON_PREFIX:-}"
	pretty "host" "${prefix[*]}${prefix[*]:+ }wormholed ${args[*]} 2>$log &"
	ip netns exec "$ns_host" "${prefix[@]}" "$WORMHOLED" "${args[@]}" >"$log" 2>&1 &
	pid=$!
	wh_pids+=("$pid")
	wh_daemons+=("$name")
	wh_daemon_pid[$name]=$pid
	for ((i = 0; i < 200; i++)); do
		if "$WORMHOLE" -H "unix://$sock" ping >/dev/null 2>&1; then
			return 0
		fi
		alive "$pid" || fail "wormholed '$name' exited during startup"
		sleep 0.05
	done
	fail "wormholed '$name' did not answer ping within 10 s"
}

# whd NAME ARGS...: the CLI against daemon NAME
whd() {
	local name=$1
	shift
	pretty "cli" "wormhole -H unix://$(wh_sock "$name") $*"
	"$WORMHOLE" -H "unix://$(wh_sock "$name")" "$@"
}

# wh ARGS...: the CLI against the daemon named "main"
wh() {
	whd main "$@"
}

# wh_create ARGS...: `wormhole create ARGS`, checks exit 0; prints the create line on stdout
wh_create() {
	local out
	out=$(wh create "$@") || fail "create $* failed (exit $?)"
	echo "create -> $out" >&2
	echo "$out"
}

# wh_json_get ID FIELD: field of segment ID in `list --json` (null as "null", bools as true/false)
wh_json_get() {
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json | "$PYTHON" "$WH_NET" json-get "$1" "$2"
}

# wait_for WHAT TENTHS CMD...: poll CMD (quietly) every 0.05 s for TENTHS/10 seconds
wait_for() {
	local what=$1 tenths=$2 i
	shift 2
	for ((i = 0; i < tenths * 2; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	fail "timed out after $((tenths / 10)).$((tenths % 10)) s waiting for: $what"
}

_tcp_listening() {
	[[ -n $(ip netns exec "$1" ss -Htln "sport = :$2") ]]
}
_udp_bound() {
	[[ -n $(ip netns exec "$1" ss -Huln "sport = :$2") ]]
}
_unix_listening() {
	ip netns exec "$1" ss -Hxl | awk '{print $5}' | grep -qxF -- "$2"
}

# wait_tcp_listen NS PORT / wait_udp_bound NS PORT / wait_unix_listen NS PATH (5 s bound)
wait_tcp_listen() {
	wait_for "tcp listener on :$2 in $1" 50 _tcp_listening "$1" "$2"
}
wait_udp_bound() {
	wait_for "udp socket on :$2 in $1" 50 _udp_bound "$1" "$2"
}
wait_unix_listen() {
	wait_for "unix listener $2 in $1" 50 _unix_listening "$1" "$2"
}

# tcp_listening NS PORT: whether anything listens on TCP PORT in NS (for assertions)
tcp_listening() {
	_tcp_listening "$@"
}

# start_tcp_echo NS PORT [BIND]: socat echo server (one `cat` per connection), waits until listening
start_tcp_echo() {
	local ns=$1 port=$2 bind=${3:-127.0.0.1}
	if [[ $bind == *:* ]]; then
		bg_in "$ns" socat -t 10 "TCP6-LISTEN:$port,bind=[$bind],reuseaddr,fork" EXEC:cat
	else
		bg_in "$ns" socat -t 10 "TCP4-LISTEN:$port,bind=$bind,reuseaddr,fork" EXEC:cat
	fi
	wait_tcp_listen "$ns" "$port"
}

# tcp_echo_check NS ADDR:PORT WHAT: send 1 line through, expect it back exactly
tcp_echo_check() {
	local ns=$1 target=$2 what=$3 line got
	line="echo-$what-$$-$RANDOM"
	got=$(printf '%s\n' "$line" | in_ns "$ns" timeout 10 socat -t 5 - "TCP:$target") || true
	assert_eq "$what" "$line" "$got"
}

_json_is() {
	[[ $(wh_json_get "$1" "$2" 2>/dev/null) == "$3" ]]
}

# wait_json ID FIELD VALUE [TENTHS]: poll `list --json` until segment ID's FIELD is VALUE (5 s)
wait_json() {
	wait_for "segment '$1' $2 = $3" "${4:-50}" _json_is "$1" "$2" "$3"
}

_all_idle() {
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json |
		"$PYTHON" -c 'import json, sys; sys.exit(any(s["conns_active"] for s in json.load(sys.stdin)["segments"]))'
}

# wait_all_idle: poll until no segment of the main daemon has an active connection (5 s)
wait_all_idle() {
	wait_for "conns_active = 0 on every segment" 50 _all_idle
}
