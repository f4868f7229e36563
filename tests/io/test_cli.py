#!/usr/bin/python3
"""Bad arguments: every one gets a single line on stderr that names it, and exit code 2, in
every subcommand: bad values, durations outside the one grammar (N, Nms, Ns), and files
the arguments name that cannot be read or written. Good ones: --help exits 0; an IPv6
stream over ::1 arrives byte for byte."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

LINK = ["--link", "127.0.0.2"]
SEND = ["send", "--input", "udp://127.0.0.1:0", "--to", "127.0.0.1:9"]
RECV = ["recv", "--listen", "127.0.0.1:0", "--output", "-"]

# (argv after 'braid', a word the message must contain)
BAD = [
    ([], "usage"),
    (["frobnicate"], "frobnicate"),
    (["send"], "--input"),
    (["send", "--input", "udp://127.0.0.1:0", *LINK], "--to"),
    (["send", "--input", "udp://127.0.0.1:0", "--to", "127.0.0.1:9"], "--link"),
    (["send", "--input", "tcp://1.2.3.4:5", "--to", "127.0.0.1:9", *LINK], "--input"),
    (["send", "--input", "udp://127.0.0.1:99999", "--to", "127.0.0.1:9", *LINK], "--input"),
    ([*SEND, "--link", "name=a,weight=x"], "weight"),
    ([*SEND, "--link", "name=a,colour=blue"], "colour"),
    ([*SEND, "--link", "name=a,to=nowhere"], "to"),
    ([*SEND, "--link", "name=,addr=127.0.0.2"], "name"),
    ([*SEND, "--link", "name=a", "--link", "name=a"], "name"),
    ([*SEND, *LINK, "--mode", "sideways"], "--mode"),
    ([*SEND, *LINK, "--latency", "fast"], "--latency"),
    ([*SEND, *LINK, "--latency", "5"], "--latency"),
    ([*SEND, *LINK, "--psk", "/nonexistent/key"], "--psk"),
    ([*SEND, *LINK, "--stats-interval", "0"], "--stats-interval"),
    ([*SEND, *LINK, "--bogus"], "--bogus"),
    ([*SEND, *LINK, "--latency"], "--latency"),
    (["recv"], "--listen"),
    (["recv", "--listen", "127.0.0.1:0"], "--output"),
    (["recv", "--listen", "here", "--output", "-"], "--listen"),
    (["recv", "--listen", "127.0.0.1:0", "--output", "ftp://x"], "--output"),
    ([*RECV, "--latency", "-3"], "--latency"),
    ([*RECV, "--psk", "/nonexistent/key"], "--psk"),
    (["recv", "--listen", "rist://127.0.0.1:5001", "--output", "-"], "even port"),
    (["recv", "--listen", "rist://127.0.0.1:0", "--output", "-"], "even port"),
    (["recv", "--listen", "rist://nowhere here", "--output", "-"], "rist://"),
    (["recv", "--listen", "rist://127.0.0.1:5000", "--output", "-", "--rist-nack", "some"],
     "--rist-nack"),
    ([*RECV, "--rist-nack", "range"], "--rist-nack"),
    ([*RECV[:-1], "rist://127.0.0.1:5001"], "even port"),
    (["demo", "--duration", "1"], "--duration"),
    (["demo", "--mode", "upside"], "--mode"),
]

EMU = ["emu", "--link", "listen=127.0.0.1:0,to=127.0.0.1:9"]
SCN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scenarios",
                   "baseline.scn")
NOWHERE = "/nonexistent-dir/braid"

# Durations: digits alone (the option's unit) or with ms or s; nothing else.
BAD_DURATIONS = ["0x100", "1e3", "1.5s", "100us", "10 s", " 100", "+100", "-3", "", "ms",
                 "100sec", "99999999999999999999999"]
DURATION_OPTIONS = [
    ([*SEND, *LINK], "--latency"),
    ([*RECV], "--latency"),
    ([*SEND, *LINK], "--stats-interval"),
    ([*RECV], "--stats-interval"),
    (EMU, "--stats-interval"),
    (EMU, "--duration"),
    (["demo"], "--duration"),
    (["sim", "--scenario", SCN], "--duration"),
]
for prefix, option in DURATION_OPTIONS:
    BAD += [([*prefix, option, text], option) for text in BAD_DURATIONS]
BAD += [
    ([*RECV, "--latency", "19ms"], "--latency"),
    ([*RECV, "--latency", "61s"], "--latency"),
    ([*SEND, *LINK, "--stats-interval", "9ms"], "--stats-interval"),
    (["demo", "--duration", "4999ms"], "--duration"),
    (["sim", "--scenario", SCN, "--duration", "172801s"], "--duration"),
]

# Files named by arguments: unreadable or unwritable is a bad argument too.
BAD += [
    ([*SEND, *LINK, "--stats", f"{NOWHERE}/s.json"], "--stats"),
    ([*RECV, "--stats", f"{NOWHERE}/s.json"], "--stats"),
    (["recv", "--listen", "127.0.0.1:0", "--output", f"file://{NOWHERE}/out.ts"], "--output"),
    (["recv", "--listen", "127.0.0.1:0", "--output", "file:///"], "--output"),
    (["recv", "--listen", "127.0.0.1:0", "--output", f"file://{NOWHERE}/{{session}}.ts"],
     "--output"),
    (["recv", "--listen", "127.0.0.1:0", "--output", "file:///tmp/{session}/out.ts"],
     "--output"),
    (["recv", "--listen", "127.0.0.1:0", "--output", "udp://127.0.0.1:{session}"], "--output"),
    ([*EMU, "--stats", f"{NOWHERE}/e.json"], "--stats"),
    ([*EMU, "--scenario", f"{NOWHERE}/x.scn"], "--scenario"),
    (["sim", "--scenario", SCN, "--plot", f"{NOWHERE}/p.svg"], "--plot"),
    (["sim", "--scenario", f"{NOWHERE}/x.scn"], "--scenario"),
    (["sim", "--write-trace", f"{NOWHERE}/t.up", "--ou", "3mbit:0:1", "--duration", "1"],
     "--write-trace"),
    (["rtcp", "replay", f"{NOWHERE}/r.json"], NOWHERE),
    (["rtcp", "dump", "--pcap", f"{NOWHERE}/c.pcap"], NOWHERE),
]


def main(braid):
    checks = bt.Checks("cli")
    for argv, word in BAD:
        r = subprocess.run([braid, *argv], capture_output=True, text=True, timeout=10)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        one_line = len(lines) == 1 or (argv == [] and r.returncode == 2)
        checks.check(r.returncode == 2 and one_line and word in r.stderr,
                     f"braid {' '.join(argv)} -> exit {r.returncode}, {r.stderr.strip()!r}")
    for cmd in ("send", "recv", "demo", "emu", "sim"):
        r = subprocess.run([braid, cmd, "--help"], capture_output=True, text=True, timeout=10)
        checks.check(r.returncode == 0 and "usage" in r.stdout and "Durations" in r.stdout
                     and "Exit status" in r.stdout,
                     f"braid {cmd} --help: usage, the duration grammar, the exit codes")

    # a file the arguments name for writing is checked without leaving one behind
    with bt.tempdir() as work:
        plot = os.path.join(work, "p.svg")
        r = subprocess.run([braid, "sim", "--scenario", SCN, "--plot", plot, "--mode", "x"],
                           capture_output=True, text=True, timeout=10)
        checks.check(r.returncode == 2 and "--mode" in r.stderr and not os.path.exists(plot),
                     "a writable --plot is not created when another argument is bad")

    # --bitrate-out: once a second, what the bond can carry, as a JSON datagram
    import json
    import socket
    with bt.tempdir() as work:
        procs = bt.Procs(work)
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(3.0)
        try:
            recv = bt.start_recv(procs, braid, work, "udp://127.0.0.1:9")
            bt.start_send(procs, braid, work, recv.port, ["name=a,addr=127.0.0.2"],
                          extra=["--bitrate-out", f"udp://127.0.0.1:{sink.getsockname()[1]}"])
            report = json.loads(sink.recv(512))
            checks.check(report.get("available_bitrate", 0) > 0 and report.get("live_links") == 1
                         and report.get("operational") is True,
                         f"--bitrate-out reports {report}")
        finally:
            sink.close()
            procs.stop_all()

    # a stream over IPv6 loopback, stdin input, stdout output
    with bt.tempdir() as work:
        payload = bytes((i * 7) % 256 for i in range(188 * 7 * 300))
        src = os.path.join(work, "in.ts")
        out = os.path.join(work, "out.ts")
        with open(src, "wb") as f:
            f.write(payload)
        procs = bt.Procs(work)
        try:
            with open(out, "wb") as out_file:
                recv = procs.start("recv6", [braid, "recv", "--listen", "[::1]:0",
                                             "--output", "-", "--latency", "100"],
                                   stdout=out_file)
            port = bt.port_of(procs.wait_stderr(recv, r"listening on (\S+),").group(1))
            reader, writer = os.pipe()
            send = procs.start("send6", [braid, "send", "--input", "-", "--to", f"[::1]:{port}",
                                         "--link", "name=v6a,addr=::1", "--link", "name=v6b",
                                         "--latency", "100"], stdin=reader)
            os.close(reader)
            time.sleep(0.3)
            with os.fdopen(writer, "wb") as w:
                for i in range(0, len(payload), 188 * 7):
                    w.write(payload[i:i + 188 * 7])
                    w.flush()
                    time.sleep(0.002)
            send.wait(timeout=10)  # stdin ended: it says goodbye and exits by itself
            time.sleep(0.3)
            procs.stop(recv)
            with open(out, "rb") as f:
                got = f.read()
            checks.check(send.returncode == 0, "braid send exits 0 at the end of its stdin")
            checks.check(got == payload, f"IPv6, stdin to stdout: {len(got)} of {len(payload)} "
                                         "bytes, identical")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
