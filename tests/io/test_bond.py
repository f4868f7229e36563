#!/usr/bin/python3
"""The bonded stream end to end, as users run it: an MPEG-TS file made by ffmpeg is sent in
real time into `braid send`, over three links each through its own `braid emu` relay, to
`braid recv --output file://`. The output must be byte-identical to the input:
  1. broadcast, all links clean;
  2. broadcast, one relay silently dropping everything from the middle of the stream on;
  3. backup, the active link's relay killed mid-stream: the link is marked down within
     3 probe intervals and nothing is lost."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

PROBE_INTERVAL_MS = 50
LATENCY_S = 1.0


def run_stream(braid, work, ts, bitrate, mode, mid_action, checks, label):
    procs = bt.Procs(work)
    out = os.path.join(work, f"out-{label}.ts")
    try:
        recv = bt.start_recv(procs, braid, work, f"file://{out}")
        delays = ["delay=10ms", "delay=25ms", "delay=40ms"]
        emus = [bt.start_emu(procs, braid, f"l{i + 1}", recv.port, delays[i]) for i in range(3)]
        links = [f"name=l{i + 1},to=127.0.0.1:{e.port},priority={i}" for i, e in enumerate(emus)]
        send = bt.start_send(procs, braid, work, recv.port, links, extra=["--mode", mode])
        time.sleep(0.3)  # handshakes
        state = {"done": False, "at": None}

        def progress(fraction):
            if not state["done"] and fraction >= 0.5:
                state["done"] = True
                state["at"] = time.monotonic()
                mid_action(procs, emus)

        bt.pace_file(ts, send.port, bitrate, on_progress=progress)
        time.sleep(LATENCY_S + 0.7)
        checks.check(procs.stop(send) == 0, f"{label}: braid send exits cleanly")
        checks.check(procs.stop(recv) == 0, f"{label}: braid recv exits cleanly")
        identical = bt.files_identical(ts, out)
        checks.check(identical, f"{label}: output byte-identical ({os.path.getsize(out)} of "
                                f"{os.path.getsize(ts)} bytes)")
        rs = bt.final_stats(recv.stats_path)
        checks.check(rs is not None and rs["totals"]["lost"] == 0,
                     f"{label}: receiver counts no lost packet")
        return state["at"], send
    finally:
        procs.stop_all()


def main(braid):
    checks = bt.Checks("bond")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        bitrate = bt.make_ts(ts, seconds=10, video_kbit=5000)

        run_stream(braid, work, ts, bitrate, "broadcast", lambda p, e: None, checks, "broadcast")

        def blackhole(procs, emus):
            emus[1].send_signal(signal.SIGUSR1)

        run_stream(braid, work, ts, bitrate, "broadcast", blackhole, checks, "broadcast-drop")

        def kill_active(procs, emus):
            emus[0].kill()

        killed_at, send = run_stream(braid, work, ts, bitrate, "backup", kill_active, checks,
                                     "backup-kill")
        downs = [e for e in bt.events(send.stats_path, "link_state")
                 if e["link"] == "l1" and e["to"] == "down"]
        checks.check(len(downs) >= 1, "backup-kill: link l1 marked down")
        if downs and killed_at:
            detect_ms = downs[0]["clock_us"] / 1000 - killed_at * 1000
            print(f"figure: silent link death to down state: {detect_ms:.0f} ms "
                  f"(probe interval {PROBE_INTERVAL_MS} ms)")
            # 3 probe intervals, plus the few ms a loaded machine takes to run a timer
            checks.check(0 < detect_ms <= 3 * PROBE_INTERVAL_MS + 25,
                         f"backup-kill: down within 3 probe intervals ({detect_ms:.0f} ms)")
        failovers = bt.events(send.stats_path, "failover")
        checks.check(any(f["link"] == "l1" and f["resent"] > 0 for f in failovers),
                     "backup-kill: packets in flight on the dead link were resent")
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
