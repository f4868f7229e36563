#!/usr/bin/python3
"""Malformed RTP and RTCP to a RIST listener's ports, in the middle of a good flow: every
bad datagram is dropped and counted (malformed, or truncated when longer than any
buffer), the receiver stays up, and the output holds exactly the good flow's payloads."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import risttest as rt  # noqa: E402

SSRC = 0x0BAD5EED & ~1


def rtp(seq, payload):
    return struct.pack(">BBHII", 0x80, 33, seq, seq * 3000, SSRC) + payload


def bad_rtp():
    """Datagrams to the RTP port that are no RTP packet (each counted as malformed)."""
    return [
        b"",                                             # empty
        b"\x80\x21\x00",                                 # shorter than the fixed header
        struct.pack(">BBHII", 0x40, 33, 1, 0, SSRC) + b"x" * 20,   # version 1
        struct.pack(">BBHII", 0x8F, 33, 1, 0, SSRC) + b"x" * 8,    # 15 CSRCs, 2 present
        struct.pack(">BBHII", 0xA0, 33, 1, 0, SSRC) + b"x" * 7 + b"\xff",  # padding > size
        struct.pack(">BBHII", 0x90, 33, 1, 0, SSRC) + b"\x00\x01\x00\x09",  # extension past end
        struct.pack(">BBHI", 0x80, 200, 6, SSRC) + bytes(20),  # RTCP (an SR) on the RTP port
    ]


def bad_rtcp():
    """Datagrams to the RTCP port that are no RTCP compound."""
    return [
        b"",
        b"\x80\xc9\x00",                                 # not a whole word
        struct.pack(">BBHI", 0x00, 201, 1, 1),           # version 0
        struct.pack(">BBHI", 0x80, 201, 40, 1),          # length past the datagram
        struct.pack(">BBHI", 0x81, 201, 1, 1),           # a report block that is not there
        struct.pack(">BBHI", 0x80, 100, 1, 1),           # type outside 192..223
        struct.pack(">BBHI", 0x80, 204, 1, 1),           # APP without its name
        os.urandom(3) + b"\x00" * 5,                     # junk, version bits 0 below
    ]


def main(braid):
    checks = bt.Checks("rist_hostile")
    with bt.tempdir() as work:
        out = os.path.join(work, "out.bin")
        procs = bt.Procs(work)
        try:
            recv = rt.start_rist_recv(procs, braid, work, f"file://{out}")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp_to, rtcp_to = ("127.0.0.1", recv.port), ("127.0.0.1", recv.port + 1)
            sr = struct.pack(">BBHIQIII", 0x80, 200, 6, SSRC, 1 << 32, 0, 0, 0)
            c.sendto(sr, rtcp_to)
            junk_rtp, junk_rtcp = bad_rtp(), bad_rtcp()
            junk_rtcp[-1] = bytes([junk_rtcp[-1][0] & 0x3F]) + junk_rtcp[-1][1:]
            expected = b""
            for seq in range(300):
                payload = struct.pack(">H", seq) + bytes([seq % 256]) * 1314
                expected += payload
                s.sendto(rtp(seq, payload), rtp_to)
                if seq % 10 == 5:
                    s.sendto(junk_rtp[(seq // 10) % len(junk_rtp)], rtp_to)
                    c.sendto(junk_rtcp[(seq // 10) % len(junk_rtcp)], rtcp_to)
                time.sleep(0.002)
            s.sendto(b"\x80" + bytes(65000), rtp_to)  # longer than any buffer
            time.sleep(0.5)
            checks.check(recv.poll() is None, "braid recv is still running")
            code = procs.stop(recv)
            checks.check(code == 0, f"and exits cleanly (status {code})")
            with open(out, "rb") as f:
                got = f.read()
            checks.check(got == expected, f"output is exactly the good flow's payloads "
                         f"({len(got)} of {len(expected)} bytes)")
            final = rt.final_rist(recv.stats_path)
            tot = final["totals"] if final else {}
            dropped = tot.get("dropped", {})
            checks.check(dropped.get("malformed") == 60,
                         f"60 malformed datagrams counted (30 RTP, 30 RTCP): {dropped}")
            checks.check(dropped.get("truncated") == 1, f"the oversized one counted as "
                         f"truncated: {dropped.get('truncated')}")
            checks.check(tot.get("out") == 300 and tot.get("lost") == 0,
                         f"300 released, none lost: {tot.get('out')}, {tot.get('lost')}")
            peers = final["peers"] if final else []
            checks.check(len(peers) == 1, f"junk made no RTCP peer: {len(peers)} peers")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
