#!/usr/bin/python3
"""braidd's RTP proxy over TCP (RFC 4571: a 16-bit length before each packet), on loopback:
- an H.264 RTP stream made by ffmpeg, framed by the test and written in odd-sized pieces
  (frames cut across writes) to the session's listen port, reaches a TCP destination
  byte-identical and in order; the destination echoes every frame and the source gets
  them back byte-identical; junk frames between them are dropped and counted;
- RTCP on port + 1 over its own connections: an SR is passed on, the RR that answers it
  comes back and gives an RTT;
- a second connection to a port already serving its source is closed at once;
- backpressure: while the destination does not read, braidd stops reading the source
  (the source's writes block) and loses nothing once the destination reads again;
- a peer that closes its connection puts the session in ERROR, with an ERROR event."""

import os
import random
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


def frame(payload):
    return struct.pack("!H", len(payload)) + payload


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def read_frame(sock):
    (length,) = struct.unpack("!H", read_exact(sock, 2))
    return read_exact(sock, length)


def rtp_packet(seq, ts, ssrc, payload=b"\x00" * 100, pt=96):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def sender_report(ssrc, ntp_hi, ntp_lo):
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, ntp_hi, ntp_lo, 0, 0, 0)


def receiver_report_for(sr, dlsr_s):
    sender = struct.unpack("!I", sr[4:8])[0]
    ntp_hi, ntp_lo = struct.unpack("!II", sr[8:16])
    lsr = ((ntp_hi & 0xFFFF) << 16) | (ntp_lo >> 16)
    block = struct.pack("!IIIIII", sender, 0, 0, 0, lsr, int(dlsr_s * 65536))
    return struct.pack("!BBHI", 0x81, 201, 7, 0x5EC0DE) + block


class Destination:
    """A TCP server on a port pair: RTP frames are kept and echoed unchanged, SRs are
    answered with an RR (echo=False: RTP is only kept). `hold` keeps it from reading until
    released."""

    def __init__(self, hold=False, echo=True):
        self.echo = echo
        for _ in range(20):
            self.rtp = socket.create_server(("127.0.0.1", 0))
            self.port = self.rtp.getsockname()[1]
            try:
                self.rtcp = socket.create_server(("127.0.0.1", self.port + 1))
                break
            except OSError:
                self.rtp.close()
        else:
            raise RuntimeError("no free port pair for the destination")
        self.frames, self.srs = [], 0
        self.conns = []
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.threads = [threading.Thread(target=self.serve, args=(s, rtcp), daemon=True)
                        for s, rtcp in ((self.rtp, False), (self.rtcp, True))]
        for t in self.threads:
            t.start()

    def serve(self, server, rtcp):
        server.settimeout(10)
        try:
            conn, _ = server.accept()
        except OSError:
            return
        self.conns.append(conn)
        self.released.wait(30)
        try:
            while True:
                data = read_frame(conn)
                if rtcp:
                    self.srs += 1
                    time.sleep(0.01)  # later than the RR's DLSR says, so an RTT shows
                    conn.sendall(frame(receiver_report_for(data, 0.005)))
                else:
                    self.frames.append(data)
                    if self.echo:
                        conn.sendall(frame(data))
        except (EOFError, OSError):
            pass

    def close(self):
        for s in self.conns + [self.rtp, self.rtcp]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self.threads:
            t.join(5)


def ffmpeg_rtp_packets(procs):
    """The RTP packets of a short H.264 stream made by ffmpeg, caught on UDP."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(1.0)
    port = sink.getsockname()[1]
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
            "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-preset",
            "ultrafast", "-tune", "zerolatency", "-b:v", "600k", "-f", "rtp",
            f"rtp://127.0.0.1:{port}?rtcpport={port}"]
    ff = procs.start("ffmpeg", argv)
    packets = []
    while True:
        try:
            data = sink.recv(65536)
        except socket.timeout:
            if ff.poll() is not None:
                break
            continue
        if not 192 <= data[1] <= 223:  # RTCP, sent to the same port here
            packets.append(data)
    sink.close()
    return ff.returncode, packets


def write_in_pieces(sock, data, rng):
    """Writes with cuts at random places, so that frames arrive split."""
    at = 0
    while at < len(data):
        n = rng.randint(1, 3000)
        sock.sendall(data[at:at + n])
        at += n
        if rng.random() < 0.1:
            time.sleep(0.001)


def tcp_proxy(cl, dest_port, **kw):
    return cl.proxy(dest_port, transport=cl.pb.TRANSPORT_TCP, **kw)


def destroy(cl, sid):
    cl.call("DestroySession", cl.pb.DestroySessionRequest(session_id=sid))


def wait_until(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def check_stream_both_ways(c, cl, procs):
    rc, packets = ffmpeg_rtp_packets(procs)
    c.check(rc == 0 and len(packets) > 50, f"ffmpeg made an H.264 RTP stream ({len(packets)} "
            "packets)")
    dest = Destination()
    s = tcp_proxy(cl, dest.port, rtcp=True)
    c.check(cl.status(s.session_id).state == cl.pb.STATE_CONNECTING,
            "a TCP session waits in CONNECTING for its source")
    src = socket.create_connection(("127.0.0.1", s.listen.port))
    junk = [b"\x00not rtp at all", b"", b"\xff", b"\x80"]
    stream = b""
    junk_sent = 0
    for i, p in enumerate(packets):
        stream += frame(p)
        if i % 10 == 5:
            stream += frame(junk[junk_sent % len(junk)])
            junk_sent += 1
    back = []

    def read_back():
        try:
            while len(back) < len(packets):
                back.append(read_frame(src))
        except (EOFError, OSError):
            pass

    reader = threading.Thread(target=read_back, daemon=True)
    reader.start()
    write_in_pieces(src, stream, random.Random(4571))
    reader.join(10)
    c.check(dest.frames == packets, f"the destination got every ffmpeg packet byte-identical "
            f"and in order ({len(dest.frames)} of {len(packets)})")
    c.check(back == packets, f"its echo came back to the source byte-identical ({len(back)})")

    second = socket.create_connection(("127.0.0.1", s.listen.port))
    second.settimeout(3)
    try:
        refused = second.recv(10) == b""
    except OSError:
        refused = True
    second.close()
    c.check(refused, "a second source connection is closed at once")

    rtcp = socket.create_connection(("127.0.0.1", s.listen.port + 1))
    sr = sender_report(0xABCD, 0x83AA7E80, 0x12345678)
    rtcp.sendall(frame(sr))
    rtcp.settimeout(5)
    rr = read_frame(rtcp)
    st = cl.status(s.session_id)
    c.check(rr[1] == 201 and dest.srs == 1, "an SR over TCP on port + 1 is passed on and its "
            "RR comes back")
    n = len(packets)
    total = sum(len(p) for p in packets)
    c.check(st.state == cl.pb.STATE_ACTIVE, "the session is ACTIVE")
    c.check(st.stats.packets_received == 2 * n + 2 and st.stats.packets_sent == 2 * n + 2,
            f"stats: {st.stats.packets_received} received, {st.stats.packets_sent} sent = "
            f"2 x {n} RTP + SR + RR")
    c.check(st.stats.bytes_sent == 2 * total + len(sr) + len(rr),
            f"stats: bytes without framing ({st.stats.bytes_sent})")
    c.check(st.stats.packets_invalid == junk_sent, f"{junk_sent} junk frames dropped and "
            f"counted ({st.stats.packets_invalid})")
    c.check(st.stats.packets_lost == 0 and st.stats.rtt_ms > 0,
            f"loss 0; an RTT from the SR/RR ({st.stats.rtt_ms:.3f} ms)")
    src.close()
    rtcp.close()
    destroy(cl, s.session_id)
    dest.close()


def check_backpressure(c, cl):
    # no echo: a source that does not read its replies would hold the destination back
    dest = Destination(hold=True, echo=False)
    s = tcp_proxy(cl, dest.port)
    src = socket.create_connection(("127.0.0.1", s.listen.port))
    count = 20000
    data = b"".join(frame(rtp_packet(i, i * 90, 0x7777, bytes([i & 0xFF]) * 1000))
                    for i in range(count))
    done = threading.Event()

    def write_all():
        try:
            src.sendall(data)
        except OSError:
            pass
        done.set()

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    time.sleep(1.5)
    blocked = not done.is_set()
    st = cl.status(s.session_id).stats
    c.check(blocked and st.packets_received < count,
            f"a destination that does not read stops braidd reading the source "
            f"({st.packets_received} of {count} taken, the source's writes blocked)")
    dest.released.set()
    arrived = wait_until(lambda: len(dest.frames) >= count, timeout=30)
    writer.join(10)
    seqs_ok = all(struct.unpack("!H", f[2:4])[0] == i & 0xFFFF and len(f) == 1012
                  for i, f in enumerate(dest.frames))
    st = cl.status(s.session_id).stats
    c.check(arrived and seqs_ok and len(dest.frames) == count,
            f"once it reads, all {count} arrive in order, none lost ({len(dest.frames)})")
    c.check(st.packets_invalid == 0, "nothing counted invalid")
    src.close()
    destroy(cl, s.session_id)
    dest.close()


def check_peer_close(c, cl):
    pb = cl.pb
    for closing in ("source", "destination"):
        dest = Destination()
        s = tcp_proxy(cl, dest.port)
        events = cl.call("StreamSessionEvents",
                         pb.StreamSessionEventsRequest(session_id=s.session_id), timeout=10)
        src = socket.create_connection(("127.0.0.1", s.listen.port))
        src.sendall(frame(rtp_packet(1, 0, 0x1234)))
        wait_until(lambda: len(dest.frames) == 1, 5)
        if closing == "source":
            src.close()
        else:
            dest.close()
        got_error = None
        try:
            for ev in events:
                if ev.type == pb.EVENT_ERROR:
                    got_error = ev.status
                    break
        finally:
            events.cancel()
        st = cl.status(s.session_id)
        c.check(got_error is not None and st.state == pb.STATE_ERROR and
                st.error.startswith(closing),
                f"the {closing} closing: ERROR event, state ERROR ('{st.error}')")
        destroy(cl, s.session_id)
        src.close()
        dest.close()


def main():
    braidd = sys.argv[1]
    c = bt.Checks("braidd_tcp")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            d = bd.start_braidd(procs, braidd)
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
            check_stream_both_ways(c, cl, procs)
            check_backpressure(c, cl)
            check_peer_close(c, cl)
            cl.close()
            c.check(procs.stop(d) == 0, "braidd exits 0 on SIGTERM")
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
