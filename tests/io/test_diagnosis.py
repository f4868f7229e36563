#!/usr/bin/python3
"""When the links do not come up, both ends say why:
- a sender whose --psk differs from the gateway's says within 5 s, in one line, that the
  gateway has not answered and that the key may not match;
- a sender whose --latency differs from the gateway's is refused: the sender says the
  gateway's budget and its own, the gateway says the sender's and its own; no session
  starts."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

LINKS = ["name=a,addr=127.0.0.1"]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def check_wrong_key(c, braid, work):
    write(os.path.join(work, "gw.key"), b"the gateway's key")
    write(os.path.join(work, "unit.key"), b"another key")
    procs = bt.Procs(work)
    try:
        recv = bt.start_recv(procs, braid, work, "udp://127.0.0.1:9",
                             ["--psk", os.path.join(work, "gw.key")])
        send = bt.start_send(procs, braid, work, recv.port, LINKS,
                             ["--psk", os.path.join(work, "unit.key")])
        t0 = time.monotonic()
        try:
            line = procs.wait_stderr(send, r"braid send: no answer from the gateway .*$",
                                     timeout=5).group(0)
        except RuntimeError:
            line = ""
        c.check(line != "" and time.monotonic() - t0 < 5, "wrong key: said within 5 s")
        c.check("--psk" in line and "not reachable" in line,
                f"wrong key: the line names both causes ({line!r})")
        c.check(procs.stderr(send).count("no answer from the gateway") == 1,
                "wrong key: said once")
    finally:
        procs.stop_all()


def check_latency(c, braid, work):
    procs = bt.Procs(work)
    try:
        recv = bt.start_recv(procs, braid, work, "udp://127.0.0.1:9", ["--latency", "1000"])
        send = bt.start_send(procs, braid, work, recv.port, LINKS, ["--latency", "300"])
        try:
            s_line = procs.wait_stderr(send, r"braid send: the gateway refuses.*$").group(0)
        except RuntimeError:
            s_line = ""
        try:
            r_line = procs.wait_stderr(recv, r"braid recv: refused a sender.*$").group(0)
        except RuntimeError:
            r_line = ""
        c.check("1000 ms" in s_line and "300 ms" in s_line and "--latency" in s_line,
                f"latency: the sender says both budgets ({s_line!r})")
        c.check("300 ms" in r_line and "1000 ms" in r_line and "--latency" in r_line,
                f"latency: the gateway says both budgets ({r_line!r})")
        time.sleep(0.5)
        c.check("started" not in procs.stderr(recv), "latency: no session started")
        c.check("no answer from the gateway" not in procs.stderr(send),
                "latency: the refusal is not mistaken for silence")
        procs.stop(recv)
        final = bt.final_stats(recv.stats_path)
        c.check(final is not None and final["totals"]["dropped"]["latency_mismatch"] > 0,
                "latency: the gateway counts the refused HELLOs")
    finally:
        procs.stop_all()


def main(braid):
    c = bt.Checks("diagnosis")
    with bt.tempdir() as work:
        check_wrong_key(c, braid, work)
    with bt.tempdir() as work:
        check_latency(c, braid, work)
    return c.finish()


if __name__ == "__main__":
    bt.main_guard(main)
