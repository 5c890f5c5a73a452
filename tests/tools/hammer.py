#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# tests/tools/hammer.py HOST PORT SECONDS OUT - one TCP connection after another for SECONDS:
# connect, send a line, read it back, close. Writes "ok N refused R other O" to OUT at the end
# (and the first few errors, one a line). A refused connect is what a restart must never cause;
# "other" counts connections that were accepted and then cut (a restart ends live connections).
import socket
import sys
import time

host, port, seconds, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ok = refused = other = 0
errors = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        c = socket.create_connection((host, port), timeout=10)
    except ConnectionRefusedError as e:
        refused += 1
        errors.append("refused: %s" % e)
        time.sleep(0.001)
        continue
    except OSError as e:
        other += 1
        errors.append("connect: %s" % e)
        continue
    try:
        c.sendall(b"ping\n")
        got = b""
        while not got.endswith(b"\n"):
            k = c.recv(64)
            if not k:
                break
            got += k
        if got == b"ping\n":
            ok += 1
        else:
            other += 1
            errors.append("short reply %r" % got)
    except OSError as e:
        other += 1
        errors.append("io: %s" % e)
    finally:
        c.close()
with open(out, "w") as f:
    f.write("ok %d refused %d other %d\n" % (ok, refused, other))
    for e in errors[:10]:
        f.write(e + "\n")
