#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# images.sh - local test images, built without any registry
#
# No registry is reachable from the test machines, so the test images are made here:
# wormhole-test/busybox:latest is a FROM-scratch image holding only the static busybox from
# Debian's busybox-static and symlinks for the applets the tests use (sh, nc, httpd, cat, sleep,
# ...). Its default command is sh. An echo server is simply
#   /bin/nc -ll -p 3306 -e /bin/cat
# (-ll keeps listening after each client). The image is imported from a tar of the root file
# system (`docker import`, the same as FROM scratch + COPY), so neither BuildKit nor the legacy
# builder is needed. Needs DOCKER_HOST (tests/lib/dockerd.sh) and the docker CLI.
#
# As a library:  . tests/lib/images.sh; images_build
# As a command:  tests/lib/images.sh        (builds whatever is missing; -f rebuilds)

wh_image_busybox=wormhole-test/busybox:latest
wh_busybox_applets="sh ash nc httpd cat sleep echo ls ps kill true false env id hostname ip ifconfig
netstat printf wc head tail tr sed grep date touch mkdir rm"

# images_build [-f]: build the test images that are missing (-f: rebuild)
images_build() {
	local force=0 busybox tmp a
	[ "${1:-}" = -f ] && force=1
	if [ $force = 0 ] && docker image inspect "$wh_image_busybox" >/dev/null 2>&1; then
		return 0
	fi
	busybox=$(command -v busybox || true)
	# A dynamically linked busybox would need its libraries in the image: insist on the static one.
	for b in /bin/busybox /usr/bin/busybox "$busybox"; do
		if [ -x "$b" ] && ! LC_ALL=C ldd "$b" >/dev/null 2>&1; then
			busybox=$b
			break
		fi
		busybox=""
	done
	if [ -z "$busybox" ]; then
		if [ "$(id -u)" = 0 ]; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >&2 || return 1
			busybox=/bin/busybox
		else
			echo "images.sh: no static busybox (apt-get install busybox-static)" >&2
			return 1
		fi
	fi
	tmp=$(mktemp -d) || return 1
	mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/www" "$tmp/etc" "$tmp/proc" "$tmp/sys" "$tmp/dev"
	cp "$busybox" "$tmp/bin/busybox"
	for a in $wh_busybox_applets; do
		ln -s busybox "$tmp/bin/$a"
	done
	echo "root:x:0:0:root:/:/bin/sh" >"$tmp/etc/passwd"
	echo "root:x:0:" >"$tmp/etc/group"
	echo "wormhole test page" >"$tmp/www/index.html"
	chmod 1777 "$tmp/tmp"
	tar -C "$tmp" --numeric-owner -c . |
		docker import --change 'CMD ["/bin/sh"]' - "$wh_image_busybox" >/dev/null
	local r=$?
	rm -rf "$tmp"
	return $r
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	images_build "$@"
fi
