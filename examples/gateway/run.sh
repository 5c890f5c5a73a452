#!/bin/bash
# SPDX-License-Identifier: MIT
#
# examples/gateway/run.sh - publish a service from behind NAT through a public gateway
#
#   client (wh-cl-$$)          gateway (wh-gw-$$)            router (wh-rt-$$)          home (wh-hm-$$)
#   198.18.10.2 ---veth--- 198.18.10.1 | 198.18.20.1 ---veth--- 198.18.20.2 | 198.18.30.1 ---veth--- 198.18.30.2
#                          wormholed, peer port 9999      iptables MASQUERADE,        wormholed --link gateway
#                          publishes :80 and :8081        nothing in from outside     nginx 127.0.0.1:8080
#                                                           198.18.31.1 ---veth---  198.18.31.2 home2 (wh-h2-$$)
#                                                                                   the same, as homelab2
#
# The home host accepts nothing from outside (the router drops new connections inward: a
# connect from the gateway fails). It dials the gateway (--link) with a scoped key that may only
# publish port 80 back to itself; then it asks the gateway, through its own key, to publish
# 0.0.0.0:80 -> remote homelab -> 127.0.0.1:8080 with a PROXY v2 header. The client fetches
# http://198.18.10.1/ and nginx at home logs the client's real address. Then: the home link cut
# and back (service resumes by itself), the scoped key refused what it does not allow, and two
# home hosts as providers of one head (:8081): both serve, one killed loses no new connection.
#
# Run as root. Used by tests/functional/63-gateway-example.sh; exits 77 if a tool is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
WORMHOLED=${WORMHOLED:-$repo/build/wormholed/wormholed}
WORMHOLE=${WORMHOLE:-$repo/build/wormhole-cli/wormhole}
for t in ip iptables nginx curl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }

cl="wh-cl-$$" gw="wh-gw-$$" rt="wh-rt-$$" hm="wh-hm-$$" h2="wh-h2-$$"
dir=$(mktemp -d "/tmp/wh-gateway-example.XXXXXX")
pids=()
step() { echo "==> $*" >&2; }
die() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	local rc=$? p
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [[ $rc -ne 0 ]]; then
		for f in gateway home home2; do echo "---- $f.log" >&2; cat "$dir/$f.log" >&2; done
	fi
	for ns in "$cl" "$gw" "$rt" "$hm" "$h2"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

step "four namespaces: client, gateway, NAT router, home"
for ns in "$cl" "$gw" "$rt" "$hm" "$h2"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
veth() { # veth NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
veth "$cl" cl0 198.18.10.2 "$gw" gw0 198.18.10.1
veth "$gw" gw1 198.18.20.1 "$rt" wan 198.18.20.2
veth "$rt" lan 198.18.30.1 "$hm" hm0 198.18.30.2
veth "$rt" lan2 198.18.31.1 "$h2" h20 198.18.31.2
ip -n "$hm" route add default via 198.18.30.1
ip -n "$h2" route add default via 198.18.31.1
# the gateway even has a route to the home network: only the router stands in the way
ip -n "$gw" route add 198.18.30.0/24 via 198.18.20.2
ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$rt" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
ip netns exec "$rt" iptables -A FORWARD -i lan -o wan -j ACCEPT
ip netns exec "$rt" iptables -A FORWARD -i lan2 -o wan -j ACCEPT
ip netns exec "$rt" iptables -A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip netns exec "$rt" iptables -P FORWARD DROP

step "keys: the gateway's own, and a scoped one for home"
"$WORMHOLE" keygen "$dir/gateway.key" >/dev/null
mkdir -m 700 "$dir/keys.d"
"$WORMHOLE" keygen --allow "port=80 remote=self name=homelab no-docker-run" "$dir/keys.d/homelab.key" >/dev/null
cp "$dir/keys.d/homelab.key" "$dir/home.key"
"$WORMHOLE" keygen --allow "port=80 remote=self name=homelab2 no-docker-run" "$dir/keys.d/homelab2.key" >/dev/null

wait_ping() { # wait_ping SOCK PID
	local i
	for ((i = 0; i < 200; i++)); do
		"$WORMHOLE" -H "unix://$1" ping >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || die "a wormholed exited"
		sleep 0.05
	done
	die "a wormholed did not answer"
}
step "gateway: wormholed -K gateway.key --keys keys.d"
# each daemon its own state and chain directories (never the system's /var/lib/wormhole)
st() { mkdir -p "$dir/$1/state" "$dir/$1/chains"; echo "--state=$dir/$1/state --chains=$dir/$1/chains"; }
# shellcheck disable=SC2046
ip netns exec "$gw" "$WORMHOLED" -H "unix://$dir/gw.sock" $(st gw) -K "$dir/gateway.key" --keys "$dir/keys.d" \
	--name gateway >"$dir/gateway.log" 2>&1 &
pids+=($!)
wait_ping "$dir/gw.sock" "${pids[-1]}"

step "home: nginx with proxy_protocol, and wormholed --link 198.18.20.1 --name homelab"
sed -e "s|@DIR@|$dir|g" -e "s|@NAME@|homelab|g" "$here/nginx.conf.in" >"$dir/nginx.conf"
ip netns exec "$hm" nginx -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
pids+=($!)
# shellcheck disable=SC2046
ip netns exec "$hm" "$WORMHOLED" -H "unix://$dir/hm.sock" $(st hm) -K "$dir/home.key" --name homelab \
	--link 198.18.20.1 >"$dir/home.log" 2>&1 &
pids+=($!)
wait_ping "$dir/hm.sock" "${pids[-1]}"

step "home accepts nothing from outside: a connect from the gateway fails"
if ip netns exec "$gw" timeout 3 bash -c 'exec 3<>/dev/tcp/198.18.30.2/9999' 2>/dev/null; then
	die "the gateway reached the home host"
fi
echo "ok: the gateway cannot connect to home" >&2

linked() { "$WORMHOLE" -H "unix://$dir/gw.sock" list --json | grep -q '"name":"homelab"'; }
for ((i = 0; i < 100; i++)); do linked && break; sleep 0.1; done
linked || die "homelab did not link"

step "home publishes itself through the gateway, with its scoped key"
ip netns exec "$hm" "$WORMHOLE" -H tcp://198.18.20.1 -K "$dir/home.key" \
	create id web url 0.0.0.0:80 remote homelab tail url :8080 proxy-protocol
"$WORMHOLE" -H "unix://$dir/gw.sock" list

fetch() { ip netns exec "$cl" curl -s --max-time 2 http://198.18.10.1/; }
for ((i = 0; i < 20; i++)); do [[ $(fetch || true) == "hello from homelab" ]] && break; sleep 0.1; done
got=$(fetch) || die "the client cannot reach the service"
[[ $got == "hello from homelab" ]] || die "unexpected answer '$got'"
echo "ok: client -> gateway -> home: '$got'" >&2
sleep 0.2
grep -q '^198.18.10.2 127.0.0.1 "GET / HTTP/1.1" 200' "$dir/access.log" ||
	die "nginx did not log the client's address: $(cat "$dir/access.log")"
echo "ok: nginx at home logged the real client: $(tail -1 "$dir/access.log")" >&2

step "the home link cut and back: service resumes with no action"
ip -n "$rt" link set wan down
unlinked() { ! linked; }
for ((i = 0; i < 150; i++)); do unlinked && break; sleep 0.1; done
unlinked || die "the gateway did not notice the link went down"
fetch >/dev/null && die "served with the link down"
ip -n "$rt" link set wan up
for ((i = 0; i < 100; i++)); do [[ $(fetch || true) == "hello from homelab" ]] && break; sleep 0.1; done
[[ $(fetch) == "hello from homelab" ]] || die "service did not resume"
echo "ok: service resumed after the link came back" >&2

step "the scoped key cannot create what it does not allow"
if ip netns exec "$hm" "$WORMHOLE" -H tcp://198.18.20.1 -K "$dir/home.key" \
	create id ssh url 0.0.0.0:22 remote homelab tail url :22 2>"$dir/err"; then
	die "the scoped key published port 22"
fi
grep -q "refused by rule 'port=80'" "$dir/err" || die "no rule named: $(cat "$dir/err")"
echo "ok: $(cat "$dir/err")" >&2

step "a second home host, homelab2, as another provider: the gateway publishes :8081 on both"
mkdir -p "$dir/h2"
sed -e "s|@DIR@|$dir/h2|g" -e "s|@NAME@|homelab2|g" "$here/nginx.conf.in" >"$dir/h2/nginx.conf"
ip netns exec "$h2" nginx -c "$dir/h2/nginx.conf" -e "$dir/h2/nginx-error.log" &
pids+=($!)
# shellcheck disable=SC2046
ip netns exec "$h2" "$WORMHOLED" -H "unix://$dir/h2.sock" $(st h2d) -K "$dir/keys.d/homelab2.key" --name homelab2 \
	--link 198.18.20.1 >"$dir/home2.log" 2>&1 &
pids+=($!)
h2pid=${pids[-1]}
wait_ping "$dir/h2.sock" "$h2pid"
linked2() { "$WORMHOLE" -H "unix://$dir/gw.sock" list --json | grep -q '"name":"homelab2"'; }
for ((i = 0; i < 100; i++)); do linked2 && break; sleep 0.1; done
linked2 || die "homelab2 did not link"
"$WORMHOLE" -H "unix://$dir/gw.sock" create id lb url 0.0.0.0:8081 balance round-robin \
	remote homelab,homelab2 tail url :8080 proxy-protocol
fetch2() { ip netns exec "$cl" curl -s --max-time 2 http://198.18.10.1:8081/; }
seen=""
for i in 1 2 3 4; do seen+="$(fetch2) "; done
[[ $seen == *"homelab "* && $seen == *homelab2* ]] || die "both providers should serve: '$seen'"
echo "ok: answers: $seen" >&2
"$WORMHOLE" -H "unix://$dir/gw.sock" list
kill -KILL "$h2pid"
for i in $(seq 8); do
	got=$(fetch2) || die "connection $i lost with homelab2 killed"
	[[ $got == "hello from homelab" ]] || die "unexpected answer '$got'"
done
echo "ok: homelab2 killed: 8 new connections, all served by homelab" >&2
"$WORMHOLE" -H "unix://$dir/gw.sock" list
echo "PASS" >&2
