#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/vm/run.sh - the tunnel tests on a kernel with ESP: boot Debian's kernel under qemu
#
# This machine's kernel has xfrm but no ESP, so the data path of lib/tunnel is tested in a VM:
#
#   host: apt-get download linux-image-<ver>-amd64 (exactly one .deb, the one linux-image-amd64
#         depends on), dpkg -x, depmod -b; an initramfs of static busybox, iproute2's ip,
#         tcpdump, the needed modules (kernel/{crypto,lib,net/ipv4,net/ipv6,net/xfrm,net/key,
#         arch/x86/crypto}, veth, modules.*) and the project's binaries with their shared
#         libraries (ldd); qemu-system-x86_64 -accel tcg -cpu max, console on ttyS0
#   VM:   tests/vm/guest-init.sh as /init: two namespaces joined by veth, tunnels made with
#         lib/tunnel, real traffic through ESP and ESP-in-UDP, captures, a rekey mid-transfer,
#         delete, rediscovery; result lines "WH-RESULT name PASS|FAIL detail" on the console
#
# The kernel and the static part of the initramfs are cached in $WH_VM_CACHE (default
# /var/tmp/wormhole-vm), so later runs neither download nor rebuild them; the project's part is
# packed fresh each run and appended (the kernel unpacks concatenated cpio archives).
#
# Usage: tests/vm/run.sh [BUILD_DIR]   (default: build; needs tests/tools/wh-tunnel built there)
# Exit: 0 all passed, 1 a check failed or the VM did not finish, 77 a requirement is missing.
set -euo pipefail

self=$(realpath "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cache=${WH_VM_CACHE:-/var/tmp/wormhole-vm}
timeout_s=${WH_VM_TIMEOUT:-420}

skip() {
	echo "SKIP: $*"
	exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (depmod, dpkg -x ownership, apt-get download)"
for t in qemu-system-x86_64 cpio depmod dpkg apt-get gzip ldd; do
	command -v "$t" >/dev/null || skip "$t is missing (scripts/deps.sh installs qemu-system-x86 cpio kmod)"
done
[[ -x /bin/busybox && $(/bin/busybox --list) == *modprobe* ]] || skip "static busybox missing (busybox-static)"
command -v tcpdump >/dev/null || skip "tcpdump is missing"
[[ -x $build/tests/tools/wh-tunnel ]] || skip "$build/tests/tools/wh-tunnel not built"

mkdir -p "$cache"
cd "$cache"

# 1. the kernel: exactly one linux-image .deb, the one linux-image-amd64 depends on
deb=$(ls linux-image-*-amd64_*.deb 2>/dev/null | head -1 || true)
if [[ -z $deb ]]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
	if [[ -z $pkg ]]; then
		apt-get update -q >/dev/null 2>&1 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
	fi
	[[ -n $pkg ]] || skip "cannot resolve linux-image-amd64 (no package lists)"
	echo "vm: downloading $pkg"
	apt-get download "$pkg" 2>&1 | grep -v unsandboxed || true
	deb=$(ls linux-image-*-amd64_*.deb 2>/dev/null | head -1 || true)
	[[ -n $deb ]] || skip "apt-get download $pkg failed"
fi
kdir=$cache/${deb%.deb}
if [[ ! -f $kdir/.done ]]; then
	rm -rf "$kdir"
	dpkg -x "$deb" "$kdir"
	touch "$kdir/.done"
fi
kver=$(ls "$kdir/lib/modules" | head -1)
vmlinuz=$kdir/boot/vmlinuz-$kver

# 2. the static part of the initramfs: busybox, ip, tcpdump, modules (cached; rebuilt when
# this script changes)
stamp=$(cat "$self" /bin/busybox /bin/ip "$(command -v tcpdump)" | md5sum | cut -c1-12)
base=$cache/base-$kver-$stamp.cpio.gz

copy_with_libs() { # ROOT FILE...: the files and their shared libraries, at the same paths
	local root=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
		for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
			[[ -e $root$lib ]] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
}

if [[ ! -f $base ]]; then
	echo "vm: building $base"
	rm -f "$cache"/base-*.cpio.gz
	st=$(mktemp -d "$cache/stage.XXXXXX")
	mkdir -p "$st"/{bin,sbin,etc,proc,sys,dev,run,tmp,lib/modules/$kver/kernel/drivers/net}
	cp /bin/busybox "$st/bin/busybox"
	for a in $(/bin/busybox --list); do
		[[ -e $st/bin/$a ]] || ln -s busybox "$st/bin/$a"
	done
	ln -sf ../bin/busybox "$st/sbin/modprobe"
	rm -f "$st/bin/ip" "$st/bin/tcpdump"
	copy_with_libs "$st" /bin/ip "$(command -v tcpdump)"
	mv "$st$(command -v tcpdump)" "$st/bin/tcpdump" 2>/dev/null || true
	echo 'root:x:0:0:root:/:/bin/sh' >"$st/etc/passwd"
	echo 'root:x:0:' >"$st/etc/group"
	m=$kdir/lib/modules/$kver
	for d in crypto lib net/ipv4 net/ipv6 net/xfrm net/key arch/x86/crypto; do
		mkdir -p "$st/lib/modules/$kver/kernel/$(dirname $d)"
		cp -a "$m/kernel/$d" "$st/lib/modules/$kver/kernel/$d"
	done
	cp "$m/kernel/drivers/net/veth.ko" "$st/lib/modules/$kver/kernel/drivers/net/"
	cp "$m"/modules.{order,builtin,builtin.modinfo} "$st/lib/modules/$kver/"
	depmod -b "$st" "$kver"
	(cd "$st" && find . | cpio -o -H newc --quiet | gzip -1) >"$base.tmp"
	mv "$base.tmp" "$base"
	rm -rf "$st"
fi

# 3. the project's part: fresh each run
st=$(mktemp -d /tmp/wh-vm-stage.XXXXXX)
log=$(mktemp /tmp/wh-vm-console.XXXXXX)
initrd=$st.initrd
trap 'rm -rf "$st" "$initrd"' EXIT
bins=("$build/tests/tools/wh-tunnel")
for b in tests/unit/test-tunnel wormholed/wormholed wormhole-cli/wormhole; do
	[[ -x $build/$b ]] && bins+=("$build/$b")
done
copy_with_libs "$st" "${bins[@]}"
mkdir -p "$st/bin"
for b in "${bins[@]}"; do
	mv "$st$b" "$st/bin/$(basename "$b")"
done
top=$(echo "$build" | cut -d/ -f2) # the build tree's copy, now empty: drop it unless shared
case $top in lib | lib64 | usr | bin | sbin | etc) ;; *) rm -rf "${st:?}/$top" ;; esac
cp "$repo/tests/vm/guest-init.sh" "$st/init"
chmod 0755 "$st/init"
(cd "$st" && find . | cpio -o -H newc --quiet | gzip -1) >"$st.project.cpio.gz"
cat "$base" "$st.project.cpio.gz" >"$initrd"
rm -f "$st.project.cpio.gz"

# 4. boot; the console is the result channel
echo "vm: booting $kver (log: $log)"
t0=$(date +%s)
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 768 -smp 2 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3" \
	</dev/null >"$log" 2>&1 || rc=$?
tr -d '\r' <"$log" | grep -E '^WH-(RESULT|INFO|DONE)' || true
echo "vm: qemu exited $rc after $(($(date +%s) - t0))s"
if ! tr -d '\r' <"$log" | grep -q '^WH-DONE'; then
	echo "vm: FAIL: the VM did not finish; last console lines:"
	tail -n 30 "$log"
	exit 1
fi
npass=$(tr -d '\r' <"$log" | grep -c '^WH-RESULT [^ ]* PASS' || true)
nfail=$(tr -d '\r' <"$log" | grep -c '^WH-RESULT [^ ]* FAIL' || true)
echo "vm: $npass passed, $nfail failed"
[[ $nfail -eq 0 && $npass -gt 0 ]]
