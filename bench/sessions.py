#!/usr/bin/python3
"""The gateway's cost (docs/bench.md, "Many sessions into one gateway"), run by `make bench`:
N field units (`braid send`, three links each, every unit from its own loopback addresses)
stream RATE bit/s each for SECONDS into one `braid recv`, which writes one file per session
({session} output). Reported: whether every session arrived whole (each datagram once, in
order), the receiver's CPU per packet against bench/udp_forward carrying the same datagrams
from the same N sources in the same run (the floor of receiving and sending them again), and
the receiver's memory per session (resident set growth over its idle start, divided by N).
Everything runs on loopback; every process is ended by its PID."""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import braidtest as bt  # noqa: E402

PAYLOAD = 1316
MAGIC_AT = 0   # udp_blast's plain datagrams: magic word, then the sequence number
SEQ_AT = 8


def tool(build, name):
    return os.path.join(build, "bench", name)


def cpu_ns(build, pid):
    out = subprocess.run([tool(build, "cpu_ns"), str(pid)], check=True, capture_output=True,
                         text=True).stdout
    return int(out.split()[0])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def blast_all(build, ports, rate_pps, count):
    """One paced udp_blast per source port, all at once; waits for every one."""
    senders = [subprocess.Popen([tool(build, "udp_blast"), "send", "--to", f"127.0.0.1:{p}",
                                 "--count", str(count), "--rate", str(rate_pps), "--size",
                                 str(PAYLOAD)], stdout=subprocess.DEVNULL)
               for p in ports]
    for s in senders:
        if s.wait(120) != 0:
            raise RuntimeError("udp_blast send failed")


def session_whole(path, count):
    """Every datagram of one session's file once and in order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != count * PAYLOAD:
        return False
    for i in range(count):
        chunk = data[i * PAYLOAD:(i + 1) * PAYLOAD]
        if int.from_bytes(chunk[SEQ_AT:SEQ_AT + 8], "big") != i:
            return False
    return True


def run_braid(procs, build, work, n, rate_pps, count):
    braid = os.path.join(build, "src", "braid")
    out_dir = os.path.join(work, "rec")
    os.mkdir(out_dir)
    recv = procs.start("recv", [braid, "recv", "--listen", "127.0.0.1:0", "--output",
                                f"file://{out_dir}/s-{{session}}.ts"])
    port = bt.port_of(procs.wait_stderr(recv, r"listening on (\S+),").group(1))
    time.sleep(0.5)
    idle_kib = rss_kib(recv.pid)
    inputs, senders = [], []
    for i in range(n):
        # each field unit from its own addresses: the gateway caps sessions per source
        links = [f"name=m{k},addr=127.1.{i + 1}.{k}" for k in (1, 2, 3)]
        argv = [braid, "send", "--input", "udp://127.0.0.1:0", "--to", f"127.0.0.1:{port}"]
        for link in links:
            argv += ["--link", link]
        p = procs.start(f"send{i}", argv)
        senders.append(p)
        inputs.append(bt.port_of(procs.wait_stderr(p, r"input on (\S+),").group(1)))
    for p in senders:
        procs.wait_stderr(p, r"-> healthy")
    time.sleep(1)
    cpu0 = cpu_ns(build, recv.pid)
    blast_all(build, inputs, rate_pps, count)
    time.sleep(2.5)  # the budget (1 s) and the last releases
    cpu1 = cpu_ns(build, recv.pid)
    end_kib = rss_kib(recv.pid)
    files = sorted(glob.glob(os.path.join(out_dir, "s-*.ts")))
    whole = sum(session_whole(f, count) for f in files)
    for p in senders:
        procs.stop(p)
    procs.stop(recv)
    return {"cpu_ns": cpu1 - cpu0, "files": len(files), "whole": whole,
            "idle_kib": idle_kib, "end_kib": end_kib}


def run_forwarder(procs, build, work, n, rate_pps, count):
    sink = procs.start("sink", [tool(build, "udp_blast"), "sink", "--listen", "127.0.0.1:0",
                                "--count", str(count), "--idle-ms", "1000"],
                       stdout=open(os.path.join(work, "sink.out"), "wb"))
    sink_port = int(procs.wait_stderr(sink, r"sink on \S+:(\d+)").group(1))
    fwd = procs.start("fwd", [tool(build, "udp_forward"), "--listen", "127.0.0.1:0", "--to",
                              f"127.0.0.1:{sink_port}"])
    port = int(procs.wait_stderr(fwd, r"listening on \S+:(\d+)").group(1))
    cpu0 = cpu_ns(build, fwd.pid)
    blast_all(build, [port] * n, rate_pps, count)
    time.sleep(1.5)
    cpu1 = cpu_ns(build, fwd.pid)
    procs.stop(fwd)
    procs.stop(sink)
    return {"cpu_ns": cpu1 - cpu0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--mbps", type=float, default=2.0, help="per session")
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    rate_pps = max(1, round(a.mbps * 1e6 / 8 / PAYLOAD))
    count = int(rate_pps * a.seconds)
    packets = a.sessions * count
    with tempfile.TemporaryDirectory() as work:
        procs = bt.Procs(work)
        try:
            b = run_braid(procs, build, work, a.sessions, rate_pps, count)
            f = run_forwarder(procs, build, work, a.sessions, rate_pps, count)
        finally:
            procs.stop_all()
    braid_us = b["cpu_ns"] / 1000 / packets
    fwd_us = f["cpu_ns"] / 1000 / packets
    per_session = (b["end_kib"] - b["idle_kib"]) / a.sessions
    print(f"gateway: {a.sessions} sessions x {a.mbps:g} Mbit/s ({rate_pps} pkt/s, 3 links "
          f"each) for {a.seconds:g} s into one braid recv, {packets} datagrams")
    print(f"  sessions whole (every datagram once, in order): {b['whole']} of {a.sessions} "
          f"({b['files']} files)")
    print(f"  braid recv    {braid_us:6.2f} us CPU per packet")
    print(f"  udp_forward   {fwd_us:6.2f} us CPU per packet (same sources, same rate)")
    print(f"  ratio braid recv / udp_forward: {braid_us / fwd_us:.2f}")
    print(f"  memory: {b['idle_kib'] / 1024:.1f} MiB idle, {b['end_kib'] / 1024:.1f} MiB with "
          f"{a.sessions} sessions: {per_session:.0f} KiB per session")
    return 0 if b["whole"] == a.sessions else 1


if __name__ == "__main__":
    sys.exit(main())
