#!/usr/bin/python3
"""What an on-path observer sees: tshark captures every datagram between `braid send` and
`braid recv` on loopback while a stream of MPEG-TS packets (sync byte 0x47 every 188 bytes)
carrying a known marker crosses three links, once with --psk and once without.

- keyed: no captured payload shows the TS sync pattern (0x47 at 7 strides of 188) or the
  marker, and the output is byte-identical to the input;
- unkeyed (the control, so the search is shown to find what is there): the pattern and
  the marker are in the capture, and the output is byte-identical too.
tshark is the independent reader here; the capture is a classic pcap parsed below."""

import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

MARKER = b"braid-capture-marker"
DATAGRAMS = 400
BITRATE = 2_000_000
LINKS = ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3", "name=c,addr=127.0.0.4"]


def make_stream():
    """DATAGRAMS datagrams of 7 TS packets: 0x47, a PID, a counter, the marker, filler."""
    out = bytearray()
    for i in range(DATAGRAMS):
        for k in range(7):
            body = struct.pack(">I", i * 7 + k) + MARKER
            body += bytes((i + j) % 251 for j in range(184 - len(body)))
            out += bytes([0x47, 0x01, 0x00, 0x10 | (i * 7 + k) % 16]) + body
    return bytes(out)


def udp_payloads(pcap_path):
    """The UDP payloads of an Ethernet-framed (loopback) classic pcap."""
    with open(pcap_path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    assert linktype == 1, f"unexpected link type {linktype}"
    pos, out = 24, []
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17:
            continue
        ihl = (frame[14] & 0x0f) * 4
        out.append(frame[14 + ihl + 8:])
    return out


def has_ts_pattern(payload):
    for start in range(max(0, len(payload) - 6 * 188)):
        if all(payload[start + k * 188] == 0x47 for k in range(7)):
            return True
    return False


def run(braid, work, label, extra, c):
    data = make_stream()
    src, out = os.path.join(work, f"in-{label}.ts"), os.path.join(work, f"out-{label}.ts")
    pcap = os.path.join(work, f"{label}.pcap")
    with open(src, "wb") as f:
        f.write(data)
    procs = bt.Procs(work)
    try:
        recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=extra)
        cap = procs.start(f"tshark-{label}", ["tshark", "-i", "lo", "-F", "pcap", "-w", pcap,
                                             "-f", f"udp port {recv.port}"])
        procs.wait_stderr(cap, r"Capturing on")
        time.sleep(0.5)
        send = bt.start_send(procs, braid, work, recv.port, LINKS, extra=extra)
        time.sleep(0.3)
        bt.pace_file(src, send.port, BITRATE)
        time.sleep(1.6)
        c.check(procs.stop(send) == 0, f"{label}: braid send exits cleanly")
        c.check(procs.stop(recv) == 0, f"{label}: braid recv exits cleanly")
        cap.send_signal(signal.SIGINT)
        cap.wait(timeout=20)
        payloads = udp_payloads(pcap)
        with open(out, "rb") as f:
            got = f.read()
        c.check(got == data, f"{label}: output byte-identical ({len(got)} of {len(data)} B)")
        pattern = sum(1 for p in payloads if has_ts_pattern(p))
        marker = sum(1 for p in payloads if MARKER in p)
        print(f"figure: {label}: {len(payloads)} datagrams captured, "
              f"{sum(len(p) for p in payloads)} B; TS sync pattern in {pattern}, "
              f"marker in {marker}")
        c.check(len(payloads) >= DATAGRAMS, f"{label}: the capture saw the stream "
                f"({len(payloads)} datagrams)")
        return pattern, marker
    finally:
        procs.stop_all()


def main(braid):
    c = bt.Checks("encrypted-capture")
    subprocess.run(["tshark", "--version"], check=True, capture_output=True)
    with bt.tempdir() as work:
        psk = os.path.join(work, "psk")
        with open(psk, "w") as f:
            f.write("a key for the capture test\n")
        pattern, marker = run(braid, work, "keyed", ["--psk", psk], c)
        c.check(pattern == 0 and marker == 0,
                f"keyed: no plaintext on the wire (sync pattern {pattern}, marker {marker})")
        pattern, marker = run(braid, work, "unkeyed", [], c)
        c.check(pattern > 0 and marker > 0,
                f"unkeyed control: the search finds the stream in clear "
                f"(sync pattern {pattern}, marker {marker})")
    return c.finish()


if __name__ == "__main__":
    bt.main_guard(main)
