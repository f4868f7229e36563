#!/usr/bin/python3
"""braidd's RTP proxy with real peers on loopback:
- an ffmpeg `-f rtp` stream (H.264, with its RTCP SRs on port + 1) through a proxy
  session to a receiver that answers each SR with an RR: every RTP packet arrives in
  order, the session's stats count them, loss 0, a jitter, a non-zero time inside the
  proxy and an RTT from the RTCP exchange;
- the receiver's packets come back to the latched source (a Python source that checks);
- non-RTP datagrams are dropped and counted, never forwarded;
- a session over its packet rate drops and counts the excess, and one over its bit rate;
- a session idle past its idle_timeout_ms closes itself (CLOSED event)."""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402


def rtp_packet(seq, ts, ssrc, payload=b"\x00" * 100, pt=96):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def rtp_seq(data):
    return struct.unpack("!H", data[2:4])[0]


def is_rtcp(data):
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


def rr_answering(sr, now, sr_arrival, own_ssrc=0x5EC0DE):
    """An RR with one block about the SR's sender, carrying LSR and DLSR."""
    sender = struct.unpack("!I", sr[4:8])[0]
    ntp_hi, ntp_lo = struct.unpack("!II", sr[8:16])
    lsr = ((ntp_hi & 0xFFFF) << 16) | (ntp_lo >> 16)
    dlsr = int((now - sr_arrival) * 65536)
    block = struct.pack("!IIIIII", sender, 0, 0, 0, lsr, dlsr)
    return struct.pack("!BBHI", 0x81, 201, 7, own_ssrc) + block


class Receiver:
    """The destination: counts RTP, answers SRs with RRs and RTP with RTP of its own."""

    def __init__(self, echo=False):
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.port = self.rtp.getsockname()[1]
        self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.rtcp.bind(("127.0.0.1", self.port + 1))
        except OSError:
            self.rtp.close()
            raise
        self.echo = echo
        self.seqs, self.srs, self.sent_back = [], 0, 0
        self.junk = 0
        self.stop = False
        self.threads = [threading.Thread(target=self.loop, args=(s,), daemon=True)
                        for s in (self.rtp, self.rtcp)]
        for t in self.threads:
            t.start()

    def loop(self, sock):
        sock.settimeout(0.1)
        while not self.stop:
            try:
                data, addr = sock.recvfrom(65536)
            except socket.timeout:
                continue
            now = time.monotonic()
            if is_rtcp(data):
                if data[1] == 200:
                    self.srs += 1
                    time.sleep(0.005)  # some delay since the SR, for DLSR to carry
                    sock.sendto(rr_answering(data, time.monotonic(), now), addr)
                    self.sent_back += 1
            elif data[0] >> 6 == 2:
                self.seqs.append(rtp_seq(data))
                if self.echo:
                    sock.sendto(rtp_packet(rtp_seq(data), 0, 0xECC0), addr)
                    self.sent_back += 1
            else:
                self.junk += 1

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.rtp.close()
        self.rtcp.close()


def make_receiver(echo=False):
    for _ in range(20):
        try:
            return Receiver(echo)
        except OSError:
            continue
    raise RuntimeError("no free port pair for the receiver")


def wait_until(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def in_order_without_gaps(seqs):
    return all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:]))


def check_ffmpeg_stream(c, cl, procs):
    rx = make_receiver()
    s = cl.proxy(rx.port, rtcp=True)
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
            "testsrc2=size=320x240:rate=25", "-t", "4", "-c:v", "libx264", "-preset",
            "ultrafast", "-tune", "zerolatency", "-b:v", "600k", "-f", "rtp",
            f"rtp://127.0.0.1:{s.listen.port}"]
    ff = procs.start("ffmpeg", argv)
    ff.wait(30)
    time.sleep(0.3)
    st = cl.status(s.session_id).stats
    state = cl.status(s.session_id).state
    rx.close()
    n = len(rx.seqs)
    c.check(ff.returncode == 0 and n > 100, f"ffmpeg sent an RTP stream through the proxy "
            f"({n} packets)")
    c.check(in_order_without_gaps(rx.seqs), "the receiver got every packet, in order")
    c.check(state == cl.pb.STATE_ACTIVE, "the session is ACTIVE")
    c.check(rx.srs >= 1, f"ffmpeg's SRs reached the receiver on port + 1 ({rx.srs})")
    expected = n + rx.srs + rx.sent_back
    c.check(st.packets_received == expected and st.packets_sent == expected,
            f"stats: {st.packets_received} received, {st.packets_sent} sent = {n} RTP + "
            f"{rx.srs} SR + {rx.sent_back} RR back")
    c.check(st.packets_lost == 0 and st.packets_invalid == 0, "stats: loss 0, nothing invalid")
    c.check(0 < st.jitter_ms < 100, f"stats: a jitter ({st.jitter_ms:.3f} ms)")
    c.check(0 < st.latency_ms < 50, f"stats: time inside the proxy {st.latency_ms:.4f} ms, "
            "above 0")
    c.check(0 < st.rtt_ms < 1000, f"stats: RTT from the SR/RR exchange {st.rtt_ms:.3f} ms")
    cl.call("DestroySession", cl.pb.DestroySessionRequest(session_id=s.session_id))


def check_both_ways_and_junk(c, cl):
    rx = make_receiver(echo=True)
    s = cl.proxy(rx.port)
    src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    src.bind(("127.0.0.1", 0))
    src.settimeout(0.05)
    back = []
    for i in range(200):
        src.sendto(rtp_packet(1000 + i, i * 3000, 0xABCD), ("127.0.0.1", s.listen.port))
        if i % 20 == 0:  # hostile: not RTP
            src.sendto(b"\x00not rtp at all" * 3, ("127.0.0.1", s.listen.port))
            src.sendto(b"\xff", ("127.0.0.1", s.listen.port))
        time.sleep(0.002)
        try:
            while True:
                back.append(src.recvfrom(65536)[0])
        except socket.timeout:
            pass
    deadline = time.monotonic() + 2
    while len(back) < 200 and time.monotonic() < deadline:
        try:
            back.append(src.recvfrom(65536)[0])
        except socket.timeout:
            pass
    st = cl.status(s.session_id).stats
    rx.close()
    src.close()
    c.check(len(rx.seqs) == 200 and rx.junk == 0,
            f"a Python source's 200 RTP packets arrive, the junk does not ({len(rx.seqs)}, "
            f"{rx.junk})")
    c.check(len(back) == 200 and all(struct.unpack("!I", p[8:12])[0] == 0xECC0 for p in back),
            f"the receiver's 200 packets come back to the latched source ({len(back)})")
    c.check(st.packets_invalid == 20, f"20 non-RTP datagrams dropped and counted "
            f"({st.packets_invalid})")
    cl.call("DestroySession", cl.pb.DestroySessionRequest(session_id=s.session_id))


def burst(cl, rx_port, count, size, **limits):
    s = cl.proxy(rx_port, **limits)
    src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        src.sendto(rtp_packet(i, i * 90, 0x1111, b"\x00" * size), ("127.0.0.1", s.listen.port))
        time.sleep(0.0005)
    src.close()
    time.sleep(0.3)
    st = cl.status(s.session_id).stats
    cl.call("DestroySession", cl.pb.DestroySessionRequest(session_id=s.session_id))
    return st


def check_rate_limits(c, cl):
    rx = make_receiver()
    st = burst(cl, rx.port, 300, 100, max_packet_rate=50)
    forwarded = len(rx.seqs)
    c.check(st.packets_rate_limited > 0 and forwarded + st.packets_rate_limited == 300 and
            50 <= forwarded <= 80,
            f"max_packet_rate 50: a second's burst passes, the rest dropped and counted "
            f"({forwarded} forwarded, {st.packets_rate_limited} dropped)")
    rx.seqs.clear()
    # 100 kbit/s: a one-second burst of 100000 bits, 1000-byte payloads are 8.896 kbit
    st = burst(cl, rx.port, 100, 1000, max_bitrate=100000)
    forwarded = len(rx.seqs)
    c.check(st.packets_rate_limited > 0 and forwarded + st.packets_rate_limited == 100 and
            11 <= forwarded <= 20,
            f"max_bitrate 100 kbit/s: {forwarded} forwarded, {st.packets_rate_limited} "
            "dropped and counted")
    rx.close()


def check_idle_timeout(c, cl):
    pb = cl.pb
    import grpc
    s = cl.proxy(40000, idle_timeout_ms=400)
    t0 = time.monotonic()
    gone = wait_until(lambda: cl.code_of("GetSessionStatus", pb.GetSessionStatusRequest(
        session_id=s.session_id)) == grpc.StatusCode.NOT_FOUND, timeout=3)
    took = time.monotonic() - t0
    c.check(gone and 0.3 < took < 1.5, f"idle_timeout_ms 400: the session closes itself "
            f"when nothing comes ({took:.2f} s)")


def main():
    braidd = sys.argv[1]
    c = bt.Checks("braidd_proxy")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            d = bd.start_braidd(procs, braidd)
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
            check_ffmpeg_stream(c, cl, procs)
            check_both_ways_and_junk(c, cl)
            check_rate_limits(c, cl)
            check_idle_timeout(c, cl)
            cl.close()
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
