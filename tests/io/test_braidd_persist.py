#!/usr/bin/python3
"""braidd keeps its sessions in SQLite:
- a missing database is refused unless --create-db; the file made is owner-only;
- braidd killed with SIGKILL and started again: the sessions are back with their ids and
  bound ports, forwarding again, their counters continued from the last saved values;
- a corrupt database, or an SQLite file that is not braidd's, stops braidd with one clear
  line (exit 1) and is left as it was: never silently replaced."""

import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402


def rtp(seq):
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0x7777) + b"\x11" * 200


class Sink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]

    def drain(self, want, timeout=3):
        got = 0
        deadline = time.monotonic() + timeout
        while got < want and time.monotonic() < deadline:
            try:
                self.sock.recvfrom(65536)
                got += 1
            except socket.timeout:
                pass
        return got


def send(port, first, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        s.sendto(rtp(first + i), ("127.0.0.1", port))
        time.sleep(0.001)
    s.close()


def run_once(braidd, argv):
    r = subprocess.run([braidd, "--grpc", "127.0.0.1:0", *argv], capture_output=True, text=True,
                       timeout=10)
    return r.returncode, r.stderr.strip().splitlines()


def check_refusals(c, braidd, workdir):
    missing = os.path.join(workdir, "missing.db")
    code, lines = run_once(braidd, ["--db", missing])
    c.check(code == 1 and len(lines) == 1 and "does not exist" in lines[0] and
            not os.path.exists(missing),
            f"a missing database without --create-db: exit 1, one line, nothing made "
            f"({code}: {lines})")
    corrupt = os.path.join(workdir, "corrupt.db")
    with open(corrupt, "wb") as f:
        f.write(b"this is not an sqlite file, but someone's notes\n" * 100)
    before = open(corrupt, "rb").read()
    code, lines = run_once(braidd, ["--db", corrupt, "--create-db"])
    c.check(code == 1 and len(lines) == 1 and "corrupt.db" in lines[0] and
            open(corrupt, "rb").read() == before,
            f"a corrupt database: exit 1, one line naming it, the file untouched ({lines})")
    other = os.path.join(workdir, "other.db")
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    code, lines = run_once(braidd, ["--db", other])
    c.check(code == 1 and len(lines) == 1 and "schema version" in lines[0],
            f"another program's SQLite file: refused ({lines})")


def main():
    braidd = sys.argv[1]
    c = bt.Checks("braidd_persist")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        sink = Sink()
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            check_refusals(c, braidd, workdir)
            path = os.path.join(workdir, "braidd.db")
            args = ["--db", path, "--create-db"]
            d = bd.start_braidd(procs, braidd, extra=args)
            c.check(os.stat(path).st_mode & 0o777 == 0o600, "the database is owner-only")
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
            proxy = cl.proxy(sink.port, max_packet_rate=100000)
            bond = cl.call("CreateSession", pb.CreateSessionRequest(
                kind=pb.KIND_BOND_RECEIVE, listen=pb.Endpoint(address="127.0.0.1"),
                output=f"udp://127.0.0.1:{sink.port}", psk=b"shared secret", latency_ms=300))
            send(proxy.listen.port, 0, 120)
            c.check(sink.drain(120) == 120, "before: 120 packets through the proxy")
            time.sleep(1.5)  # counters are saved every second
            before = cl.status(proxy.session_id).stats
            cl.close()
            procs.stop(d, signal.SIGKILL)
            d2 = bd.start_braidd(procs, braidd, name="braidd2", extra=["--db", path])
            m = procs.wait_stderr(d2, r"(\d+) sessions? restored")
            c.check(m.group(1) == "2", f"after SIGKILL: 2 sessions restored ({m.group(1)})")
            cl = bd.Client(pb, pbg, hpb, hpbg, d2.grpc_port)
            listed = {s.session_id: s for s in cl.call("ListSessions",
                                                       pb.ListSessionsRequest()).sessions}
            c.check(set(listed) == {proxy.session_id, bond.session_id},
                    "the same session ids")
            c.check(listed[proxy.session_id].listen.port == proxy.listen.port and
                    listed[bond.session_id].listen.port == bond.listen.port,
                    "each listens on the port it had bound")
            b = listed[bond.session_id]
            c.check(b.spec.latency_ms == 300 and b.spec.output.endswith(str(sink.port)) and
                    b.state == pb.STATE_CONNECTING, "the bond session's spec is back, CONNECTING")
            after_restart = listed[proxy.session_id].stats
            c.check(after_restart.packets_received == before.packets_received == 120 and
                    after_restart.bytes_sent == before.bytes_sent,
                    f"counters continued from the saved values "
                    f"({after_restart.packets_received} packets)")
            send(proxy.listen.port, 120, 30)
            c.check(sink.drain(30) == 30, "the proxy forwards again")
            now = cl.status(proxy.session_id).stats
            c.check(now.packets_received == 150 and now.packets_sent == 150,
                    f"and counts on from 120 ({now.packets_received})")
            cl.call("DestroySession", pb.DestroySessionRequest(session_id=bond.session_id))
            cl.close()
            procs.stop(d2, signal.SIGTERM)
            d3 = bd.start_braidd(procs, braidd, name="braidd3", extra=["--db", path])
            m = procs.wait_stderr(d3, r"(\d+) sessions? restored")
            c.check(m.group(1) == "1", "a destroyed session stays gone after a restart")
            cl = bd.Client(pb, pbg, hpb, hpbg, d3.grpc_port)
            c.check(cl.status(proxy.session_id).stats.packets_received == 150,
                    "a clean shutdown saved the last counters (150)")
            cl.close()
        finally:
            procs.stop_all()
            sink.sock.close()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
