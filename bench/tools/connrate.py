#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# connrate.py PORT SECONDS [CONCURRENCY]: new connections per second through a proxy to an echo
# server on 127.0.0.1:PORT: each connection sends one byte, waits for it to come back, closes.
# Prints "conns=N rate=R/s failed=F".
import asyncio, sys, time

port, dur = int(sys.argv[1]), float(sys.argv[2])
conc = int(sys.argv[3]) if len(sys.argv) > 3 else 32
done = failed = 0

async def worker(end):
    global done, failed
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"x")
            await w.drain()
            b = await asyncio.wait_for(r.readexactly(1), 5)
            w.close()
            done += 1
        except Exception:
            failed += 1

async def main():
    end = time.monotonic() + dur
    t0 = time.monotonic()
    await asyncio.gather(*(worker(end) for _ in range(conc)))
    print("conns=%d rate=%.0f failed=%d" % (done, done / (time.monotonic() - t0), failed))

asyncio.run(main())
