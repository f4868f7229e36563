#!/usr/bin/python3
"""--config FILE for braid send and recv: the file's `key = value` lines are read, options
on the command line override them (a repeatable one replaces all of the file's), and a bad
line, key or value is one line naming the file and line, with exit code 2. A stream whose
both ends are set up by files arrives byte for byte."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402


def write(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def bad_configs(checks, braid, work):
    # (command, file text, extra arguments, words the one line must hold)
    cases = [
        ("recv", "listen = 127.0.0.1:0\nlatncy = 5\n", ["--output", "-"],
         ["bad.conf:2", "latncy"]),
        ("recv", "listen = 127.0.0.1:0\n\n# budget\nlatency = fast\n", ["--output", "-"],
         ["bad.conf:4", "--latency", "fast"]),
        ("recv", "listen\n", [], ["bad.conf:1", "key = value"]),
        ("recv", "listen = \n", [], ["bad.conf:1", "key = value"]),
        ("send", "config = other.conf\n", [], ["bad.conf:1", "config"]),
        ("send", "input = 127.0.0.1:0\nto = 127.0.0.1:9\nlink = name=a,colour=blue\n", [],
         ["bad.conf:3", "colour"]),
        ("send", "help = yes\n", [], ["bad.conf:1", "help"]),
    ]
    for cmd, text, extra, words in cases:
        path = write(work, "bad.conf", text)
        r = subprocess.run([braid, cmd, "--config", path, *extra], capture_output=True,
                           text=True, timeout=10)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        checks.check(r.returncode == 2 and len(lines) == 1 and all(w in r.stderr for w in words),
                     f"{cmd} {text!r} -> exit {r.returncode}, {r.stderr.strip()!r}")
    for argv, word in ((["recv", "--config", os.path.join(work, "none.conf")], "none.conf"),
                       (["recv", "--config"], "--config"),
                       (["recv", "--config", "a", "--config=b"], "twice")):
        r = subprocess.run([braid, *argv], capture_output=True, text=True, timeout=10)
        checks.check(r.returncode == 2 and word in r.stderr and len(r.stderr.splitlines()) == 1,
                     f"{' '.join(argv[1:])} -> exit {r.returncode}, {r.stderr.strip()!r}")


def overrides(checks, braid, work):
    """Command-line options win; what the file says is used otherwise."""
    path = write(work, "recv.conf", "# a gateway\nlisten = 127.0.0.1:0\noutput = -  # stdout\n"
                 "latency = fast\nstats_interval = 250\n")
    procs = bt.Procs(work)
    try:
        r = procs.start("recv-over", [braid, "recv", "--config", path, "--latency", "300"])
        m = procs.wait_stderr(r, r"listening on \S+, latency (\d+) ms")
        checks.check(m.group(1) == "300", "--latency on the command line replaces the file's "
                     "(whose bad value is then never read)")
        procs.stop(r)
        path = write(work, "recv.conf", "listen = 127.0.0.1:0\noutput = -\nlatency = 800ms\n")
        r = procs.start("recv-file", [braid, "recv", "--config", path])
        m = procs.wait_stderr(r, r"listening on \S+, latency (\d+) ms")
        checks.check(m.group(1) == "800", "latency comes from the file without the option")
        procs.stop(r)
    finally:
        procs.stop_all()
    # a repeatable option on the command line replaces all of the file's: the file's
    # links have names used twice, which only counts if they are read
    path = write(work, "send.conf", "input = 127.0.0.1:0\nto = 127.0.0.1:9\n"
                 "link = name=a,addr=127.0.0.1\nlink = name=a,addr=127.0.0.1\n")
    r = subprocess.run([braid, "send", "--config", path], capture_output=True, text=True,
                       timeout=10)
    checks.check(r.returncode == 2 and "used twice" in r.stderr,
                 f"the file's links are read: {r.stderr.strip()!r}")
    procs = bt.Procs(work)
    try:
        s = procs.start("send-over", [braid, "send", "--config", path,
                                      "--link", "name=only,addr=127.0.0.1"])
        m = procs.wait_stderr(s, r"input on \S+, (\d+) links?,")
        checks.check(m.group(1) == "1", "--link on the command line replaces the file's links")
        procs.stop(s)
    finally:
        procs.stop_all()


def stream(checks, braid, work):
    """Both ends set up by their files only; the payload arrives unchanged."""
    payload = bytes((i * 13) % 256 for i in range(188 * 7 * 200))
    out = os.path.join(work, "out.ts")
    stats = os.path.join(work, "send-stats.json")
    recv_conf = write(work, "recv.conf", f"listen = 127.0.0.1:0\noutput = file://{out}\n"
                      "latency = 200ms\n")
    procs = bt.Procs(work)
    try:
        recv = procs.start("recv", [braid, "recv", "--config", recv_conf])
        port = bt.port_of(procs.wait_stderr(recv, r"listening on (\S+),").group(1))
        send_conf = write(work, "send.conf", f"input = -\nto = 127.0.0.1:{port}\n"
                          "link = name=one,addr=127.0.0.1\nlink = name=two,addr=127.0.0.1\n"
                          f"latency = 200\nmode = broadcast\nstats = {stats}\n"
                          "stats_interval = 100ms\n")
        reader, writer = os.pipe()
        send = procs.start("send", [braid, "send", "--config", send_conf], stdin=reader)
        os.close(reader)
        time.sleep(0.3)
        with os.fdopen(writer, "wb") as w:
            for i in range(0, len(payload), 188 * 7):
                w.write(payload[i:i + 188 * 7])
                w.flush()
                time.sleep(0.002)
        send.wait(timeout=10)
        time.sleep(0.5)
        procs.stop(recv)
        with open(out, "rb") as f:
            got = f.read()
        checks.check(got == payload, f"configured by files: {len(got)} of {len(payload)} "
                     "bytes arrive, identical")
        lines = bt.json_lines(stats) if os.path.exists(stats) else []
        checks.check(len(lines) >= 3, f"send's --stats and --stats-interval come from its "
                     f"file: {len(lines)} lines")
    finally:
        procs.stop_all()


def main(braid):
    checks = bt.Checks("config")
    with bt.tempdir() as work:
        bad_configs(checks, braid, work)
    with bt.tempdir() as work:
        overrides(checks, braid, work)
    with bt.tempdir() as work:
        stream(checks, braid, work)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
