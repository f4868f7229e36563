#!/usr/bin/python3
"""braid recv --output rist:// into librist's ristreceiver across a lossy hop: ristsender
feeds braid recv --listen rist://, which sends the stream on as RIST through a pair of
braid emu links (RTP with 5% loss, RTCP clean) to ristreceiver. The stream must arrive
intact because braid answered ristreceiver's NACKs from its resend buffer. (ristreceiver
drops the first datagram of a Simple Profile flow, so the output is compared from the
second on.) Then the same from the bonding receiver: braid send over two links into braid
recv --output rist:// straight to ristreceiver."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import risttest as rt  # noqa: E402

CHUNK = bt.TS_CHUNK


def collect(sock, into, stop):
    while not stop.is_set():
        try:
            into.append(sock.recv(65536))
        except socket.timeout:
            continue


class Sink:
    """A UDP socket ristreceiver outputs to, read on a thread."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got, self.stop_event = [], threading.Event()
        self.thread = threading.Thread(target=collect, args=(self.sock, self.got,
                                                             self.stop_event), daemon=True)
        self.thread.start()

    def stop(self):
        if not self.stop_event.is_set():
            self.stop_event.set()
            self.thread.join()
            self.sock.close()
        return b"".join(self.got)


def start_receiver(procs, rr_port, sink_port):
    return procs.start("ristreceiver", [
        "ristreceiver", "-p", "0", "-b", "1000", "-S", "0",
        "-i", f"rist://@127.0.0.1:{rr_port}", "-o", f"udp://127.0.0.1:{sink_port}"])


def from_bonding(checks, braid, work, ts, bitrate, ts_bytes):
    procs = bt.Procs(work)
    sink = Sink()
    try:
        rr_port = rt.free_even_pair()
        receiver = start_receiver(procs, rr_port, sink.port)
        recv = bt.start_recv(procs, braid, work, f"rist://127.0.0.1:{rr_port}")
        send = bt.start_send(procs, braid, work, recv.port,
                             ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3"])
        time.sleep(0.5)
        bt.pace_file(ts, send.port, bitrate)
        time.sleep(2.0)
        procs.stop(send)
        code = procs.stop(recv)
        checks.check(code == 0, f"the bonding receiver exits cleanly (status {code})")
        procs.stop(receiver)
        out = sink.stop()
        checks.check(len(out) >= len(ts_bytes) - CHUNK and ts_bytes.endswith(out),
                     f"bonding receiver to ristreceiver: the input from its second "
                     f"datagram on ({len(out)} of {len(ts_bytes)} bytes)")
        final = bt.final_stats(recv.stats_path)
        ro = final.get("rist_out", {}) if final else {}
        checks.check(ro.get("packets", 0) > 0.99 * (len(ts_bytes) // CHUNK) and
                     "sessions" in (final or {}),
                     f"its stats line carries the RIST output: {ro}")
    finally:
        procs.stop_all()
        sink.stop()


def main(braid):
    checks = bt.Checks("rist_output")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        bitrate = bt.make_ts(ts, seconds=8, video_kbit=3000)
        with open(ts, "rb") as f:
            ts_bytes = f.read()
        procs = bt.Procs(work)
        sink = Sink()
        try:
            rr_port = rt.free_even_pair()
            receiver = start_receiver(procs, rr_port, sink.port)
            _, hop = rt.start_rist_path(procs, braid, "hop", rr_port,
                                        forward="loss=5%,delay=15ms,seed=9",
                                        rtcp="delay=15ms")
            recv = rt.start_rist_recv(procs, braid, work, f"rist://127.0.0.1:{hop}")
            in_port = rt.free_udp_port()
            sender = procs.start("ristsender", [
                "ristsender", "-p", "0", "-S", "0", "-i", f"udp://127.0.0.1:{in_port}",
                "-o", f"rist://127.0.0.1:{recv.port}"])
            up = procs.wait_stderr(sender, r"peer connected count is ([1-9])", timeout=10)
            down = procs.wait_stderr(receiver, r"peer connected count is ([1-9])", timeout=10)
            checks.check(int(up.group(1)) >= 1 and int(down.group(1)) >= 1,
                         "ristsender reached braid, and braid's RIST output reached "
                         "ristreceiver")
            bt.pace_file(ts, in_port, bitrate)
            time.sleep(2.0)
            procs.stop(sender)
            code = procs.stop(recv)
            checks.check(code == 0, f"braid recv exits cleanly (status {code})")
            procs.stop(receiver)
            out = sink.stop()
            checks.check(len(out) >= len(ts_bytes) - CHUNK and ts_bytes.endswith(out),
                         f"ristreceiver's output is the input from its second datagram on "
                         f"({len(out)} of {len(ts_bytes)} bytes)")
            final = rt.final_rist(recv.stats_path)
            ro = final.get("rist_out", {}) if final else {}
            checks.check(ro.get("nacks", 0) > 0 and ro.get("retransmitted", 0) > 0,
                         f"braid answered ristreceiver's NACKs: {ro.get('nacks')} NACKs, "
                         f"{ro.get('requested')} numbers asked, {ro.get('retransmitted')} "
                         f"resent, {ro.get('unavailable')} unavailable")
            checks.check(ro.get("rtt_ms") is not None and ro["rtt_ms"] >= 25,
                         f"the hop's RTT measured (15 ms each way): {ro.get('rtt_ms')} ms")
        finally:
            procs.stop_all()
            sink.stop()
        from_bonding(checks, braid, work, ts, bitrate, ts_bytes)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
