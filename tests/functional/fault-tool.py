#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fault-tool.py - servers and clients that misbehave on purpose, for the fault suite (5x-fault-*)

  stream-server PORT        accept on 127.0.0.1:PORT; send 64 KiB blocks to every client forever
  echo-server PORT          accept on 127.0.0.1:PORT; echo each connection, half-close included (the
                            answer goes on after the client's FIN), then close
  sink-server PORT          accept on 127.0.0.1:PORT; never read, never close (a stuck backend)
  read-some PORT BYTES      connect, read BYTES, then read on until EOF or reset (10 s bound);
                            prints "read N bytes, then eof|reset|timeout"
  push PORT                 connect, send until the send blocks for 2 s (the stuck backend's and the
                            relay's buffers are full); prints "pushed N bytes", then stays
  hold PORT N [DATA]        open N connections (sending DATA on each if given), wait 1 s, print
                            "opened N, open K, closed C" (C: closed by the other side), then stay
                            until killed; exit 1 if a connect itself failed
  udp-many PORT N           N clients, one datagram each; prints "replies R of N" (2 s to answer)
"""
import os
import resource
import select
import socket
import sys
import threading
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(port)))
    s.listen(4096)
    return s


def stream_server(port):
    block = os.urandom(65536)

    def serve(c):
        try:
            while True:
                c.sendall(block)
        except OSError:
            c.close()

    s = listener(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def echo_server(port):
    def serve(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    s = listener(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def sink_server(port):
    raise_nofile()
    s = listener(port)
    held = []
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held.append(c)


def read_some(port, nbytes):
    c = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    got = 0
    want = int(nbytes)
    while got < want:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    end = "timeout"
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 10:
            d = c.recv(65536)
            if not d:
                end = "eof"
                break
            got += len(d)
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        pass
    print(f"read {got} bytes, then {end}", flush=True)


def push(port):
    c = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    c.setblocking(False)
    block = b"p" * 65536
    pushed = 0
    p = select.poll()
    p.register(c.fileno(), select.POLLOUT)
    while True:
        if not p.poll(2000):
            break
        try:
            pushed += c.send(block)
        except BlockingIOError:
            continue
    print(f"pushed {pushed} bytes", flush=True)
    while True:
        time.sleep(60)


def hold(port, n, data=None):
    raise_nofile()
    conns = []
    for _ in range(int(n)):
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", int(port)))
        except OSError as e:
            print(f"connect failed after {len(conns)}: {e}", flush=True)
            return 1
        if data:
            c.send(data.encode())
        conns.append(c)
    time.sleep(1)
    closed = 0
    for c in conns:
        try:
            d = c.recv(65536, socket.MSG_DONTWAIT | socket.MSG_PEEK)
            if not d:
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print(f"opened {n}, open {len(conns) - closed}, closed {closed}", flush=True)
    while True:
        time.sleep(60)


def udp_many(port, n):
    raise_nofile()
    socks = []
    for i in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", int(port)))
        s.send(b"u%d" % i)
        socks.append(s)
    replies = 0
    deadline = time.monotonic() + 2
    p = select.poll()
    byfd = {s.fileno(): s for s in socks}
    for fd in byfd:
        p.register(fd, select.POLLIN)
    while byfd and time.monotonic() < deadline:
        for fd, _ in p.poll(100):
            try:
                byfd[fd].recv(65536)
                replies += 1
            except OSError:
                pass
            p.unregister(fd)
            del byfd[fd]
    print(f"replies {replies} of {n}", flush=True)


def main():
    cmds = {
        "stream-server": stream_server,
        "echo-server": echo_server,
        "sink-server": sink_server,
        "read-some": read_some,
        "push": push,
        "hold": hold,
        "udp-many": udp_many,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
