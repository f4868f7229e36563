"""Helpers for the dashboard's tests: a bonded stream through two `braid emu` links with
`--http` on both ends, and plain HTTP on loopback."""

import os
import threading
import urllib.error
import urllib.request

import braidtest as bt

CHUNK = 1316  # seven TS packets: what an encoder sends in one datagram


def dashboard_port(procs, p):
    m = procs.wait_stderr(p, r"dashboard at http://127\.0\.0\.1:(\d+)/")
    return int(m.group(1))


class Stream:
    """recv and send (with --http on port 0 unless told not), two emulated links between
    them, and a file of random bytes paced into send in a thread (start_pacing); the
    output is a file."""

    def __init__(self, procs, braid, work, seconds=10, bitrate=2_000_000, http=True,
                 interval_ms=1000):
        self.work = work
        self.input = os.path.join(work, "in.bin")
        self.output = os.path.join(work, "out.bin")
        with open(self.input, "wb") as f:
            f.write(os.urandom(int(seconds * bitrate / 8) // CHUNK * CHUNK))
        self.bitrate = bitrate
        extra = (["--http", "127.0.0.1:0"] if http else []) + [
            "--stats-interval", str(interval_ms)]
        self.recv = bt.start_recv(procs, braid, work, f"file://{self.output}", extra=extra)
        self.emus = [bt.start_emu(procs, braid, name, self.recv.port, keys)
                     for name, keys in (("wired", "delay=10ms"),
                                        ("lte", "delay=30ms,jitter=5ms,loss=1%"))]
        links = [f"name={e.braid_name[4:]},to=127.0.0.1:{e.port}" for e in self.emus]
        # broadcast: every link carries the stream, so every link's counters move
        self.send = bt.start_send(procs, braid, work, self.recv.port, links,
                                  extra=extra + ["--mode", "broadcast"])
        if http:
            self.recv_http = dashboard_port(procs, self.recv)
            self.send_http = dashboard_port(procs, self.send)
        self.pacer = None

    def start_pacing(self):
        self.pacer = threading.Thread(
            target=bt.pace_file, args=(self.input, self.send.port, self.bitrate), kwargs={
                "chunk": CHUNK}, daemon=True)
        self.pacer.start()

    def wait_paced(self):
        self.pacer.join()


def get(port, path, timeout=5):
    """(status, body bytes) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
