#!/usr/bin/python3
"""braid emu on loopback, measured from outside by a UDP generator and a sink written here:
a constant rate, a delay, Gilbert-Elliott loss, the SIGUSR1 blackhole, a scheduled outage,
a scenario event, the control socket, JSON statistics, --duration and clean exits.

Every datagram carries its sequence number and the CLOCK_MONOTONIC time it was sent, so the
sink can tell what was lost, and when, and how long each one took."""

import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

BRAID = sys.argv[1]
LO = "127.0.0.1"
HEADER = struct.Struct("!QQ")  # sequence number, send time in ns

children = []
temp_paths = []
counts = {"passed": 0, "failed": 0}


def check(cond, what):
    counts["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)


def now_ns():
    return time.monotonic_ns()


def temp_path(suffix):
    fd, path = tempfile.mkstemp(prefix="braid_emu_test_", suffix=suffix)
    os.close(fd)
    temp_paths.append(path)
    return path


class Sink:
    """Receives on 127.0.0.1 in a thread; records (arrival ns, seq, sent ns, size)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((LO, 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            at = now_ns()
            if len(data) >= HEADER.size:
                seq, sent = HEADER.unpack_from(data)
                self.got.append((at, seq, sent, len(data)))

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Emu:
    """A braid emu process; stderr is read in a thread so it never blocks."""

    def __init__(self, link_keys, sink_port, extra=()):
        spec = f"listen={LO}:0,to={LO}:{sink_port}" + (f",{link_keys}" if link_keys else "")
        self.proc = subprocess.Popen([BRAID, "emu", "--link", spec, *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        children.append(self.proc)
        self.lines = []
        self.port = None
        self.control = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"listening on 127\.0\.0\.1:(\d+) ->", line)
                if m:
                    self.port = int(m.group(1))
                    self.opened_ns = now_ns()
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        ready.wait(5)
        if self.port is None:
            raise RuntimeError("braid emu did not start: " + " | ".join(self.lines))

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(2)
        return rc


def send_paced(port, pps, seconds, size, on_tick=None):
    """Sends `size`-byte datagrams at `pps` for `seconds`; returns {seq: send ns}."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    pad = bytes(size - HEADER.size)
    sent = {}
    start = now_ns()
    total = int(pps * seconds)
    seq = 0
    while seq < total:
        elapsed = (now_ns() - start) / 1e9
        if on_tick:
            on_tick(elapsed)
        due = min(total, int(elapsed * pps) + 1)
        while seq < due:
            t = now_ns()
            sock.sendto(HEADER.pack(seq, t) + pad, (LO, port))
            sent[seq] = t
            seq += 1
        time.sleep(0.0005)
    sock.close()
    return sent


def drain(sink, quiet_s=0.3, limit_s=5.0):
    """Waits until the sink has heard nothing for quiet_s."""
    end = time.monotonic() + limit_s
    last = -1
    while time.monotonic() < end:
        n = len(sink.got)
        if n == last:
            return
        last = n
        time.sleep(quiet_s)


def read_stats(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- the tests ----

def test_rate():
    """10 Mbit/s offered 12 Mbit/s of 1316-byte datagrams: the sink gets 10 Mbit/s."""
    sink = Sink()
    emu = Emu("rate=10mbit", sink.port)
    try:
        send_paced(emu.port, 12e6 / (1316 * 8), 3.0, 1316)
        time.sleep(0.2)
        arrivals = sorted(g[0] for g in sink.got)
        first = arrivals[0]
        window = [t for t in arrivals if first + 0.5e9 <= t <= first + 2.7e9]
        bps = (len(window) - 1) * 1316 * 8 / ((window[-1] - window[0]) / 1e9)
        print(f"     rate: {bps / 1e6:.4f} Mbit/s over {len(window)} datagrams "
              f"({(bps / 10e6 - 1) * 100:+.2f} %)")
        check(abs(bps / 10e6 - 1) <= 0.02, "constant 10 Mbit/s delivers 10 Mbit/s within 2 %")
        rc = emu.stop(signal.SIGINT)
        check(rc == 0, "SIGINT exits cleanly")
        check(any("link link1 fwd: offered" in l for l in emu.lines),
              "final figures printed on exit")
    finally:
        sink.close()


def test_delay():
    """40 ms of delay, light traffic: the median one-way time is 40 ms within 1 ms."""
    sink = Sink()
    emu = Emu("delay=40ms", sink.port)
    try:
        send_paced(emu.port, 100, 2.0, 200)
        drain(sink)
        delays = [(at - sent) / 1e6 for at, _, sent, _ in sink.got]
        median = statistics.median(delays)
        print(f"     delay: median {median:.3f} ms, min {min(delays):.3f} ms, "
              f"max {max(delays):.3f} ms over {len(delays)}")
        check(len(delays) == 200, "every datagram of a lossless link arrives")
        check(abs(median - 40.0) <= 1.0, "40 ms delay measures 40 ms within 1 ms at the median")
        check(min(delays) >= 39.9, "nothing arrives early")
        check(emu.stop() == 0, "SIGTERM exits cleanly")
    finally:
        sink.close()


def runs_of_losses(missing):
    runs, length, previous = [], 0, None
    for seq in sorted(missing):
        if previous is not None and seq == previous + 1:
            length += 1
        else:
            if length:
                runs.append(length)
            length = 1
        previous = seq
    if length:
        runs.append(length)
    return runs


def test_ge_loss():
    """ge:1%:10%:100%:0%: 9.09 % loss in bursts of mean length 10 (40000 datagrams)."""
    n, p, r = 40000, 0.01, 0.10
    stats_path = temp_path(".jsonl")
    sink = Sink()
    emu = Emu("loss=ge:1%:10%:100%:0%", sink.port,
              ["--stats", stats_path, "--stats-interval", "200ms"])
    try:
        sent = send_paced(emu.port, 8000, n / 8000, 64)
        drain(sink)
        received = {g[1] for g in sink.got}
        missing = set(sent) - received
        loss = len(missing) / len(sent)
        runs = runs_of_losses(missing)
        mean_run = sum(runs) / max(1, len(runs))
        # Fraction of time a two-state chain spends in its bad state: asymptotic variance
        # pi_b pi_g (2 - p - r) / (p + r) / n; bursts: geometric with variance (1 - r) / r^2.
        expected = p / (p + r)
        sigma = (expected * (1 - expected) * (2 - p - r) / (p + r) / n) ** 0.5
        run_sigma = ((1 - r) / r ** 2 / max(1, len(runs))) ** 0.5
        print(f"     GE loss: {loss * 100:.3f} % (expected {expected * 100:.3f} +- "
              f"{4 * sigma * 100:.2f}), {len(runs)} bursts of mean {mean_run:.2f} "
              f"(expected 10 +- {4 * run_sigma:.2f})")
        check(len(sent) == n, f"{n} datagrams sent")
        check(abs(loss - expected) <= 4 * sigma, "GE loss rate within 4 sigma of p/(p+r)")
        check(abs(mean_run - 1 / r) <= 4 * run_sigma, "GE bursts of mean length 1/r")
        check(emu.stop() == 0, "SIGTERM exits cleanly")
        lines = read_stats(stats_path)
        final = [l for l in lines if l.get("final")]
        check(len(lines) >= 10 and len(final) == 1, "JSON lines every 200 ms and a final one")
        if final:
            fwd = final[0]["fwd"]
            check(fwd["offered"] == n and fwd["dropped_loss"] == len(missing) and
                  fwd["delivered"] == len(received),
                  "stats count what the sink saw (offered, delivered, dropped_loss)")
            keys = {"offered", "delivered", "dropped_loss", "dropped_queue", "dropped_outage",
                    "rate_bps", "queue_delay_ms"}
            check(keys <= set(fwd) and keys <= set(final[0]["rev"]) and
                  final[0]["link"] == "link1", "stats name the link and both directions")
    finally:
        sink.close()


def test_blackhole():
    """SIGUSR1 stops all traffic; a second SIGUSR1 lets it through again."""
    sink = Sink()
    emu = Emu("", sink.port)
    marks = {}

    def tick(elapsed):
        if elapsed >= 1.0 and "on" not in marks:
            marks["on"] = now_ns()
            emu.proc.send_signal(signal.SIGUSR1)
        if elapsed >= 2.0 and "off" not in marks:
            marks["off"] = now_ns()
            emu.proc.send_signal(signal.SIGUSR1)

    try:
        sent = send_paced(emu.port, 500, 3.0, 100, tick)
        drain(sink)
        received = {g[1] for g in sink.got}
        guard = 20e6
        during = [s for s, t in sent.items() if marks["on"] + guard <= t <= marks["off"]]
        before = [s for s, t in sent.items() if t <= marks["on"] - guard]
        after = [s for s, t in sent.items() if t >= marks["off"] + guard]
        check(len(during) > 400 and not received.intersection(during),
              "nothing gets through while blackholed")
        check(set(before) <= received, "everything got through before SIGUSR1")
        check(set(after) <= received, "traffic resumes after a second SIGUSR1")
        check(any("blackhole on" in l for l in emu.lines) and
              any("blackhole off" in l for l in emu.lines), "the toggles are reported")
        check(emu.stop() == 0, "SIGTERM exits cleanly")
    finally:
        sink.close()


def test_outage():
    """outage=1s+1s: nothing sent between 1 s and 2 s after start is delivered (+-50 ms)."""
    sink = Sink()
    emu = Emu("outage=1s+1s", sink.port)
    try:
        sent = send_paced(emu.port, 500, 3.0, 100)
        drain(sink)
        received = {g[1] for g in sink.got}
        lost_at = sorted((sent[s] - emu.opened_ns) / 1e9 for s in set(sent) - received)
        print(f"     outage: lost from {lost_at[0]:.3f} s to {lost_at[-1]:.3f} s "
              f"({len(lost_at)} datagrams)" if lost_at else "     outage: nothing lost")
        check(bool(lost_at) and abs(lost_at[0] - 1.0) <= 0.05 and abs(lost_at[-1] - 2.0) <= 0.05,
              "the outage window is 1 s to 2 s within 50 ms")
        inside = [s for s, t in sent.items()
                  if 1.05 <= (t - emu.opened_ns) / 1e9 <= 1.95]
        check(len(inside) > 400 and not received.intersection(inside),
              "nothing delivered inside the outage")
        outside = [s for s, t in sent.items()
                   if not 0.95 <= (t - emu.opened_ns) / 1e9 <= 2.05]
        check(set(outside) <= received, "everything outside it is delivered")
        check(emu.stop() == 0, "SIGTERM exits cleanly")
    finally:
        sink.close()


def test_scenario_and_control():
    """A scenario event blackholes the link at 0.5 s; the control socket lifts it."""
    scenario = temp_path(".txt")
    sink = Sink()
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctl.bind((LO, 0))
    ctl_port = ctl.getsockname()[1]
    ctl.close()  # a free port for --control; nothing else on loopback takes it this fast
    with open(scenario, "w") as f:
        f.write("# test\nlink lte listen=127.0.0.1:0,to=127.0.0.1:%d,delay=5ms\n"
                "at 500ms lte blackhole on\n" % sink.port)
    proc = subprocess.Popen([BRAID, "emu", "--scenario", scenario, "--control",
                             f"{LO}:{ctl_port}"], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    children.append(proc)
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctl.settimeout(2)
    try:
        line = proc.stderr.readline()
        m = re.search(r"link lte listening on 127\.0\.0\.1:(\d+)", line)
        check(m is not None, "a scenario link starts and names itself")
        if not m:
            return
        port = int(m.group(1))
        proc.stderr.readline()  # the control line
        src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        src.sendto(HEADER.pack(1, now_ns()), (LO, port))
        time.sleep(0.8)
        src.sendto(HEADER.pack(2, now_ns()), (LO, port))
        time.sleep(0.1)
        ctl.sendto(b"lte blackhole off\n", (LO, ctl_port))
        reply = ctl.recv(200).decode()
        ctl.sendto(b"nosuch blackhole on", (LO, ctl_port))
        bad = ctl.recv(200).decode()
        src.sendto(HEADER.pack(3, now_ns()), (LO, port))
        time.sleep(0.2)
        src.close()
        seqs = sorted(g[1] for g in sink.got)
        check(reply.startswith("ok 1") and bad.startswith("error:") and "nosuch" in bad,
              "the control socket answers ok and names errors")
        check(seqs == [1, 3], "the timed blackhole and the control command take effect")
        proc.terminate()
        check(proc.wait(5) == 0, "SIGTERM exits cleanly")
        check(any(re.match(r"^\[ *0\.5\d\d s\] braid emu: lte blackhole on", l)
                  for l in proc.stderr),
              "the scenario event is reported at its time")
    finally:
        ctl.close()
        sink.close()
        proc.terminate()
        proc.wait(5)


def test_duration_and_usage():
    start = time.monotonic()
    proc = subprocess.run([BRAID, "emu", "--link", f"listen={LO}:0,to={LO}:9", "--duration",
                           "500ms"], capture_output=True, text=True, timeout=10)
    took = time.monotonic() - start
    check(proc.returncode == 0 and 0.4 <= took < 3, "--duration 500ms exits by itself")
    for args, word in [(["--link", f"listen={LO}:0,to={LO}:9,delay=40"], "delay"),
                       (["--link", f"listen={LO}:0,to={LO}:9,loss=ge:1%"], "loss"),
                       (["--link", f"to={LO}:9"], "listen"),
                       (["--duration", "1"], "--link"),
                       (["--link", f"listen={LO}:0,to={LO}:9", "--scenario", "/nonexistent"],
                        "--scenario")]:
        proc = subprocess.run([BRAID, "emu", *args], capture_output=True, text=True, timeout=10)
        lines = proc.stderr.strip().splitlines()
        check(proc.returncode == 2 and len(lines) == 1 and word in lines[0],
              f"bad {word} is a one-line usage error naming it")


def main():
    try:
        for test in (test_rate, test_delay, test_ge_loss, test_blackhole, test_outage,
                     test_scenario_and_control, test_duration_and_usage):
            print(f"-- {test.__name__}", flush=True)
            try:
                test()
            except Exception as e:  # a broken test is a failure, and the others still run
                check(False, f"{test.__name__} raised {e!r}")
    finally:
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for path in temp_paths:
            if os.path.exists(path):
                os.unlink(path)
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    return 1 if counts["failed"] or not counts["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
