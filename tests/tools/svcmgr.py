#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# tests/tools/svcmgr.py - a stand-in for systemd as the service manager of wormholed, for tests
# that cannot have systemd as PID 1
#
#   svcmgr.py --dir DIR [--listen NAME=tcp:HOST:PORT|udp:HOST:PORT|unix:PATH]...
#             [--ready-check HOST:PORT]... -- COMMAND...
#
# What systemd does for a Type=notify service with socket units and an fd store, and no more:
# - binds every --listen socket once, before the first start, and passes them on every start
#   as fds 3.. with LISTEN_FDS, LISTEN_PID (the daemon's own pid) and LISTEN_FDNAMES;
# - listens on NOTIFY_SOCKET (DIR/notify) and appends every message to DIR/notify.log, one field
#   a line, each message followed by "--";
# - keeps the descriptors sent with FDSTORE=1 under their FDNAME (a descriptor of a socket the
#   store already holds is not added twice), drops them on FDSTOREREMOVE=1, writes the names
#   held to DIR/store after every change, and passes them back, after the socket units', on
#   the next start;
# - on READY=1, connects at once to every --ready-check address and logs "READY-CHECK ok" or
#   "READY-CHECK failed HOST:PORT" in notify.log: a listener that READY=1 promised must accept;
# - SIGUSR1: restart (SIGTERM, wait, start again); SIGUSR2: SIGKILL and start again (restart on
#   failure); SIGTERM: stop the daemon and exit with its status. Each start is logged as
#   "START n pid P" in notify.log, each exit as "EXIT n status S".
import array
import os
import signal
import socket
import subprocess
import sys
import time


def parse_args(argv):
    opts = {"dir": None, "listen": [], "ready": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return opts, argv[i + 1:]
        if a in ("--dir", "--listen", "--ready-check"):
            v = argv[i + 1]
            if a == "--dir":
                opts["dir"] = v
            elif a == "--listen":
                opts["listen"].append(v)
            else:
                opts["ready"].append(v)
            i += 2
            continue
        sys.exit("svcmgr: unknown argument " + a)
    sys.exit("svcmgr: no command after --")


def bind_socket(spec):
    name, _, addr = spec.partition("=")
    kind, _, rest = addr.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(rest)
        except FileNotFoundError:
            pass
        s.bind(rest)
        s.listen(128)
        return name, s
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    if kind != "udp":
        s.listen(128)
    return name, s


class Manager:
    def __init__(self, d, listens, ready, cmd):
        self.dir = d
        self.cmd = cmd
        self.ready = ready
        self.sockets = [bind_socket(x) for x in listens]
        self.store = []  # (name, fd)
        self.gen = 0
        self.child = None
        self.log = open(os.path.join(d, "notify.log"), "a", buffering=1)
        path = os.path.join(d, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.notify_path = path
        self.pending = None
        self.write_store()

    def write_store(self):
        tmp = os.path.join(self.dir, "store.tmp")
        with open(tmp, "w") as f:
            for name, _ in self.store:
                f.write(name + "\n")
        os.rename(tmp, os.path.join(self.dir, "store"))

    def note(self, text):
        self.log.write(text + "\n--\n")

    def start(self):
        fds = [s.fileno() for _, s in self.sockets] + [fd for _, fd in self.store]
        names = [n for n, _ in self.sockets] + [n for n, _ in self.store]
        high = [os.dup(fd) for fd in fds]  # above 3..n, so the dup2()s below never collide
        for fd in high:
            os.set_inheritable(fd, True)

        def place():
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)
            for fd in high:
                if fd >= 3 + len(high):
                    os.close(fd)

        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        if fds:
            env.update(LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(names))
        # LISTEN_PID must be the daemon's pid: a shell sets it to its own, then execs
        argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + self.cmd
        if not fds:
            argv = self.cmd
        self.child = subprocess.Popen(argv, env=env, preexec_fn=place, close_fds=False)
        for fd in high:
            os.close(fd)
        self.gen += 1
        self.note("START %d pid %d" % (self.gen, self.child.pid))

    def handle_message(self):
        try:
            data, anc, _, _ = self.notify.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
        except (BlockingIOError, socket.timeout):
            return False
        fds = []
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(cdata[: len(cdata) - (len(cdata) % a.itemsize)])
                fds.extend(a)
        fields = dict(
            line.split("=", 1) for line in data.decode(errors="replace").split("\n") if "=" in line
        )
        self.note(data.decode(errors="replace").rstrip("\n"))
        if fields.get("FDSTORE") == "1":
            name = fields.get("FDNAME", "stored")
            for fd in fds:
                st = os.fstat(fd)
                if any(
                    os.fstat(k).st_ino == st.st_ino and os.fstat(k).st_dev == st.st_dev
                    for _, k in self.store
                ):
                    os.close(fd)
                    continue
                self.store.append((name, fd))
            fds = []
            self.write_store()
        if fields.get("FDSTOREREMOVE") == "1":
            name = fields.get("FDNAME")
            keep = []
            for n, fd in self.store:
                if n == name:
                    os.close(fd)
                else:
                    keep.append((n, fd))
            self.store = keep
            self.write_store()
        for fd in fds:
            os.close(fd)
        if fields.get("READY") == "1":
            for addr in self.ready:
                host, _, port = addr.rpartition(":")
                try:
                    c = socket.create_connection((host.strip("[]"), int(port)), timeout=1)
                    c.close()
                    self.note("READY-CHECK ok %s" % addr)
                except OSError as e:
                    self.note("READY-CHECK failed %s: %s" % (addr, e))
        return True

    def stop_child(self, sig):
        if not self.child:
            return 0
        try:
            self.child.send_signal(sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 20
        while self.child.poll() is None and time.monotonic() < deadline:
            self.drain(0.05)
        if self.child.poll() is None:
            self.child.kill()
        status = self.child.wait()
        self.drain(0)  # what it sent just before exiting (STOPPING=1) is still queued
        self.note("EXIT %d status %d" % (self.gen, status))
        self.child = None
        return status

    def drain(self, timeout):
        self.notify.settimeout(timeout)
        while self.handle_message():
            self.notify.settimeout(0)

    def run(self):
        signal.signal(signal.SIGUSR1, lambda *a: setattr(self, "pending", "restart"))
        signal.signal(signal.SIGUSR2, lambda *a: setattr(self, "pending", "kill"))
        signal.signal(signal.SIGTERM, lambda *a: setattr(self, "pending", "stop"))
        self.start()
        while True:
            self.drain(0.05)
            p, self.pending = self.pending, None
            if p == "restart":
                self.stop_child(signal.SIGTERM)
                self.start()
            elif p == "kill":
                self.stop_child(signal.SIGKILL)
                self.start()
            elif p == "stop":
                return self.stop_child(signal.SIGTERM)
            elif self.child and self.child.poll() is not None:
                status = self.child.wait()
                self.note("EXIT %d status %d" % (self.gen, status))
                self.child = None
                return status


def main():
    opts, cmd = parse_args(sys.argv[1:])
    if not opts["dir"]:
        sys.exit("svcmgr: --dir is required")
    m = Manager(opts["dir"], opts["listen"], opts["ready"], cmd)
    status = m.run()
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
