#!/usr/bin/python3
"""braid tunnel (root) with real SRT peers: ffmpeg's SRT caller in the field namespace
streams an H.264 + AAC transport stream to srt-live-transmit listening on the gateway's
tunnel address; link b dies (a blackhole) mid-stream. The SRT session carries on (ffmpeg
finishes, exit 0), and the stream srt-live-transmit writes has no continuity error,
decodes cleanly and lasts as long as what was sent."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netns"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
from benchtest import (Bench, Checks, Procs, in_ns, leftovers, temp_workdir,  # noqa: E402
                       unique_prefix)
from tunneltest import GATEWAY_V4, SCENARIO, start_tunnels  # noqa: E402

BRAID = sys.argv[1]
SECONDS = 8
CUT_S = 4.0  # into the stream
SRT_PORT = 6000
CLASSES = ["--latency", "300", "--fast-latency", "50"]  # SRT is UDP: media


def stream(c, procs, bench, ts, out):
    with open(out, "wb") as out_file:
        listener = procs.start("srt-live-transmit", in_ns(
            bench.ready["receiver_ns"], "srt-live-transmit", "-a:no", "-t:40",
            f"srt://{GATEWAY_V4}:{SRT_PORT}?mode=listener&latency=1000", "file://con"),
            stdout=out_file)
    time.sleep(0.5)
    caller = procs.start("ffmpeg", in_ns(
        bench.ready["sender_ns"], "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
        "-i", ts, "-c", "copy", "-f", "mpegts",
        f"srt://{GATEWAY_V4}:{SRT_PORT}?mode=caller&latency=1000000&pkt_size=1316&linger=5"))
    cut = threading.Timer(CUT_S, os.kill, (bench.proc.pid, signal.SIGUSR1))
    cut.start()
    try:
        caller.wait(timeout=SECONDS + 30)
    except subprocess.TimeoutExpired:
        pass
    cut.cancel()
    c.check(caller.returncode == 0, f"ffmpeg's SRT caller streamed through the tunnel and a "
            f"link's death to the end (exit {caller.returncode}): "
            f"{procs.stderr(caller)[-300:]}")
    time.sleep(2.0)
    procs.stop(listener)


def check_output(c, ts, out):
    size, sent = os.path.getsize(out), os.path.getsize(ts)
    c.check(size > 0.95 * sent, f"srt-live-transmit wrote {size} bytes of {sent}")
    cc = bt.ts_continuity_errors(out)
    c.check(cc == 0, f"continuity errors in the received stream: {cc}")
    probe = subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-i", out, "-f", "null",
                            "-"], capture_output=True, text=True)
    c.check(probe.returncode == 0 and probe.stderr.strip() == "",
            f"ffmpeg decodes it without errors: {probe.stderr[:300]!r}")
    dur = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", out], capture_output=True, text=True)
    duration = float(dur.stdout.strip() or 0)
    c.check(duration > SECONDS - 0.5, f"it holds {duration:.1f} s of the {SECONDS} s sent")


def main():
    c = Checks("tunnel_srt")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    with temp_workdir() as workdir:
        ts, out = os.path.join(workdir, "in.ts"), os.path.join(workdir, "out.ts")
        bt.make_ts(ts, seconds=SECONDS, video_kbit=4000)
        procs = Procs(workdir)
        try:
            prefix = unique_prefix("s")
            bench = Bench(BRAID, procs, workdir, SCENARIO, prefix)
            if c.check(bench.start() is not None, "the bench comes up"):
                gateway, field = start_tunnels(BRAID, procs, bench, CLASSES)
                stream(c, procs, bench, ts, out)
                c.check(procs.stop(field) == 0 and procs.stop(gateway) == 0,
                        "both ends exit 0 on SIGTERM")
                check_output(c, ts, out)
                c.check(bench.stop() == 0, "the bench exits 0")
            c.check(leftovers(prefix) == [], "no namespace left")
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
