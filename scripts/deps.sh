#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/deps.sh - install what wormhole's build and tests need, on Debian 12
#
#   scripts/deps.sh            everything scripts/test.sh uses
#   scripts/deps.sh --build    only what building and scripts/run.sh need
#
# Installs only the packages that are missing (nothing at all when none is), runs `apt-get update`
# only when apt cannot find one of them otherwise, and never prompts. docker.io and
# docker-registry start services when they are installed: while installing, a temporary
# /usr/sbin/policy-rc.d forbids that, unless the machine already has one (which is then left
# alone); ours is removed again on exit. Without root, the script only lists what is missing.
set -euo pipefail

build_pkgs=(
	build-essential meson ninja-build pkg-config # compiler and build system
	libsystemd-dev libssl-dev libcurl4-openssl-dev libyajl-dev
	libnl-3-dev libnl-xfrm-3-dev libnl-route-3-dev
	libcmocka-dev # unit tests (meson option tests=auto)
	libnghttp2-dev # the peer links' HTTP/2 streams (lib/peer)
	libmicrohttpd-dev # wormholed --metrics (the HTTP side)
	busybox-static # scripts/run.sh: the demo backend (busybox httpd)
	curl           # scripts/run.sh prints a curl line; tests/lib/dockerd.sh pings with it
	systemd        # systemd.pc (unit directory), systemd-analyze, systemd-socket-activate
	scdoc          # man/*.scd -> the man pages
	bash-completion # bash-completion.pc: where completions/wormhole.bash is installed
)
test_pkgs=(
	socat iproute2 python3 procps util-linux # functional tests (tests/lib/netns.sh)
	valgrind cppcheck clang-tidy             # scripts/test.sh checks
	docker.io                                # test-docker, tests/functional/docker: a real engine
	docker-registry                          # test-docker's local-registry pull test
	stunnel4                                 # bench/remote.sh
	prometheus                               # tests/functional/docker/17-metrics: promtool, a scrape
	qemu-system-x86 cpio kmod tcpdump        # tests/vm: Debian's kernel with ESP under qemu
)

mode=all
case ${1:-} in
--build) mode=build ;;
"") ;;
*)
	echo "usage: $0 [--build]" >&2
	exit 2
	;;
esac

pkgs=("${build_pkgs[@]}")
[[ $mode == all ]] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
		missing+=("$p")
	fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps: all ${#pkgs[@]} packages installed"
	exit 0
fi
echo "deps: missing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: run as root to install them (as root: $0 ${1:-})" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
our_policy=""
cleanup() {
	if [[ -n $our_policy ]]; then
		rm -f "$our_policy"
	fi
}
trap cleanup EXIT
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	our_policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# scripts/deps.sh: no service starts while installing\nexit 101\n' >"$our_policy"
	chmod 0755 "$our_policy"
fi

# A bare machine may have no package lists yet: update only when a package has no candidate.
if ! apt-get install -s -qq "${missing[@]}" >/dev/null 2>&1; then
	echo "deps: apt-get update"
	apt-get update -q
fi
apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold "${missing[@]}"
echo "deps: installed ${missing[*]}"
