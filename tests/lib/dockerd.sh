#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# dockerd.sh - a real Docker engine for the tests, private if need be
#
# Docker tests run against a real engine (DESIGN §8). dockerd_start uses an engine that already
# answers /_ping ($DOCKER_HOST, then our private socket left by an earlier run, then
# /var/run/docker.sock); only if none does, it starts a private dockerd with its own data-root,
# exec-root, socket and pidfile, no bridge and no iptables, so it never touches the host's network
# or a system engine. dockerd_stop stops it again, by the pid in its pidfile, and only if this
# shell started it. Either way DOCKER_HOST is exported.
#
# As a library:  . tests/lib/dockerd.sh; dockerd_start || exit 77; ...; dockerd_stop
# As a command:  tests/lib/dockerd.sh start   (prints "DOCKER_HOST=unix://..."; leaves it running)
#                tests/lib/dockerd.sh stop    (stops the private engine, if it runs)
#                tests/lib/dockerd.sh status  (exit 0 when the private engine answers)
#
# Environment: WORMHOLE_DOCKERD_INSTALL=0 disables the apt-get install of docker.io when dockerd
# is missing; WORMHOLE_DOCKERD_TIMEOUT (seconds, default 60) bounds the wait for /_ping.
# WORMHOLE_DOCKERD_SOCK, _DATA, _EXEC, _PIDFILE and _LOG move the private engine's socket,
# data-root, exec-root, pidfile and log (default /run/wormhole-test-docker.sock, ...), so that
# several checkouts on one machine can each run their own engine; test-docker reads
# WORMHOLE_DOCKERD_SOCK too.

wh_dockerd_sock=${WORMHOLE_DOCKERD_SOCK:-/run/wormhole-test-docker.sock}
wh_dockerd_data=${WORMHOLE_DOCKERD_DATA:-/var/lib/wormhole-test-docker}
wh_dockerd_exec=${WORMHOLE_DOCKERD_EXEC:-/run/wormhole-test-docker}
wh_dockerd_pidfile=${WORMHOLE_DOCKERD_PIDFILE:-/run/wormhole-test-docker.pid}
wh_dockerd_log=${WORMHOLE_DOCKERD_LOG:-/var/log/wormhole-test-docker.log}
wh_dockerd_started=""

# dockerd_ping SOCKET: whether an engine answers on the unix socket
dockerd_ping() {
	[ -S "$1" ] || return 1
	[ "$(curl -s --max-time 5 --unix-socket "$1" http://localhost/_ping 2>/dev/null)" = OK ]
}

# dockerd_host_socket: the socket path named by $DOCKER_HOST (unix:// only), or fails
dockerd_host_socket() {
	case "${DOCKER_HOST:-}" in
	unix://*) printf '%s\n' "${DOCKER_HOST#unix://}" ;;
	*) return 1 ;;
	esac
}

dockerd_start() {
	local s t timeout=${WORMHOLE_DOCKERD_TIMEOUT:-60}

	if s=$(dockerd_host_socket) && dockerd_ping "$s"; then
		return 0
	fi
	for s in "$wh_dockerd_sock" /var/run/docker.sock; do
		if dockerd_ping "$s"; then
			export DOCKER_HOST="unix://$s"
			return 0
		fi
	done
	if ! command -v dockerd >/dev/null; then
		if [ "${WORMHOLE_DOCKERD_INSTALL:-1}" = 1 ] && [ "$(id -u)" = 0 ]; then
			echo "dockerd.sh: installing docker.io" >&2
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >&2 || return 1
		fi
		command -v dockerd >/dev/null || {
			echo "dockerd.sh: no dockerd" >&2
			return 1
		}
	fi
	[ "$(id -u)" = 0 ] || {
		echo "dockerd.sh: starting dockerd needs root" >&2
		return 1
	}
	# A pidfile without a live engine is left over from a killed run: dockerd refuses to start
	# while the pid in it lives, so check that pid is really our dockerd before giving up.
	if [ -f "$wh_dockerd_pidfile" ]; then
		local old
		old=$(cat "$wh_dockerd_pidfile")
		if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
			echo "dockerd.sh: dockerd pid $old owns $wh_dockerd_pidfile but does not answer" >&2
			return 1
		fi
		rm -f "$wh_dockerd_pidfile"
	fi
	mkdir -p "$wh_dockerd_data" "$wh_dockerd_exec" "$(dirname "$wh_dockerd_log")"
	# setsid: the engine must not get the test's terminal signals; stopping is by pid only.
	setsid dockerd \
		--data-root "$wh_dockerd_data" \
		--exec-root "$wh_dockerd_exec" \
		-H "unix://$wh_dockerd_sock" \
		--pidfile "$wh_dockerd_pidfile" \
		--bridge=none --iptables=false --ip6tables=false --ip-masq=false \
		--userland-proxy=false \
		>>"$wh_dockerd_log" 2>&1 </dev/null &
	wh_dockerd_started=$!
	for ((t = 0; t < timeout * 10; t++)); do
		if dockerd_ping "$wh_dockerd_sock"; then
			export DOCKER_HOST="unix://$wh_dockerd_sock"
			return 0
		fi
		if ! kill -0 "$wh_dockerd_started" 2>/dev/null; then
			echo "dockerd.sh: dockerd exited; last lines of $wh_dockerd_log:" >&2
			tail -n 20 "$wh_dockerd_log" >&2
			wh_dockerd_started=""
			return 1
		fi
		sleep 0.1
	done
	echo "dockerd.sh: dockerd did not answer /_ping within ${timeout}s (log: $wh_dockerd_log)" >&2
	dockerd_stop
	return 1
}

# dockerd_stop_pid PID: SIGTERM, wait up to 30 s, then SIGKILL
dockerd_stop_pid() {
	local pid=$1 t
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((t = 0; t < 300; t++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "dockerd.sh: dockerd $pid ignored SIGTERM, killing it" >&2
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# dockerd_stop: stop the private engine if this shell started it (library use)
dockerd_stop() {
	[ -n "$wh_dockerd_started" ] || return 0
	dockerd_stop_pid "$wh_dockerd_started"
	wh_dockerd_started=""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	start)
		dockerd_start || exit 1
		# Leave it running: the caller stops it with "stop".
		wh_dockerd_started=""
		echo "DOCKER_HOST=$DOCKER_HOST"
		;;
	stop)
		[ -f "$wh_dockerd_pidfile" ] || exit 0
		dockerd_stop_pid "$(cat "$wh_dockerd_pidfile")"
		;;
	status)
		dockerd_ping "$wh_dockerd_sock"
		;;
	*)
		echo "usage: $0 start|stop|status" >&2
		exit 2
		;;
	esac
fi
