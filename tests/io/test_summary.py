#!/usr/bin/python3
"""braid send and braid recv say what happened when they stop, and the gateway sees its links:
- stopped by SIGINT, each prints a summary on stderr whose figures match what the test
  sent: the packets taken in, the packets released, no residual loss, each link by name;
- a sender reading stdin prints its summary at the end of the input, without a signal."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

LINKS = ["name=lte1,addr=127.0.0.1", "name=lte2,addr=127.0.0.2"]
PACKETS = 600


def stream(port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        s.sendto(i.to_bytes(4, "big") + bytes(1312), ("127.0.0.1", port))
        time.sleep(0.002)
    s.close()


def figure(text, label, what="packets"):
    m = re.search(rf"^  {label}\s+(\d+) {what}", text, re.M)
    return int(m.group(1)) if m else None


def check_gateway_links(c, stats_path):
    """The gateway's link objects carry what it can know, and nothing always zero."""
    ticks = [l for l in bt.json_lines(stats_path) if "sessions" in l and l["sessions"]]
    links = [k for t in ticks for s in t["sessions"] for k in s["links"]]
    c.check(len(links) > 0, "recv JSON: link objects present")
    c.check(all("capacity_kbps" not in k for k in links), "recv JSON: no capacity_kbps")
    c.check(any(k["rtt_ms"] > 0 for k in links), "recv JSON: rtt_ms from the sender's probes")
    c.check(any(k["delivered_kbps"] > 0 for k in links), "recv JSON: delivered_kbps measured")
    c.check(all(0 <= k["loss"] <= 1 for k in links), "recv JSON: loss is a fraction")
    c.check(all("nacks" in t["totals"] for t in ticks), "recv JSON: nacks in the totals")


def check_signalled(c, braid, work):
    procs = bt.Procs(work)
    try:
        recv = bt.start_recv(procs, braid, work, "udp://127.0.0.1:9", ["--latency", "200"])
        send = bt.start_send(procs, braid, work, recv.port, LINKS, ["--latency", "200"])
        procs.wait_stderr(recv, r"session \w+ started")
        stream(send.port, PACKETS)
        time.sleep(1.0)  # the latency budget passes, the receiver's stats tick
        check_gateway_links(c, recv.stats_path)
        c.check(procs.stop(send, signal.SIGINT) == 0, "send exits 0 on SIGINT")
        text = procs.stderr(send)
        c.check("braid send: summary after" in text, "send prints a summary")
        c.check(figure(text, "stream in") == PACKETS, f"send: stream in {PACKETS} packets")
        sent = figure(text, "sent", "datagrams")
        c.check(sent is not None and sent >= PACKETS, f"send: at least {PACKETS} sent ({sent})")
        downs = 0
        for name in ("lte1", "lte2"):
            m = re.search(rf"^  link {name}\s+\d+ packets, [\d.]+ MB, \w+, down (\d+) times?$",
                          text, re.M)
            c.check(m is not None, f"send: link {name} has its line")
            downs += int(m.group(1)) if m else 0
        # a loaded machine may see a link go down; the events line must agree with the links
        m = re.search(r"^  link events\s+(\d+) down, \d+ failovers?$", text, re.M)
        c.check(m is not None and int(m.group(1)) == downs,
                "send: link events line, its downs the links' sum")
        time.sleep(0.5)
        c.check(procs.stop(recv, signal.SIGINT) == 0, "recv exits 0 on SIGINT")
        text = procs.stderr(recv)
        c.check("braid recv: summary after" in text, "recv prints a summary")
        c.check(figure(text, "stream out") == PACKETS, f"recv: stream out {PACKETS} packets")
        c.check(re.search(r"^  residual loss\s+0 packets \(0\.0000 %\)$", text, re.M) is not None,
                "recv: no residual loss")
        c.check(re.search(r"^  resends\s+\d+ arrived, \d+ NACKs sent$", text, re.M) is not None,
                "recv: resends line")
        c.check(re.search(r"^  duplicates\s+\d+ removed, \d+ late, \d+ dropped$", text, re.M)
                is not None, "recv: duplicates line")
        for name in ("lte1", "lte2"):
            m = re.search(rf"^  session [0-9a-f]{{8}} link {name}\s+(\d+) datagrams", text, re.M)
            c.check(m is not None and int(m.group(1)) > 0, f"recv: link {name} has its line")
    finally:
        procs.stop_all()


def check_end_of_input(c, braid, work):
    procs = bt.Procs(work)
    try:
        recv = bt.start_recv(procs, braid, work, "udp://127.0.0.1:9", ["--latency", "200"])
        data = bytes(i % 251 for i in range(bt.TS_CHUNK * 50))
        send = bt.start_send(procs, braid, work, recv.port, LINKS, ["--latency", "200"],
                             input_spec="-", stdin=subprocess.PIPE)
        procs.wait_stderr(recv, r"session \w+ started")
        send.stdin.write(data)
        send.stdin.close()
        try:
            send.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        c.check(send.returncode == 0, "send exits 0 by itself at the end of stdin")
        text = procs.stderr(send)
        c.check(figure(text, "stream in") == len(data) // bt.TS_CHUNK,
                "send: the summary at the end of input counts every datagram")
    finally:
        procs.stop_all()


def main(braid):
    c = bt.Checks("summary")
    with bt.tempdir() as work:
        check_signalled(c, braid, work)
    with bt.tempdir() as work:
        check_end_of_input(c, braid, work)
    return c.finish()


if __name__ == "__main__":
    bt.main_guard(main)
