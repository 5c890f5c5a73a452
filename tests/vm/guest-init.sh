#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# tests/vm/guest-init.sh - /init of the VM test's initramfs (tests/vm/run.sh builds and boots it)
#
# Runs as PID 1 under Debian's kernel, where ESP exists. Two hosts are network namespaces joined
# by a veth pair:
#
#   +---------------- ns A ----------------+        +---------------- ns B ----------------+
#   | lo: <A overlay>/32 (from 100.64/14)  |        | lo: <B overlay>/32                   |
#   | wh-va 198.18.0.1/24  =================ESP====== wh-vb 198.18.0.2/24                   |
#   +--------------------------------------+        +--------------------------------------+
#
# wh-tunnel (tests/tools/wh-tunnel.c) drives lib/tunnel in both namespaces, exactly the steps the
# two daemons run. Each check prints "WH-RESULT <name> PASS|FAIL <detail>" on the console
# (ttyS0), facts for the report print "WH-INFO ...", the end is "WH-DONE", then power off.
# iproute2 is called as /bin/ip: busybox sh prefers its own applets, whose ip has no netns/xfrm.
export PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /var
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ln -s /run /var/run
echo /sbin/modprobe >/proc/sys/kernel/modprobe
exec </dev/console >/dev/console 2>&1

IP=/bin/ip
TD=/bin/tcpdump
WT=/bin/wh-tunnel
fails=0
res() { # NAME PASS|FAIL DETAIL...
	echo "WH-RESULT $*"
	[ "$2" = PASS ] || fails=$((fails + 1))
}
check() { # NAME CONDITION-RESULT(0/1) DETAIL
	if [ "$2" -eq 0 ]; then res "$1" PASS "$3"; else res "$1" FAIL "$3"; fi
}
finish() {
	echo "WH-DONE fails=$fails"
	sync
	poweroff -f
	sleep 5
}

echo "WH-INFO kernel $(uname -r)"
modprobe -a xfrm_user esp4 gcm seqiv drbg veth
check modules $? "xfrm_user esp4 gcm seqiv drbg veth"

A=wh-a
B=wh-b
$IP netns add $A && $IP netns add $B &&
	$IP link add wh-va netns $A type veth peer name wh-vb netns $B &&
	$IP -n $A addr add 198.18.0.1/24 dev wh-va && $IP -n $B addr add 198.18.0.2/24 dev wh-vb &&
	$IP -n $A link set wh-va up && $IP -n $B link set wh-vb up &&
	$IP -n $A link set lo up && $IP -n $B link set lo up
check topology $? "two namespaces, veth 198.18.0.1 <-> 198.18.0.2"
[ $fails -eq 0 ] || finish

# the unit test again, on a kernel with ESP: the install completes, is found complete, removed
if [ -x /bin/test-tunnel ]; then
	/bin/test-tunnel >/tmp/unit.log 2>&1
	check unit-test-tunnel $? "$(grep -c '\[       OK \]' /tmp/unit.log) cmocka tests passed with ESP present"
	grep -B2 -A3 -i 'fail\|error' /tmp/unit.log | head -20 | sed 's/^/WH-INFO unit: /'

fi

# the payload: a marker line repeated (easy to find in a capture), then random bytes
MARK=WORMHOLE-PLAINTEXT-MARKER
{
	i=0
	while [ $i -lt 2000 ]; do echo "$MARK line $i"; i=$((i + 1)); done
	dd if=/dev/urandom bs=64k count=16 2>/dev/null
} >/tmp/payload
md5_in=$(md5sum </tmp/payload | cut -d' ' -f1)

# outbound only: on ingress, tunnel-mode ESP hands the decrypted inner packet back to the same
# device, so a capture there shows it a second time (that is the kernel, not a leak)
cap_start() { # NS FILE
	$IP netns exec "$1" $TD -Z root -i "$( [ "$1" = $A ] && echo wh-va || echo wh-vb)" -Q out -n -U -s 200 \
		-w "$2" >/tmp/tcpdump.log 2>&1 &
	cap_pid=$!
	i=0
	while ! grep -q listening /tmp/tcpdump.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
cap_stop() {
	sleep 0.5
	kill -INT $cap_pid
	wait $cap_pid 2>/dev/null
}
cap_count() { # FILE FILTER
	$TD -Z root -r "$1" -n "$2" 2>/tmp/tdr.log >/tmp/tdr.out
	[ $? -eq 0 ] || echo "WH-INFO tcpdump -r $1 '$2': $(cat /tmp/tdr.log)" >&2
	wc -l </tmp/tdr.out
}

# transfer FILE from ns A to ns B at IP:PORT (RATE bytes/s, 0 = unlimited); sets md5_out
transfer() { # IP PORT FILE RATE
	rm -f /tmp/recv
	$IP netns exec $B $WT recv "$1" "$2" /tmp/recv >/tmp/recv.log 2>&1 &
	rpid=$!
	i=0
	while ! grep -q LISTENING /tmp/recv.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	$IP netns exec $A $WT send "$1" "$2" "$3" "$4" >/tmp/send.log 2>&1
	wait $rpid
	md5_out=$(md5sum </tmp/recv | cut -d' ' -f1)
}

no_state() { # NS: no xfrm state, no policy, no overlay address left
	[ -z "$($IP -n "$1" xfrm state)" ] && [ -z "$($IP -n "$1" xfrm policy)" ] &&
		! $IP -n "$1" addr show dev lo | grep -q 'inet 100\.'
}

# The capture can see plaintext: the control sends the payload over the underlay unprotected.
cap_start $A /tmp/control.pcap
transfer 198.18.0.2 5009 /tmp/payload 0
cap_stop
n=$(grep -c "$MARK" /tmp/control.pcap)
[ "$n" -gt 0 ] && [ "$md5_out" = "$md5_in" ]
check capture-control $? "plain TCP shows the marker in the capture ($n hits)"
[ "$n" -gt 0 ] || echo "WH-INFO capture-control: $(wc -c </tmp/control.pcap) bytes; $(cat /tmp/tcpdump.log /tmp/send.log)"

# tunnel_case NAME WT-FLAGS WIRE-FILTER NOT-FILTER
tunnel_case() {
	name=$1 flags=$2 wire=$3 notwire=$4
	$WT run $A 198.18.0.1 $B 198.18.0.2 $flags </dev/null >/tmp/run.log 2>&1 &
	wpid=$!
	i=0
	while ! grep -q READY /tmp/run.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if ! grep -q READY /tmp/run.log; then
		res "$name-create" FAIL "$(cat /tmp/run.log)"
		kill $wpid 2>/dev/null
		return
	fi
	set -- $(grep READY /tmp/run.log)
	a_ov=$2 b_ov=$3
	res "$name-create" PASS "A=$a_ov B=$b_ov reqid=$4"
	nst=$($IP -n $A xfrm state | grep -c '^src')
	naead=$($IP -n $A xfrm state | grep -c 'aead rfc4106(gcm(aes)) 0x[0-9a-f]\{40\} 128')
	npol=$($IP -n $A xfrm policy | grep -c '^src')
	spis=$($IP -n $A xfrm state | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | sort -u | wc -l)
	[ "$nst" -eq 2 ] && [ "$naead" -eq 2 ] && [ "$npol" -eq 2 ] && [ "$spis" -eq 2 ]
	check "$name-kernel-objects" $? "A: $nst SAs ($naead rfc4106 160-bit key ICV 128, $spis SPIs), $npol policies"

	cap_start $A /tmp/$name.pcap
	transfer "$b_ov" 5001 /tmp/payload 0
	cap_stop
	[ "$md5_out" = "$md5_in" ]
	check "$name-transfer" $? "$(cat /tmp/send.log) md5 $md5_out"
	nwire=$(cap_count /tmp/$name.pcap "$wire")
	nnot=$(cap_count /tmp/$name.pcap "$notwire")
	nplain=$(cap_count /tmp/$name.pcap "tcp port 5001")
	nmark=$(grep -c "$MARK" /tmp/$name.pcap)
	[ "$nwire" -gt 0 ] && [ "$nnot" -eq 0 ] && [ "$nplain" -eq 0 ] && [ "$nmark" -eq 0 ]
	check "$name-on-the-wire" $? "capture: $nwire '$wire' packets, $nnot '$notwire', $nplain plain tcp/5001, marker $nmark times"
	for ns in $A $B; do
		$IP -s -n $ns xfrm state list | awk -v p="WH-INFO $name $ns:" '
			/^src/ { s = $2; d = $4 }
			/proto esp spi/ { for (i = 1; i <= NF; i++) if ($i == "spi") spi = $(i + 1) }
			/lifetime current:/ { cur = 1; next }
			cur && /\(bytes\)/ { sub(/^[ \t]*/, ""); print p, s, "->", d, "spi", spi ":", $0; cur = 0 }'
	done
	out_b=$($IP -s -n $A xfrm state list src 198.18.0.1 | sed -n 's/^[[:space:]]*\([0-9][0-9]*\)(bytes).*/\1/p' | head -1)
	in_b=$($IP -s -n $B xfrm state list src 198.18.0.1 | sed -n 's/^[[:space:]]*\([0-9][0-9]*\)(bytes).*/\1/p' | head -1)
	psize=$(wc -c </tmp/payload)
	[ "${out_b:-0}" -ge "$psize" ] && [ "${in_b:-0}" -ge "$psize" ]
	check "$name-counters" $? "A->B SA: A sent $out_b bytes, B received $in_b bytes (payload $psize)"
	$IP -n $A xfrm state | grep -q 'encap type espinudp' && enc=espinudp || enc=esp
	echo "WH-INFO $name encapsulation: $enc"
	$WT list $A | sed 's/^/WH-INFO list A: /'

	kill -TERM $wpid
	wait $wpid
	grep -q DELETED /tmp/run.log && no_state $A && no_state $B
	check "$name-delete" $? "no state, policy or overlay address left in A and B"
}

tunnel_case tunnel "" "esp" "udp port 4500"
tunnel_case udptunnel "--udp" "udp port 4500" "esp"

# rekey: 2 MB at 256 KiB/s (8 s) across rekeys every 2 s arrives byte-exact
dd if=/dev/urandom of=/tmp/big bs=64k count=32 2>/dev/null
md5_big=$(md5sum </tmp/big | cut -d' ' -f1)
$WT run $A 198.18.0.1 $B 198.18.0.2 --rekey 2 </dev/null >/tmp/run.log 2>&1 &
wpid=$!
i=0
while ! grep -q READY /tmp/run.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
set -- $(grep READY /tmp/run.log)
b_ov=$3
spi0=$($IP -n $A xfrm state list src 198.18.0.1 | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p')
transfer "$b_ov" 5002 /tmp/big 262144
spi1=$($IP -n $A xfrm state list src 198.18.0.1 | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p')
nrekey=$(grep -c REKEY /tmp/run.log)
[ "$md5_out" = "$md5_big" ] && [ "$nrekey" -ge 1 ] && [ "$spi0" != "$spi1" ]
check rekey-transfer $? "$(cat /tmp/send.log), $nrekey rekeys, A->B SPI $spi0 -> $spi1, md5 match: $([ "$md5_out" = "$md5_big" ] && echo yes || echo no)"
kill -TERM $wpid
wait $wpid
no_state $A && no_state $B
check rekey-delete $? "nothing left after the rekeyed tunnel's delete"

# persistence and rediscovery: the tunnel outlives its creator, is found again (complete); a
# half made partial is found partial; clean removes both
$WT run $A 198.18.0.1 $B 198.18.0.2 --keep </dev/null >/tmp/run.log 2>&1
set -- $(grep READY /tmp/run.log)
a_ov=$2 b_ov=$3
$WT list $A >/tmp/list.log 2>&1
grep -q "local=$a_ov remote=$b_ov .* complete" /tmp/list.log
check rediscover-complete $? "$(grep TUNNEL /tmp/list.log | cut -c1-120)"
$IP -n $B xfrm policy delete dir out src "$b_ov/32" dst "$a_ov/32"
$WT list $B >/tmp/list.log 2>&1
grep -q "partial" /tmp/list.log
check rediscover-partial $? "B without its out policy: $(grep -o 'complete\|partial' /tmp/list.log)"
$WT clean $A >/dev/null && $WT clean $B >/dev/null && no_state $A && no_state $B
check clean $? "partial and complete halves removed, nothing left"

finish
