#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ctl-client.py - raw control-socket clients for the functional tests (what the CLI won't do)

  create-many SOCK N        create N segments, pipelining up to 512 requests (heads
                            127.0.(1+i/50000).1:(10000+i%50000), tails 127.0.0.1:9); prints
                            "created N in S s"; exit 1 on the first error reply
  flood SOCK COUNT          send COUNT list requests without ever reading; stays until the daemon
                            closes the connection and prints "sent B bytes, closed after S s"
  serve-list SOCK N         a stand-in daemon: answers each connection's request with N streamed
                            segment lines and the end line (for the CLI alone at any N)
  idle SOCK N SECS          open N connections that send nothing; prints "N closed in S s" once
                            the daemon closed them all, exit 1 if it did not within SECS
"""
import json
import os
import select
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def create_many(path, n):
    s = connect(path)
    t0 = time.monotonic()
    sent = done = 0
    buf = b""
    window = 512
    while done < n:
        if sent < n and sent - done < window:
            batch = []
            while sent < n and sent - done < window:
                i = sent
                head = "127.0.%d.1:%d" % (1 + i // 50000, 10000 + i % 50000)
                req = {"op": "create", "words": ["id", "s%d" % i, "url", head, "tail", "url", "127.0.0.1:9"]}
                batch.append(json.dumps(req))
                sent += 1
            s.sendall(("\n".join(batch) + "\n").encode())
        data = s.recv(1 << 16)
        if not data:
            sys.exit("daemon closed the connection after %d replies" % done)
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            rep = json.loads(line)
            if "progress" in rep:
                continue
            if not rep.get("ok"):
                sys.exit("create %d failed: %s" % (done, rep.get("error")))
            done += 1
    print("created %d in %.1f s" % (n, time.monotonic() - t0))


def flood(path, count):
    s = connect(path)
    s.setblocking(False)
    data = b'{"op":"list"}\n' * count
    off = 0
    t0 = time.monotonic()
    p = select.poll()
    p.register(s, select.POLLOUT)
    while off < len(data):
        ev = p.poll(200)
        if any(e & (select.POLLHUP | select.POLLERR) for _, e in ev):
            break
        if ev:
            try:
                off += s.send(data[off:])
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            break  # the daemon stopped reading: that is the point
    print("sent %d bytes" % off, file=sys.stderr, flush=True)
    # never read; wait for the daemon to hang up (POLLHUP is reported without reading)
    p.modify(s, 0)
    while True:
        ev = p.poll(1000)
        if any(e & (select.POLLHUP | select.POLLERR) for _, e in ev):
            break
    print("sent %d bytes, closed after %.1f s" % (off, time.monotonic() - t0))


def idle(path, n, secs):
    socks = [connect(path) for _ in range(n)]
    t0 = time.monotonic()
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    open_ = {s.fileno(): s for s in socks}
    while open_ and time.monotonic() - t0 < secs:
        for fd, ev in p.poll(200):
            s = open_.get(fd)
            if s is None:
                continue
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                p.unregister(fd)
                del open_[fd]
    if open_:
        print("%d of %d still open after %d s" % (len(open_), n, secs))
        sys.exit(1)
    print("%d closed in %.1f s" % (n, time.monotonic() - t0))


def serve_list(path, n):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    seg = ('{"segment":{"id":"s%d","parent":null,"head":"tcp://127.0.0.1:%d",'
           '"tail":"tcp://127.0.0.1:9","state":"listening","conns_active":0,'
           '"conns_total":0,"bytes_in":0,"bytes_out":0}}\n')
    body = "".join(seg % (i, 10000 + i % 50000) for i in range(n)).encode()
    body += b'{"ok":true,"count":%d}\n' % n
    while True:
        c, _ = srv.accept()
        c.recv(4096)
        try:
            c.sendall(body)
        except OSError:
            pass
        c.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "create-many":
        create_many(args[0], int(args[1]))
    elif cmd == "flood":
        flood(args[0], int(args[1]))
    elif cmd == "serve-list":
        serve_list(args[0], int(args[1]))
    elif cmd == "idle":
        idle(args[0], int(args[1]), float(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
