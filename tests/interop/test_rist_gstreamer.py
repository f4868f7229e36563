#!/usr/bin/python3
"""GStreamer's ristsink bonding two paths into braid recv --listen rist://: broadcast and
round-robin over lossy paths (each a pair of braid emu links, RTP and RTCP), and
round-robin with one path blackholed mid-stream, which ristsink keeps feeding. The output
must hold the stream intact (byte-identical, or at least no MPEG-TS continuity error),
repaired by Generic NACKs (GStreamer speaks no RIST APP).

After the blackhole, every other packet goes down the dead path, and ristsink can resend
a packet only through the path it first took (each bonding address has its own resend
buffer), so those packets are gone for good: braid must give each up once the latency
budget has passed and go on, so that no gap in the output is longer than the budget, and
everything before the blackhole arrives intact."""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import risttest as rt  # noqa: E402

LATENCY_MS = 1000


class Collector:
    """A UDP socket braid recv outputs to, keeping each datagram's arrival time."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # room for the burst released when a long-awaited gap is given up
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.arrivals, self.data = [], []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.arrivals.append(time.monotonic())
            self.data.append(d)

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()
        return b"".join(self.data)

    def longest_gap(self):
        gaps = [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]
        return max(gaps) if gaps else float("inf")


def run_case(braid, work, ts, bitrate, method, blackhole_b):
    procs = bt.Procs(work)
    out = Collector()
    try:
        recv = rt.start_rist_recv(procs, braid, work, f"udp://127.0.0.1:{out.port}",
                                  extra=["--latency", str(LATENCY_MS)], name=f"recv-{method}")
        outage = ",outage=4500ms+60s" if blackhole_b else ""
        _, port_a = rt.start_rist_path(procs, braid, "a", recv.port,
                                       forward="loss=2%,delay=10ms,seed=3",
                                       rtcp="delay=10ms")
        _, port_b = rt.start_rist_path(procs, braid, "b", recv.port,
                                       forward="loss=2%,delay=25ms,seed=5" + outage,
                                       rtcp="delay=25ms" + outage)
        in_port = rt.free_udp_port()
        gst = procs.start(f"gst-{method}", [
            "gst-launch-1.0", "-q", "udpsrc", f"port={in_port}", "buffer-size=4194304",
            "caps=video/mpegts,systemstream=(boolean)true,packetsize=(int)188", "!",
            "rtpmp2tpay", "!", "ristsink",
            f"bonding-addresses=127.0.0.1:{port_a},127.0.0.1:{port_b}",
            f"bonding-method={method}"])
        time.sleep(1.0)  # the pipeline plays before any input is paced into it
        bt.pace_file(ts, in_port, bitrate)
        time.sleep(LATENCY_MS / 1000 + 1.0)
        procs.stop(gst)
        code = procs.stop(recv)
        if code != 0:
            print(f"braid recv exited with status {code}:\n{procs.stderr(recv)[-2000:]}")
        return out.stop(), out, rt.final_rist(recv.stats_path) if code == 0 else None
    finally:
        procs.stop_all()
        if out.running:
            out.stop()


def check_intact(checks, label, ts_bytes, got, path):
    with open(path, "wb") as f:
        f.write(got)
    same = got == ts_bytes
    cc = bt.ts_continuity_errors(path)
    checks.check(same or (cc == 0 and len(got) > 0.99 * len(ts_bytes)),
                 f"{label}: output intact (identical: {same}, continuity errors: {cc}, "
                 f"{len(got)} of {len(ts_bytes)} bytes)")


def main(braid):
    checks = bt.Checks("rist_gstreamer")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        bitrate = bt.make_ts(ts, seconds=6, video_kbit=3000)
        with open(ts, "rb") as f:
            ts_bytes = f.read()
        for method in ("broadcast", "round-robin"):
            got, _, final = run_case(braid, work, ts, bitrate, method, False)
            check_intact(checks, method, ts_bytes, got, os.path.join(work, f"{method}.ts"))
            tot = final["totals"] if final else {}
            peers = final["peers"] if final else []
            checks.check(tot.get("lost") == 0 and tot.get("retransmitted", 0) > 0,
                         f"{method}: losses repaired by resends: requested "
                         f"{tot.get('requested')}, resends {tot.get('retransmitted')}, "
                         f"lost {tot.get('lost')}")
            checks.check(len(peers) == 2 and all(p["nack_kind"] == "generic" and
                                                 p["nacks"] > 0 for p in peers),
                         f"{method}: Generic NACKs to both of GStreamer's RTCP peers: "
                         f"{[(p['nack_kind'], p['nacks']) for p in peers]}")
            if method == "broadcast":
                checks.check(tot.get("duplicates", 0) > 0, f"broadcast: the second copies "
                             f"dropped as duplicates: {tot.get('duplicates')}")
        got, out, final = run_case(braid, work, ts, bitrate, "round-robin", True)
        gap = out.longest_gap()
        # the budget, plus what a loaded machine may add to one wake-up
        checks.check(gap < LATENCY_MS / 1000 + 0.15,
                     f"no output gap beyond the {LATENCY_MS} ms budget: longest {gap:.3f} s")
        before = int(len(ts_bytes) * 2.0 / 6.0) // 188 * 188  # 2 s of the 6 s stream
        checks.check(got[:before] == ts_bytes[:before],
                     f"the first 2 s (the blackhole starts 4.5 s after the relays, some 3 s into the stream) arrived intact")
        checks.check(len(got) > 0.6 * len(ts_bytes), f"and the stream went on through path "
                     f"a: {len(got)} of {len(ts_bytes)} bytes")
        tot = final["totals"] if final else {}
        paths = final["paths"] if final else []
        checks.check(len(paths) == 2 and tot.get("lost", 0) > 0,
                     f"both paths seen, the dead path's packets counted lost: "
                     f"{[p['packets'] for p in paths]}, lost {tot.get('lost')}")
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
