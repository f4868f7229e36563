"""Helpers for braid's process-level tests: start programs and always stop them (by PID),
read the ports they report, make test streams with ffmpeg, pace UDP, count checks.

Tests send traffic only to loopback. Every process started through Procs is ended in
Procs.stop_all(), and every file lives in a TemporaryDirectory the test removes."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

TS_CHUNK = 7 * 188


class Checks:
    """Counts assertions; a failed one is reported and the test goes on."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAILED: {what}", flush=True)
        return cond

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Procs:
    """Child processes, each with its stderr in a file; stop_all() ends every one by PID."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, name, argv, stdin=None, stdout=None):
        err_path = os.path.join(self.workdir, f"{name}.stderr")
        err = open(err_path, "wb")
        p = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             stdout=stdout if stdout is not None else subprocess.DEVNULL,
                             stderr=err)
        err.close()
        p.braid_name = name
        p.stderr_path = err_path
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()

    def stderr(self, p):
        with open(p.stderr_path, "r", errors="replace") as f:
            return f.read()

    def wait_stderr(self, p, pattern, timeout=10):
        """Waits until the process's stderr matches; returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.stderr(p))
            if m:
                return m
            if p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{p.braid_name}: no '{pattern}' on stderr:\n{self.stderr(p)}")


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def start_recv(procs, braid, workdir, output, extra=()):
    stats = os.path.join(workdir, "recv.json")
    p = procs.start("recv", [braid, "recv", "--listen", "127.0.0.1:0", "--output", output,
                             "--stats", stats, "--stats-interval", "200", *extra])
    m = procs.wait_stderr(p, r"listening on (\S+),")
    p.port = port_of(m.group(1))
    p.stats_path = stats
    return p


def start_emu(procs, braid, name, target_port, keys=""):
    spec = f"name={name},listen=127.0.0.1:0,to=127.0.0.1:{target_port}"
    if keys:
        spec += "," + keys
    p = procs.start(f"emu-{name}", [braid, "emu", "--link", spec])
    m = procs.wait_stderr(p, rf"link {re.escape(name)} listening on (\S+)")
    p.port = port_of(m.group(1))
    return p


def start_send(procs, braid, workdir, to_port, links, extra=(), input_spec="udp://127.0.0.1:0",
               stdin=None):
    stats = os.path.join(workdir, "send.json")
    argv = [braid, "send", "--input", input_spec, "--to", f"127.0.0.1:{to_port}",
            "--stats", stats, "--stats-interval", "200", *extra]
    for link in links:
        argv += ["--link", link]
    p = procs.start("send", argv, stdin=stdin)
    if input_spec == "-":
        procs.wait_stderr(p, r"braid send: ")
    else:
        m = procs.wait_stderr(p, r"input on (\S+),")
        p.port = port_of(m.group(1))
    p.stats_path = stats
    return p


def make_ts(path, seconds=10, video_kbit=5000):
    """An MPEG-TS file of real H.264 + AAC at a constant mux rate, made by ffmpeg."""
    mux = video_kbit + 500
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
         "-b:v", f"{video_kbit}k", "-minrate", f"{video_kbit}k", "-maxrate", f"{video_kbit}k",
         "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", "128k",
         "-muxrate", f"{mux}k", "-f", "mpegts", path], check=True)
    return mux * 1000


def pace_file(path, port, bitrate, on_progress=None, chunk=TS_CHUNK):
    """Sends a file as UDP datagrams of `chunk` bytes to 127.0.0.1:port in real time.
    on_progress(fraction) is called as it goes (to act mid-stream)."""
    with open(path, "rb") as f:
        data = f.read()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = (len(data) + chunk - 1) // chunk
    interval = chunk * 8 / bitrate
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendto(data[i * chunk:(i + 1) * chunk], ("127.0.0.1", port))
        if on_progress:
            on_progress(i / n)
    s.close()
    return n


def json_lines(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def final_stats(path):
    lines = [l for l in json_lines(path) if l.get("final")]
    return lines[-1] if lines else None


def events(path, kind=None):
    return [l for l in json_lines(path) if "event" in l and (kind is None or l["event"] == kind)]


def files_identical(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def ts_continuity_errors(path):
    """Counts MPEG-TS continuity-counter errors: per PID, a payload-carrying packet must
    carry the previous counter + 1 (mod 16); a repeated counter is a legal duplicate."""
    errors = 0
    last = {}
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 188 or (data and data[0] != 0x47):
        return -1
    for off in range(0, len(data), 188):
        pkt = data[off:off + 188]
        if pkt[0] != 0x47:
            return -1
        pid = ((pkt[1] & 0x1f) << 8) | pkt[2]
        if pid == 0x1fff:
            continue
        afc = (pkt[3] >> 4) & 3
        cc = pkt[3] & 0x0f
        discontinuity = afc & 2 and pkt[4] > 0 and pkt[5] & 0x80
        if afc & 1:
            if pid in last and not discontinuity and cc != (last[pid] + 1) % 16 and cc != last[pid]:
                errors += 1
            last[pid] = cc
    return errors


def tempdir():
    return tempfile.TemporaryDirectory(prefix="braid-test-")


def main_guard(fn):
    """Runs fn(braid_path) and exits with its status."""
    if len(sys.argv) < 2:
        print("usage: test.py PATH_TO_BRAID", file=sys.stderr)
        sys.exit(2)
    sys.exit(fn(os.path.abspath(sys.argv[1])))
