#!/usr/bin/python3
"""SRT through braid, with the real tools: ffmpeg as an SRT caller sends into `braid send`,
the stream crosses three links to `braid recv`, which forwards it to srt-live-transmit as
an SRT listener writing a file. SRT's handshake, ACKs and NAKs travel both ways through
braid; the file must decode with zero continuity errors."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402


def free_udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main(braid):
    checks = bt.Checks("srt")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        out = os.path.join(work, "out.ts")
        bt.make_ts(ts, seconds=10, video_kbit=4000)
        procs = bt.Procs(work)
        try:
            srt_port = free_udp_port()
            with open(out, "wb") as out_file:
                listener = procs.start("srt-live-transmit", [
                    "srt-live-transmit", "-a:no", "-t:40",
                    f"srt://127.0.0.1:{srt_port}?mode=listener&latency=400",
                    "file://con"], stdout=out_file)
            recv = bt.start_recv(procs, braid, work, f"udp://127.0.0.1:{srt_port}",
                                 extra=["--latency", "300"])
            links = ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3", "name=c,addr=127.0.0.4"]
            send = bt.start_send(procs, braid, work, recv.port, links,
                                 extra=["--latency", "300"])
            caller = procs.start("ffmpeg", [
                "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re", "-i", ts, "-c", "copy",
                "-f", "mpegts",
                f"srt://127.0.0.1:{send.port}?mode=caller&latency=400000&pkt_size=1316"])
            try:
                caller.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
            checks.check(caller.returncode == 0,
                         f"ffmpeg's SRT caller connected through braid and finished "
                         f"(exit {caller.returncode}): {procs.stderr(caller)[-300:]}")
            time.sleep(1.5)
            procs.stop(listener)
            procs.stop(send)
            procs.stop(recv)
            size = os.path.getsize(out)
            checks.check(size > 0.9 * os.path.getsize(ts),
                         f"srt-live-transmit wrote {size} bytes of {os.path.getsize(ts)}")
            cc = bt.ts_continuity_errors(out)
            checks.check(cc == 0, f"continuity errors in the output: {cc}")
            probe = subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-i", out,
                                    "-f", "null", "-"], capture_output=True, text=True)
            checks.check(probe.returncode == 0 and probe.stderr.strip() == "",
                         f"ffmpeg decodes the output without errors: {probe.stderr[:300]!r}")
            dur = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                  "-of", "csv=p=0", out], capture_output=True, text=True)
            duration = float(dur.stdout.strip() or 0)
            checks.check(duration > 9.0, f"output holds {duration:.1f} s of the 10 s stream")
            ss = bt.final_stats(send.stats_path)
            reverse = ss["totals"]["reverse"] if ss else 0
            checks.check(reverse > 0, f"SRT's replies came back through braid: {reverse}")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
