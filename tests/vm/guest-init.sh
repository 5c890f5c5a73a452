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
# One wormholed per namespace, joined by the TLS peer link, makes the tunnels (tunnel-create, the
# tunnel and udptunnel chain words) and rekeys them; wh-tunnel (tests/tools/wh-tunnel.c) only
# sends and receives the payloads. Each check prints "WH-RESULT <name> PASS|FAIL <detail>" on the console
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
	$IP netns exec "$1" $TD -Z root -i "$( [ "$1" = $A ] && echo wh-va || echo wh-vb)" -Q out -n -U -s 0 \
		-w "$2" >/tmp/tcpdump.log 2>&1 &
	cap_pid=$!
	i=0
	while ! grep -q listening /tmp/tcpdump.log && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
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

# ---- two wormholed, one per namespace, joined by the TLS peer link; tunnels made by them ----
WM=/bin/wormhole
$WM keygen /tmp/key >/dev/null
wa() { $WM -H unix:///run/whA.sock "$@"; }
wb() { $WM -H unix:///run/whB.sock "$@"; }
start_d() { # A|B ARGS...: wormholed in that host's namespace, waits for its control socket
	n=$1
	shift
	ns=$A
	[ "$n" = B ] && ns=$B
	$IP netns exec $ns /bin/wormholed -H unix:///run/wh$n.sock -K /tmp/key --name "vm$n" "$@" \
		>>/tmp/wh$n.log 2>&1 &
	eval "pid_$n=\$!"
	i=0
	while ! $WM -H unix:///run/wh$n.sock ping >/dev/null 2>&1 && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
stop_d() { # A|B: SIGTERM, wait (tunnels stay in the kernel)
	eval "kill -TERM \$pid_$1; wait \$pid_$1"
	rc=$?
	[ $rc -eq 0 ] || echo "WH-INFO wormholed $1 exited $rc: $(tail -5 /tmp/wh$1.log)"
}
jget() { # KEY: the first value of KEY in the JSON on stdin
	sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\).*/\1/p" | head -1
}
# transfer through a chain: recv in B on 127.0.0.1:RPORT, send in A to 127.0.0.1:SPORT
chain_transfer() { # SPORT RPORT FILE RATE
	rm -f /tmp/recv
	$IP netns exec $B timeout 60 $WT recv 127.0.0.1 "$2" /tmp/recv >/tmp/recv.log 2>&1 &
	rpid=$!
	i=0
	while ! grep -q LISTENING /tmp/recv.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	$IP netns exec $A timeout 60 $WT send 127.0.0.1 "$1" "$3" "$4" >/tmp/send.log 2>&1
	wait $rpid
	touch /tmp/recv
	md5_out=$(md5sum </tmp/recv | cut -d' ' -f1)
}

start_d A
start_d B
wa ping >/dev/null && wb ping >/dev/null
check daemons $? "wormholed in $A and in $B, one peer key"

# daemon_case NAME WORD WIRE-FILTER NOT-FILTER PORT
daemon_case() {
	name=$1 word=$2 wire=$3 notwire=$4 port=$5
	if [ "$word" = tunnel ]; then
		# tunnel-create first: prints the overlay addresses; the chain reuses the tunnel
		out=$(wa tunnel-create 198.18.0.2 2>&1)
		rc=$?
		set -- $out
		[ $rc -eq 0 ] && [ $# -eq 2 ]
		check "$name-tunnel-create" $? "wormhole tunnel-create 198.18.0.2: '$out'"
		a_ov=$1 b_ov=$2
	fi
	# the chain: A :7xxx -> (ESP) -> B <overlay>:PORT -> B 127.0.0.1:PORT
	out=$(wa create url :$((port + 2000)) $word 198.18.0.2 url :$port tail url :$port 2>&1)
	check "$name-chain" $? "create url :$((port + 2000)) $word 198.18.0.2 url :$port tail url :$port: $out"
	wa tunnel-list --json >/tmp/tl.json
	a_ov=$(jget local_ov </tmp/tl.json)
	b_ov=$(jget remote_ov </tmp/tl.json)
	enc=$(jget encap </tmp/tl.json)
	wb tunnel-list --json >/tmp/tlb.json
	[ "$(jget local_ov </tmp/tlb.json)" = "$b_ov" ] && [ "$(jget state </tmp/tl.json)" = up ]
	check "$name-both-halves" $? "A: $a_ov -> $b_ov ($enc), B: $(jget local_ov </tmp/tlb.json) -> $(jget remote_ov </tmp/tlb.json) ($(jget encap </tmp/tlb.json))"
	nst=$($IP -n $A xfrm state | grep -c '^src')
	naead=$($IP -n $A xfrm state | grep -c 'aead rfc4106(gcm(aes)) 0x[0-9a-f]\{40\} 128')
	npol=$($IP -n $A xfrm policy | grep -c '^src')
	spis=$($IP -n $A xfrm state | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | sort -u | wc -l)
	[ "$nst" -eq 2 ] && [ "$naead" -eq 2 ] && [ "$npol" -eq 2 ] && [ "$spis" -eq 2 ]
	check "$name-kernel-objects" $? "A: $nst SAs ($naead rfc4106 160-bit key ICV 128, $spis SPIs), $npol policies"

	cap_start $A /tmp/$name.pcap
	chain_transfer $((port + 2000)) $port /tmp/payload 0
	cap_stop
	[ "$md5_out" = "$md5_in" ]
	check "$name-transfer" $? "through the $word chain: $(cat /tmp/send.log) md5 $md5_out"
	nwire=$(cap_count /tmp/$name.pcap "$wire")
	nnot=$(cap_count /tmp/$name.pcap "$notwire")
	nplain=$(cap_count /tmp/$name.pcap "tcp port $port")
	nmark=$(grep -c "$MARK" /tmp/$name.pcap)
	[ "$nwire" -gt 0 ] && [ "$nnot" -eq 0 ] && [ "$nplain" -eq 0 ] && [ "$nmark" -eq 0 ]
	check "$name-on-the-wire" $? "capture on A's veth: $nwire '$wire' packets, $nnot '$notwire', $nplain plain tcp/$port, marker $nmark times"
	for ns in $A $B; do
		$IP -s -n $ns xfrm state list | awk -v p="WH-INFO $name $ns:" '
			/^src/ { s = $2; d = $4 }
			/proto esp spi/ { for (i = 1; i <= NF; i++) if ($i == "spi") spi = $(i + 1) }
			/lifetime current:/ { cur = 1; next }
			cur && /\(bytes\)/ { sub(/^[ \t]*/, ""); print p, s, "->", d, "spi", spi ":", $0; cur = 0 }'
	done
	wa tunnel-list --json >/tmp/tl.json
	wb tunnel-list --json >/tmp/tlb.json
	out_b=$(jget out_bytes </tmp/tl.json)
	in_b=$(jget in_bytes </tmp/tlb.json)
	psize=$(wc -c </tmp/payload)
	[ "${out_b:-0}" -ge "$psize" ] && [ "${in_b:-0}" -ge "$psize" ]
	check "$name-counters" $? "tunnel-list: A sent $out_b bytes in $(jget out_packets </tmp/tl.json) packets (SPI $(jget out_spi </tmp/tl.json)), B received $in_b bytes (payload $psize)"
	wa tunnel-list | sed 's/^/WH-INFO tunnel-list A: /'

	id=$(echo "$out" | cut -d' ' -f1)
	wa delete "$id" >/dev/null
	wa tunnel-delete 198.18.0.2 && no_state $A && no_state $B && [ "$(wb tunnel-list | wc -l)" -eq 1 ]
	check "$name-tunnel-delete" $? "no state, policy, overlay address or registry entry left in A and B"
}

daemon_case tunnel tunnel "esp" "udp port 4500" 5001
daemon_case udptunnel udptunnel "udp port 4500" "esp" 5003

# persistence: both daemons stop, the tunnel stays; they start again (A with --rekey 2) and find
# it; a transfer through a tunnel chain across rekeys arrives byte-exact
out=$(wa tunnel-create 198.18.0.2)
stop_d A
stop_d B
nst=$($IP -n $A xfrm state | grep -c '^src')
start_d B
start_d A --rekey 2 -v
wa tunnel-list --json >/tmp/tl.json
[ "$nst" -eq 2 ] && [ "$(jget state </tmp/tl.json)" = up ] && [ "$(jget local_ov </tmp/tl.json)" = "${out%% *}" ]
check rediscover $? "after both daemons restarted: $nst SAs kept, A's tunnel-list: $(jget local_ov </tmp/tl.json) -> $(jget remote_ov </tmp/tl.json) $(jget state </tmp/tl.json)"
dd if=/dev/urandom of=/tmp/big bs=64k count=32 2>/dev/null
md5_big=$(md5sum </tmp/big | cut -d' ' -f1)
spi0=$(jget out_spi </tmp/tl.json)
out=$(wa create url :7002 tunnel 198.18.0.2 url :5002 tail url :5002 2>&1)
chain_transfer 7002 5002 /tmp/big 262144
wa tunnel-list --json >/tmp/tl.json
spi1=$(jget out_spi </tmp/tl.json)
nrekey=$(jget rekeys </tmp/tl.json)
[ "$md5_out" = "$md5_big" ] && [ "${nrekey:-0}" -ge 2 ] && [ "$spi0" != "$spi1" ]
check rekey-transfer $? "$(cat /tmp/send.log) through a tunnel chain, $nrekey rekeys by wormholed, A->B SPI $spi0 -> $spi1, md5 match: $([ "$md5_out" = "$md5_big" ] && echo yes || echo no)"
grep 'rekeyed' /tmp/whA.log | head -4 | sed 's/^/WH-INFO /'
wa delete "$(echo "$out" | cut -d' ' -f1)" >/dev/null

# a partial half found at start is removed: B stops, loses its out policy, starts again
stop_d B
b_ov=$(jget remote_ov </tmp/tl.json)
a_ov=$(jget local_ov </tmp/tl.json)
$IP -n $B xfrm policy delete dir out src "$b_ov/32" dst "$a_ov/32"
start_d B
no_state $B
check partial-removed $? "B without its out policy at start: $(grep -o 'found partial.*' /tmp/whB.log | tail -1)"
wa tunnel-delete 198.18.0.2 >/dev/null 2>&1 && no_state $A
check delete-after-partial $? "A's half removed too"

# tunnel-delete when the peer's daemon is down: our half goes, with a warning
wa tunnel-create 198.18.0.2 >/dev/null
stop_d B
out=$(wa tunnel-delete 198.18.0.2 2>&1)
rc=$?
[ $rc -eq 0 ] && no_state $A && echo "$out" | grep -q warning
check delete-peer-down $? "exit $rc, A clean, said: $(echo "$out" | head -1)"
start_d B
wb tunnel-delete 198.18.0.1 >/dev/null && no_state $B
check delete-other-side $? "B's leftover half removed from B (tunnel-delete 198.18.0.1 there)"

# failures roll back on both hosts: an overlay CIDR the peer does not share
stop_d A
start_d A --tunnel-cidr 10.99.0.0/16
out=$(wa tunnel-create 198.18.0.2 2>&1)
rc=$?
[ $rc -ne 0 ] && no_state $A && no_state $B && [ "$(wb tunnel-list | wc -l)" -eq 1 ]
check rollback $? "exit $rc: $out"
stop_d A
stop_d B
grep -h 'WARNING\|ERROR' /tmp/whA.log /tmp/whB.log | head -5 | sed 's/^/WH-INFO log: /'
[ $fails -eq 0 ] || tail -n 20 /tmp/whA.log /tmp/whB.log | sed 's/^/WH-INFO log: /'

finish
