#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/run.sh - build wormhole and try it, as root: scripts/run.sh
#
# Installs the build dependencies if missing (scripts/deps.sh --build), builds a release build in
# build-run/, then starts, on this machine's loopback only:
#   - a demo backend: busybox httpd serving one page on 127.0.0.1:18080
#   - wormholed in the foreground (its log on this terminal), control socket
#     /run/wormhole/wormholed.sock
#   - a demo segment: `wormhole create id demo url :8080 tail url :18080`, so that
#     curl http://127.0.0.1:8080/ reaches the backend through wormhole
# Ctrl-C (or SIGTERM to this script) stops the daemon, which deletes its segments, and the
# backend, each by its pid.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build-run
sock=/run/wormhole/wormholed.sock
front=8080
back=18080

if [[ $(id -u) -ne 0 ]]; then
	echo "run.sh: wormholed runs as root (it enters network namespaces): run $0 as root" >&2
	exit 2
fi

bash "$repo/scripts/deps.sh" --build
if [[ -f $build/meson-private/coredata.dat ]]; then
	meson setup --reconfigure "$build" "$repo" --buildtype=release -Dtests=disabled >/dev/null
else
	meson setup "$build" "$repo" --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C "$build"
wormholed=$build/wormholed/wormholed
wormhole=$build/wormhole-cli/wormhole

wh() {
	"$wormhole" -H "unix://$sock" "$@"
}

if wh ping >/dev/null 2>&1; then
	echo "run.sh: a wormholed already answers on $sock; stop it first" >&2
	exit 1
fi
for p in $front $back; do
	if [[ -n $(ss -Htln "sport = :$p") ]]; then
		echo "run.sh: port $p is in use: $(ss -Htlnp "sport = :$p" | head -1)" >&2
		exit 1
	fi
done

web=$(mktemp -d /tmp/wormhole-demo.XXXXXX)
backend_pid="" daemon_pid=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $daemon_pid ]]; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	if [[ -n $backend_pid ]]; then
		kill -TERM "$backend_pid" 2>/dev/null || true
		wait "$backend_pid" 2>/dev/null || true
	fi
	rm -rf "$web"
	echo "run.sh: stopped wormholed and the demo backend" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

printf 'hello from the demo backend\n' >"$web/index.html"
busybox httpd -f -p "127.0.0.1:$back" -h "$web" &
backend_pid=$!

"$wormholed" -H "unix://$sock" &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
	wh ping >/dev/null 2>&1 && break
	kill -0 "$daemon_pid" 2>/dev/null || {
		daemon_pid=""
		echo "run.sh: wormholed exited during startup" >&2
		exit 1
	}
	sleep 0.1
done
wh ping >/dev/null || {
	echo "run.sh: wormholed did not answer within 10 s" >&2
	exit 1
}
for ((i = 0; i < 50; i++)); do
	[[ -n $(ss -Htln "sport = :$back") ]] && break
	sleep 0.1
done
wh create id demo url ":$front" tail url ":$back" >/dev/null

cat <<EOF

wormhole is running (wormholed pid $daemon_pid, demo backend pid $backend_pid).
Segment 'demo': 127.0.0.1:$front -> 127.0.0.1:$back (busybox httpd). Try, in another terminal:

    curl http://127.0.0.1:$front/
    $wormhole list
    $wormhole create url :9000 tail url :$back     # another segment
    $wormhole delete demo

README.md's examples use the bare names wormhole and wormholed; this build is not installed.
Put it on PATH for a shell:

    export PATH=$build/wormhole-cli:$build/wormholed:\$PATH

or install it (/usr/local/bin/wormhole, /usr/local/sbin/wormholed, the systemd units, man
pages and bash completion):

    meson install -C $build

Ctrl-C here stops everything.

EOF
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
echo "run.sh: wormholed exited with status $rc" >&2
exit "$rc"
