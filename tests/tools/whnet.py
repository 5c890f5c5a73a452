#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# tests/tools/whnet.py - small network clients and servers for the functional tests, for what
# socat cannot do exactly: UDP echo with whole datagrams up to 64 KiB, a client that measures when
# the server closes it, a client that stops reading (stalled), many short echoes timed in one
# process, and reading fields out of `wormhole list --json`.
#
#   whnet.py udp-echo-server HOST PORT
#   whnet.py udp-client HOST PORT SIZE...      one datagram per SIZE, each echoed whole and exact
#   whnet.py tcp-close-wait HOST PORT [DATA]    send DATA, read until EOF: "closed after S s, N bytes"
#   whnet.py tcp-hold HOST PORT [DATA]          send DATA, then never read (until killed)
#   whnet.py tcp-echoes HOST PORT COUNT         COUNT sequential connections, one line echoed each
#   whnet.py json-get ID FIELD                  stdin: list --json; prints the field of segment ID
#   whnet.py json-ids                           stdin: list --json; prints the ids, one a line
import json
import os
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_echo_server(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((host, int(port)))
    while True:
        data, addr = s.recvfrom(65536)
        s.sendto(data, addr)


def udp_client(host, port, *sizes):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(3)
    s.connect((host, int(port)))
    for i, size in enumerate(int(x) for x in sizes):
        payload = bytes([i & 0xFF]) + os.urandom(size - 1)
        s.send(payload)
        try:
            got = s.recv(65536)
        except socket.timeout:
            print(f"datagram {i} ({size} bytes): no reply within 3 s")
            return 1
        if got != payload:
            print(f"datagram {i} ({size} bytes): got {len(got)} bytes, content "
                  f"{'equal' if got == payload[:len(got)] else 'different'}")
            return 1
        print(f"datagram {i}: {size} bytes echoed whole")
    return 0


def connect(host, port, timeout=10):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def tcp_close_wait(host, port, data=""):
    t0 = time.monotonic()
    s = connect(host, port, 15)
    if data:
        s.sendall(data.encode())
    n = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            n += len(b)
    except ConnectionResetError:
        pass
    print(f"closed after {time.monotonic() - t0:.2f} s, {n} bytes")
    return 0


def tcp_hold(host, port, data=""):
    s = connect(host, port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if data:
        s.sendall(data.encode())
    print("holding", flush=True)
    while True:
        time.sleep(3600)


def tcp_echoes(host, port, count):
    t0 = time.monotonic()
    for i in range(int(count)):
        line = f"echo {i} {os.getpid()}\n".encode()
        s = connect(host, port, 3)
        s.sendall(line)
        got = b""
        while len(got) < len(line):
            b = s.recv(4096)
            if not b:
                break
            got += b
        s.close()
        if got != line:
            print(f"echo {i}: sent {line!r}, got {got!r}")
            return 1
    print(f"{count} echoes in {time.monotonic() - t0:.2f} s")
    return 0


def json_get(ident, field):
    doc = json.load(sys.stdin)
    for seg in doc["segments"]:
        if seg["id"] == ident:
            v = seg[field]
            print("null" if v is None else (str(v).lower() if isinstance(v, bool) else v))
            return 0
    print(f"no segment '{ident}'", file=sys.stderr)
    return 1


def json_ids():
    for seg in json.load(sys.stdin)["segments"]:
        print(seg["id"])
    return 0


CMDS = {
    "udp-echo-server": udp_echo_server,
    "udp-client": udp_client,
    "tcp-close-wait": tcp_close_wait,
    "tcp-hold": tcp_hold,
    "tcp-echoes": tcp_echoes,
    "json-get": json_get,
    "json-ids": json_ids,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        print("usage: whnet.py " + "|".join(CMDS) + " ARGS...", file=sys.stderr)
        sys.exit(2)
    sys.exit(CMDS[sys.argv[1]](*sys.argv[2:]) or 0)
