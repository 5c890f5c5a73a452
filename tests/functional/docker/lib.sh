# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/functional/docker/lib.sh - shared helpers for the Docker functional tests (docker/NN-*.sh)
#
# Builds on tests/lib/netns.sh: each test has its own namespace "wh-test-$$" ("host"), where its own
# wormholed runs with its own control socket and state directory in the test's temp dir, so that
# the daemon's orphan cleanup (label wormhole.daemon=<daemon id>, the id in its state directory)
# only ever sees this test's containers. dk_setup
# additionally starts or reuses the real Docker engine (tests/lib/dockerd.sh; DOCKER_HOST is
# exported, so the daemons inherit it), builds the test image (tests/lib/images.sh, a no-op when
# it is current), and replaces the EXIT trap with dk_cleanup, which force-removes every container
# the test made itself and every container labelled with one of its daemons' ids, then runs
# wh_cleanup (kill the test's pids, delete its namespaces, print daemon logs on failure). A
# private engine that this test started is stopped again; run.sh starts one for the whole run.
#
# Containers always run with --network none and --init; traffic stays in loopback and in the
# containers' own namespaces. A container's namespace is entered from the host side with
# `nsenter -t <State.Pid> -n` (to check listeners with ss); clients inside a container run with
# `docker exec -i C wh-echo --connect 127.0.0.1:PORT` (tests/tools/wh-echo.c, in the image).
#
#   dk CMD...                  docker CMD, echoed as [docker]
#   dk_run NAME [OPTS.. --] CMD  docker run -d --network none --init --name NAME OPTS IMAGE CMD
#   dk_pid C / dk_id C         State.Pid / full id
#   dk_wait_listen C PORT      bounded poll until a TCP listener on PORT exists inside C
#   dk_labelled KEY=VALUE...   ids of containers (any state) carrying these labels
#   dk_mine [SEGMENT]          ids of containers labelled for the main daemon [and SEGMENT]
#   dk_exec_echo C PORT WHAT   one line through `wh-echo --connect 127.0.0.1:PORT` inside C

# shellcheck source=../../lib/netns.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/netns.sh"
# shellcheck source=../../lib/dockerd.sh
source "$WH_REPO/tests/lib/dockerd.sh"
# shellcheck source=../../lib/images.sh
source "$WH_REPO/tests/lib/images.sh"

IMG=$wh_image_busybox
dk_names=()  # containers this test made itself (names or ids), removed by dk_cleanup
dk_images=() # image tags this test made, removed by dk_cleanup after the containers

dk_setup() {
	wh_setup
	trap dk_cleanup EXIT
	command -v docker >/dev/null || skip "docker CLI missing"
	command -v nsenter >/dev/null || skip "nsenter (util-linux) missing"
	command -v curl >/dev/null || skip "curl missing (dockerd.sh pings the engine with it)"
	dockerd_start || skip "no Docker engine (tests/lib/dockerd.sh could not start one)"
	info "Docker engine: $DOCKER_HOST"
	images_build || fail "cannot build the test image $IMG (tests/lib/images.sh)"
}

dk_cleanup() {
	local rc=$? n name cids=()
	set +e
	trap - EXIT
	if [[ $rc -ne 0 && $rc -ne 77 ]] && [[ -n ${DOCKER_HOST:-} ]]; then
		echo "======== containers at failure ========" >&2
		docker ps -a --format '{{.ID}} {{.Names}} {{.Status}} {{.Labels}}' >&2
	fi
	for name in "${dk_names[@]}"; do
		docker rm -f "$name" >/dev/null 2>&1
	done
	for n in "${wh_daemons[@]}"; do
		mapfile -t cids < <(docker ps -aq --filter "label=wormhole.daemon=$(dk_daemon_id "$n")" 2>/dev/null)
		[[ ${#cids[@]} -gt 0 ]] && docker rm -f "${cids[@]}" >/dev/null 2>&1
	done
	for name in "${dk_images[@]}"; do
		docker rmi "$name" >/dev/null 2>&1
	done
	dockerd_stop
	(exit $rc)
	wh_cleanup
}

# dk CMD...: docker, echoed
dk() {
	pretty "docker" "docker $*"
	docker "$@"
}

# dk_run NAME [DOCKER-OPTIONS... --] CMD...: a detached test container (removed at exit)
dk_run() {
	local name=$1 opts=() i
	shift
	for ((i = 1; i <= $#; i++)); do
		if [[ ${!i} == -- ]]; then
			opts=("${@:1:i-1}")
			shift "$i"
			break
		fi
	done
	dk_names+=("$name")
	dk run -d --network none --init --name "$name" "${opts[@]}" "$IMG" "$@" >/dev/null ||
		fail "docker run $name failed"
}

dk_pid() {
	docker inspect -f '{{.State.Pid}}' "$1"
}

dk_id() {
	docker inspect -f '{{.Id}}' "$1"
}

_dk_listening() {
	local pid
	pid=$(dk_pid "$1") || return 1
	[[ $pid != 0 ]] || return 1
	[[ -n $(nsenter -t "$pid" -n ss -Htln "sport = :$2") ]]
}

# dk_listening C PORT: whether a TCP listener on PORT exists inside running container C
dk_listening() {
	_dk_listening "$@"
}

# dk_wait_listen C PORT [TENTHS]: poll (default 10 s) until C listens on PORT
dk_wait_listen() {
	wait_for "tcp listener on :$2 in container $1" "${3:-100}" _dk_listening "$1" "$2"
}

# dk_labelled KEY=VALUE...: full ids of the containers with all these labels, one a line (any
# state)
dk_labelled() {
	local f=() l
	for l in "$@"; do
		f+=(--filter "label=$l")
	done
	docker ps -aq --no-trunc "${f[@]}"
}

# dk_daemon_id NAME: the id daemon NAME labels its containers with (wormhole.daemon=ID), read from
# its state directory ("none" before it made one)
dk_daemon_id() {
	cat "$wh_tmp/state-$1/daemon-id" 2>/dev/null || echo none
}

# dk_mine [SEGMENT]: full ids of the containers labelled for the main daemon [and SEGMENT]
dk_mine() {
	dk_labelled "wormhole.daemon=$(dk_daemon_id main)" ${1:+"wormhole.segment=$1"}
}

_dk_none_mine() {
	[[ -z $(dk_mine "$@") ]]
}

# dk_wait_none_mine TENTHS [SEGMENT]: poll until no container is labelled for the main daemon
# [and SEGMENT]
dk_wait_none_mine() {
	wait_for "no container labelled for the main daemon${2:+ and segment $2}" "$1" _dk_none_mine ${2:+"$2"}
}

# dk_exec_echo C PORT WHAT: inside C, send one line to 127.0.0.1:PORT and expect it back
dk_exec_echo() {
	local line got
	line="echo-$3-$$-$RANDOM"
	pretty "$1" "wh-echo --connect 127.0.0.1:$2"
	got=$(printf '%s\n' "$line" | timeout 20 docker exec -i "$1" wh-echo --connect "127.0.0.1:$2") || true
	assert_eq "$3" "$line" "$got"
}

# wh_ids: the segment ids of the main daemon, sorted, space-separated
wh_ids() {
	"$WORMHOLE" -H "unix://$(wh_sock main)" list --json | "$PYTHON" "$WH_NET" json-ids | sort | tr '\n' ' '
}

# wh_fails WHAT CODE ERRFILE ARGS...: `wormhole ARGS` must exit CODE; its stderr goes to ERRFILE
wh_fails() {
	local what=$1 code=$2 errf=$3 rc=0
	shift 3
	wh "$@" >"$errf.out" 2>"$errf" || rc=$?
	echo "stderr: $(cat "$errf")" >&2
	assert_eq "$what: exit status" "$code" "$rc"
	[[ -s $errf.out ]] && fail "$what: printed on stdout: $(cat "$errf.out")"
	return 0
}

_dk_echo_ok() {
	local line="probe-$$-$RANDOM" got
	got=$(printf '%s\n' "$line" | ip netns exec "$1" timeout 5 socat -t 3 - "TCP:$2" 2>/dev/null) || true
	[[ $got == "$line" ]]
}

# wait_echo NS ADDR:PORT WHAT TENTHS: poll until one line sent from NS to ADDR:PORT comes back
wait_echo() {
	wait_for "$3" "$4" _dk_echo_ok "$1" "$2"
	echo "ok: $3" >&2
}

# dk_netns C: the inode of C's network namespace (changes when C restarts)
dk_netns() {
	stat -L -c %i "/proc/$(dk_pid "$1")/ns/net"
}

# ---- restarts on one state directory (21-adopt, 23-adopt-child): set state= and n_log=0 first

# stop_daemon SIG: stop the main daemon with SIG, wait (bounded), keep its log
stop_daemon() {
	local pid=${wh_daemon_pid[main]} i
	info "kill -$1 $pid"
	kill "-$1" "$pid"
	for ((i = 0; i < 400; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	alive "$pid" && fail "wormholed still running 20 s after SIG$1"
	wait "$pid" 2>/dev/null || true
	n_log=$((n_log + 1))
	cp "$(wh_log main)" "$wh_tmp/main.log.$n_log"
	if grep -Eq "$WH_SANITIZER_RE" "$wh_tmp/main.log.$n_log"; then
		cat "$wh_tmp/main.log.$n_log" >&2
		fail "a sanitizer report in the log of the daemon stopped with SIG$1"
	fi
}

# state_triggered ID: the state file says segment ID's trigger ran
state_triggered() { grep -q "\"id\":\"$1\",\"port\":[0-9]*,\"triggered\":true" "$state/segments.json"; }
# log_has TEXT: the running main daemon logged TEXT
log_has() { grep -q "$1" "$(wh_log main)"; }
