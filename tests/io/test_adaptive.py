#!/usr/bin/python3
"""Adaptive bonding in real time: three rate-limited lossy links through `braid emu`
(2, 4 and 6 Mbit/s, one-way delays 20/40/60 ms, 1 % loss each way, 300 ms queues), and 10 s
of MPEG-TS made by ffmpeg at 80 % of their 12 Mbit/s sum. No single link could carry it;
braid must find each link's capacity, repair the loss, and deliver the file byte for byte."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

LINKS = [("a", "2mbit", "20ms"), ("b", "4mbit", "40ms"), ("c", "6mbit", "60ms")]


def main(braid):
    checks = bt.Checks("adaptive")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        out = os.path.join(work, "out.ts")
        # 80 % of 12 Mbit/s: 9.6 Mbit/s on the wire
        bitrate = bt.make_ts(ts, seconds=10, video_kbit=9100)
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{out}")
            argv = [braid, "emu"]
            for name, rate, delay in LINKS:
                argv += ["--link", f"name={name},listen=127.0.0.1:0,to=127.0.0.1:{recv.port},"
                                   f"rate={rate},delay={delay},loss=1%,rev.loss=1%,queue=300ms"]
            emu = procs.start("emu", argv)
            ports = {}
            for name, _, _ in LINKS:
                m = procs.wait_stderr(emu, rf"link {name} listening on \S+:(\d+)")
                ports[name] = int(m.group(1))
            links = [f"name={n},to=127.0.0.1:{ports[n]}" for n, _, _ in LINKS]
            send = bt.start_send(procs, braid, work, recv.port, links, extra=["--mode", "adaptive"])
            time.sleep(0.3)
            bt.pace_file(ts, send.port, bitrate)
            time.sleep(2.0)
            checks.check(procs.stop(send) == 0, "braid send exits cleanly")
            checks.check(procs.stop(recv) == 0, "braid recv exits cleanly")
            checks.check(bt.files_identical(ts, out),
                         f"output byte-identical ({os.path.getsize(out)} of "
                         f"{os.path.getsize(ts)} bytes) at {bitrate / 1e6:.1f} Mbit/s")
            ss = bt.final_stats(send.stats_path)
            rs = bt.final_stats(recv.stats_path)
            sent = ss["totals"]["in"]
            resent = ss["totals"]["retransmitted"]
            print(f"figure: {sent} packets, {resent} resent ({100 * resent / sent:.1f} %), "
                  f"receiver lost {rs['totals']['lost']}, late {rs['totals']['late']}")
            shares = {l["name"]: l["packets_sent"] for l in ss["links"]}
            total = sum(shares.values())
            print("figure: shares " + ", ".join(f"{n} {100 * v / total:.0f} %"
                                                for n, v in shares.items()))
            checks.check(all(v > 0.05 * total for v in shares.values()),
                         "every link carried part of the stream")
            # loss is 1 % each way: resends stay near that, far from a storm
            checks.check(resent < 0.08 * sent, f"resends bounded: {resent} of {sent}")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
