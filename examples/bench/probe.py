#!/usr/bin/python3
"""The bench's end-to-end probe: sequence numbers carried through the system under test
inside its own MPEG-TS stream (docs/bench-links.md, "The report").

  probe.py send LISTEN_PORT TO_PORT LOG     in the sender namespace: takes the encoder's
      datagrams on 127.0.0.1:LISTEN_PORT, puts one probe TS packet in front of each and
      sends it on to 127.0.0.1:TO_PORT; LOG gets "seq send_us" per probe.
  probe.py receive LISTEN_PORT OUT_TS LOG   in the receiver namespace: takes the system's
      output on 127.0.0.1:LISTEN_PORT, appends it to OUT_TS as it came and LOG gets
      "seq send_us arrival_us" per probe found.

A probe packet is a TS packet of PID 0x1abc, which no program map names, so players and
ffprobe skip it; its payload is a marker, the sequence number and the CLOCK_MONOTONIC time
it was sent (the clock every namespace shares). Both ends run until SIGTERM or SIGINT."""

import signal
import socket
import struct
import sys
import time

PID = 0x1ABC
MARKER = b"braid-probe\x00"
TS_SIZE = 188
RECV_BUFFER = 4 << 20


def now_us():
    return time.monotonic_ns() // 1000


def probe_packet(seq, sent_us):
    header = bytes([0x47, PID >> 8, PID & 0xFF, 0x10 | (seq & 0x0F)])
    body = MARKER + struct.pack(">QQ", seq, sent_us)
    return header + body + b"\xff" * (TS_SIZE - len(header) - len(body))


def probes_in(datagram):
    """(seq, sent_us) of every probe packet in a datagram, wherever the system cut it."""
    found, at = [], datagram.find(MARKER)
    while at >= 0 and at + len(MARKER) + 16 <= len(datagram):
        found.append(struct.unpack_from(">QQ", datagram, at + len(MARKER)))
        at = datagram.find(MARKER, at + 1)
    return found


def bound_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
    s.bind(("127.0.0.1", port))
    return s


def send(listen_port, to_port, log_path):
    rx, tx = bound_socket(listen_port), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seq = 0
    with open(log_path, "w") as log:
        while True:
            data = rx.recv(65536)
            sent = now_us()
            tx.sendto(probe_packet(seq, sent) + data, ("127.0.0.1", to_port))
            log.write(f"{seq} {sent}\n")
            seq += 1


def receive(listen_port, out_path, log_path):
    rx = bound_socket(listen_port)
    with open(out_path, "wb") as out, open(log_path, "w") as log:
        while True:
            data = rx.recv(65536)
            arrived = now_us()
            out.write(data)
            for seq, sent in probes_in(data):
                log.write(f"{seq} {sent} {arrived}\n")


def main():
    # Ending by signal still closes (flushes) the files: SystemExit unwinds the with blocks.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    ports_ok = len(sys.argv) == 5 and sys.argv[2].isdigit()
    if ports_ok and sys.argv[1] == "send" and sys.argv[3].isdigit():
        send(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif ports_ok and sys.argv[1] == "receive":
        receive(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    print("usage: probe.py send LISTEN_PORT TO_PORT LOG | receive LISTEN_PORT OUT_TS LOG",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
