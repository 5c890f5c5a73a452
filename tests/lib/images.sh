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
# (-ll keeps listening after each client), but it serves one client at a time with a backlog of 2;
# for concurrent clients the image also holds /bin/wh-echo (tests/tools/wh-echo.c, built here with
# `cc -static -O2`): `wh-echo PORT` echoes every connection in its own process, `wh-echo --forward
# HOST:PORT PORT` relays to HOST:PORT, `wh-echo --connect HOST:PORT` is a client (stdin/stdout).
# The image is imported from a tar of the root file system (`docker import`, the same as FROM
# scratch + COPY), so neither BuildKit nor the legacy builder is needed. The image carries
# WH_TEST_IMAGE=<hash of this recipe> in its environment, so that an image made by an older
# recipe is rebuilt. Needs DOCKER_HOST (tests/lib/dockerd.sh), the docker CLI and a C compiler
# with a static libc.
#
# As a library:  . tests/lib/images.sh; images_build
# As a command:  tests/lib/images.sh        (builds whatever is missing; -f rebuilds)

wh_image_busybox=wormhole-test/busybox:latest
wh_images_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/tools/wh-echo.c
wh_busybox_applets="sh ash nc httpd cat sleep echo ls ps kill true false env id hostname ip ifconfig
netstat printf wc head tail tr sed grep date touch mkdir rm"

# images_recipe_hash: what the image is made from (this file and wh-echo.c)
images_recipe_hash() {
	cat "${BASH_SOURCE[0]}" "$wh_images_src" | sha256sum | cut -c1-16
}

# images_build [-f]: build the test images that are missing or outdated (-f: rebuild)
images_build() {
	local force=0 busybox tmp a hash cc
	[ "${1:-}" = -f ] && force=1
	hash=$(images_recipe_hash)
	if [ $force = 0 ] && docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' \
		"$wh_image_busybox" 2>/dev/null | grep -qx "WH_TEST_IMAGE=$hash"; then
		return 0
	fi
	cc=$(command -v cc || command -v gcc || true)
	if [ -z "$cc" ]; then
		echo "images.sh: no C compiler for wh-echo" >&2
		return 1
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
	if ! "$cc" -static -O2 -o "$tmp/bin/wh-echo" "$wh_images_src"; then
		echo "images.sh: cannot build wh-echo (a static libc is in libc6-dev)" >&2
		rm -rf "$tmp"
		return 1
	fi
	chmod 1777 "$tmp/tmp"
	tar -C "$tmp" --numeric-owner -c . |
		docker import --change 'CMD ["/bin/sh"]' --change "ENV WH_TEST_IMAGE=$hash" - \
			"$wh_image_busybox" >/dev/null
	local r=$?
	rm -rf "$tmp"
	return $r
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	images_build "$@"
fi
