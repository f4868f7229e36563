#!/usr/bin/python3
"""librist's ristsender bonding two paths into braid recv --listen rist://. Each path is a
pair of braid emu links (RTP with loss, RTCP clean); ristsender sends every packet on both
(Simple Profile). Ten seconds of MPEG-TS made by ffmpeg go in as UDP; braid's output must
be the input byte for byte from its first datagram, with the losses both paths shared
repaired by NACKs (RIST range NACKs: librist speaks RIST's RTCP) that show in the stats."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import risttest as rt  # noqa: E402


def main(braid):
    checks = bt.Checks("rist_librist")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        out = os.path.join(work, "out.ts")
        bitrate = bt.make_ts(ts, seconds=10, video_kbit=3000)
        procs = bt.Procs(work)
        try:
            recv = rt.start_rist_recv(procs, braid, work, f"file://{out}")
            _, port_a = rt.start_rist_path(procs, braid, "a", recv.port,
                                           forward="loss=4%,delay=10ms,seed=7",
                                           rtcp="delay=10ms")
            _, port_b = rt.start_rist_path(procs, braid, "b", recv.port,
                                           forward="loss=4%,delay=30ms,seed=11",
                                           rtcp="delay=30ms")
            in_port = rt.free_udp_port()
            sender = procs.start("ristsender", [
                "ristsender", "-p", "0", "-b", "1000", "-S", "0",
                "-i", f"udp://127.0.0.1:{in_port}",
                "-o", f"rist://127.0.0.1:{port_a},rist://127.0.0.1:{port_b}"])
            # ristsender holds its data until each peer has answered its RTCP.
            m = procs.wait_stderr(sender, r"peer connected count is ([2-9])", timeout=10)
            checks.check(int(m.group(1)) >= 2,
                         f"ristsender connected both paths to braid ({m.group(1)} peers)")
            sent = bt.pace_file(ts, in_port, bitrate)
            time.sleep(2.0)
            procs.stop(sender)
            code = procs.stop(recv)
            checks.check(code == 0, f"braid recv exits cleanly (status {code})")
            same = bt.files_identical(ts, out)
            checks.check(same, f"output identical to the input from its first datagram "
                         f"({os.path.getsize(out)} of {os.path.getsize(ts)} bytes, "
                         f"{sent} datagrams)")
            final = rt.final_rist(recv.stats_path)
            checks.check(final is not None, "a final RIST stats line")
            tot = final["totals"] if final else {}
            checks.check(tot.get("lost") == 0, f"nothing lost: {tot.get('lost')}")
            checks.check(tot.get("requested", 0) > 0 and tot.get("retransmitted", 0) > 0,
                         f"losses on both paths asked for and resent: requested "
                         f"{tot.get('requested')}, resends {tot.get('retransmitted')}, "
                         f"recovered {tot.get('recovered')}")
            checks.check(tot.get("duplicates", 0) > 0.8 * sent,
                         f"the second path's copies dropped as duplicates: "
                         f"{tot.get('duplicates')}")
            paths = final["paths"] if final else []
            checks.check(len(paths) == 2 and all(p["packets"] > 0.9 * sent for p in paths),
                         f"two paths, each carrying the stream: "
                         f"{[p['packets'] for p in paths]}")
            peers = final["peers"] if final else []
            checks.check(len(peers) == 2 and all(p["rtt_ms"] is not None and
                                                 p["nack_kind"] == "range" for p in peers),
                         f"both RTCP peers measured by RTT echo and sent range NACKs: "
                         f"{[(p['rtt_ms'], p['nack_kind']) for p in peers]}")
            rtts = sorted(p["rtt_ms"] or 0 for p in peers)
            checks.check(len(rtts) == 2 and rtts[0] >= 15 and rtts[1] >= 55,
                         f"RTTs reflect the paths' delays (20 and 60 ms both ways): {rtts}")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
