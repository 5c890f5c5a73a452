#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 19-sni: routing TLS by server name without terminating it. Three real `openssl s_server`
# backends, each with its own self-signed certificate (CN a.example, b.example, c.example,
# generated here) and its own marker file served by -WWW; one segment routes a.example to A,
# any name under b.example to B, and everything else (another name, no name, not TLS) to C;
# a second segment has no default tail. Checked: openssl s_client -servername sees the right
# certificate, curl --resolve the right marker, 1000 connections alternating two names each land
# on the right backend, the wildcard, the default, no default -> closed, a client that sends
# nothing is closed after the 5 s bound, a plain HTTP client goes to the default.
#
#   netns wh-test-$$ ("host")
#   +--------------------------------------------------------------------------------+
#   |                              +-- a.example ---> 127.0.0.1:8443 s_server (A)  |
#   |  TLS clients --> :443 [wormholed] -- *.b.example -> 127.0.0.1:9443 s_server (B)  |
#   |                              +-- default -----> 127.0.0.1:7443 s_server (C)  |
#   |  TLS clients --> :444 [wormholed] -- a.example only (no default)               |
#   +--------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
command -v openssl >/dev/null || skip "openssl missing"
command -v curl >/dev/null || skip "curl missing"

for n in a b c; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=$n.example" -keyout "$wh_tmp/$n.key" -out "$wh_tmp/$n.crt" 2>/dev/null
	chmod 0600 "$wh_tmp/$n.key"
	mkdir "$wh_tmp/www-$n"
	echo "backend-$n" >"$wh_tmp/www-$n/who"
done
port_a=8443 port_b=9443 port_c=7443
for n in a b c; do
	p=port_$n
	bg_in "$ns_host" sh -c "cd '$wh_tmp/www-$n' && exec openssl s_server -quiet -WWW \
		-accept 127.0.0.1:${!p} -cert ../$n.crt -key ../$n.key"
	wait_tcp_listen "$ns_host" "${!p}"
done

WH_VERBOSE=1 wh_start_daemon main
out=$(wh_create id web url :443 tail sni a.example url :8443 tail sni '*.b.example' url :9443 \
	tail url :7443)
assert_eq "create output" "web tcp://127.0.0.1:443" "$out"
wh_create id nodefault url :444 tail sni a.example url :8443 >/dev/null
wait_tcp_listen "$ns_host" 443
wait_tcp_listen "$ns_host" 444
assert_match "list shows the routes" \
	'sni a.example=tcp://127.0.0.1:8443 sni \*.b.example=tcp://127.0.0.1:9443 default=tcp://127.0.0.1:7443' \
	"$(wh list)"

# openssl s_client -servername: the certificate is the backend's, TLS was not terminated
subj=$(nh sh -c 'openssl s_client -connect 127.0.0.1:443 -servername a.example </dev/null 2>/dev/null |
	openssl x509 -noout -subject')
assert_match "s_client a.example gets A's certificate" "CN ?= ?a\.example" "$subj"
subj=$(nh sh -c 'openssl s_client -connect 127.0.0.1:443 -servername x.b.example </dev/null 2>/dev/null |
	openssl x509 -noout -subject')
assert_match "s_client x.b.example gets B's certificate (wildcard)" "CN ?= ?b\.example" "$subj"

# curl --resolve: the marker of the backend behind each name
for case in a.example:backend-a x.b.example:backend-b deep.x.b.example:backend-b \
	b.example:backend-c other.example:backend-c; do
	name=${case%%:*} want=${case#*:}
	got=$(nh curl -sk --max-time 10 --resolve "$name:443:127.0.0.1" "https://$name/who")
	assert_eq "curl --resolve $name" "$want" "$got"
done

cat >"$wh_tmp/cli.py" <<'PY'
import socket, ssl, sys, time

def fetch(port, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=name or None) as t:
                t.sendall(b"GET /who HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    d = t.recv(4096)
                    if not d:
                        break
                    data += d
    except (ssl.SSLError, ConnectionError, OSError):
        return "closed"
    return data.decode(errors="replace").strip().splitlines()[-1]

mode = sys.argv[1]
if mode == "one":
    print(fetch(int(sys.argv[2]), sys.argv[3]))
elif mode == "many":
    n, pairs = int(sys.argv[2]), [a.split("=") for a in sys.argv[3:]]
    bad = 0
    for i in range(n):
        name, want = pairs[i % len(pairs)]
        got = fetch(443, name)
        if got != want:
            bad += 1
            print(f"connection {i}: {name} -> {got}, want {want}", file=sys.stderr)
    print(f"{n - bad}/{n}")
elif mode == "silent":
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    t0 = time.monotonic()
    s.settimeout(30)
    try:
        r = s.recv(1)
    except ConnectionError:
        r = b""
    print(f"{time.monotonic() - t0:.1f} {len(r)}")
elif mode == "plain":
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
    s.sendall(b"GET /who HTTP/1.0\r\nHost: a.example\r\n\r\n")
    try:
        s.recv(4096)
    except (ConnectionError, socket.timeout):
        pass
PY
py() { nh "$PYTHON" "$wh_tmp/cli.py" "$@"; }

assert_eq "no server name -> default" "backend-c" "$(py one 443 '')"
assert_eq "no default: a.example still routed" "backend-a" "$(py one 444 a.example)"
assert_eq "no default: another name is closed" "closed" "$(py one 444 other.example)"
assert_eq "no default: no name is closed" "closed" "$(py one 444 '')"

got=$(py many 1000 a.example=backend-a x.b.example=backend-b)
assert_eq "1000 connections alternating two names, each on its backend" "1000/1000" "$got"

# a client that sends nothing is closed after the 5 s bound (not before, not much after)
read -r secs nbytes <<<"$(py silent 443)"
assert_eq "silent client gets no byte" "0" "$nbytes"
awk -v s="$secs" 'BEGIN { exit !(s >= 4.5 && s <= 7.5) }' ||
	fail "silent client closed after $secs s, want about 5 s"
info "silent client closed after $secs s"

# a plain (non-TLS) client goes to the default tail, its bytes untouched (C sees a non-TLS hello)
py plain 443
wait_for "plain client's line in the log" 50 grep -q "no ClientHello\|7443: closed" "$(wh_log main)"
grep "segment 'web': 127.0.0.1:[0-9]* -> tcp://127.0.0.1:7443" "$(wh_log main)" >/dev/null ||
	fail "the plain client did not go to the default tail"
grep -q "no ClientHello in time" "$(wh_log main)" || fail "no log line for the silent client"
echo "PASS"
