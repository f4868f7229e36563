#!/usr/bin/python3
"""UDP traffic for the netns bench's tests, run inside a namespace with `ip netns exec`.

  udp_tools.py blast SECONDS SIZE DEST:PORT SRC=BITRATE [SRC=BITRATE]...
      sends SIZE-byte datagrams from each source address at its bit rate (counted on the
      UDP payload) for SECONDS; each carries its sequence number and the wall-clock time
      it left (CLOCK_REALTIME, which every namespace shares).
  udp_tools.py sink ADDR:PORT SECONDS OUT.json
      receives for SECONDS (or until SIGTERM) and writes, per source address, the arrivals:
      [sequence, send time ns, arrival time ns, bytes] lists. Arrival times are the
      kernel's receive timestamps (SO_TIMESTAMPNS), so a busy machine delaying this program
      does not bend them.
"""

import json
import array
import signal
import socket
import struct
import sys
import time

HEADER = struct.Struct("!QQ")  # sequence number, send time in ns


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def blast(seconds, size, dest, flows):
    socks, intervals, next_at, seq = [], [], [], []
    t0 = time.monotonic()
    for src, bitrate in flows:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        socks.append(s)
        intervals.append(size * 8 / bitrate)
        next_at.append(t0)
        seq.append(0)
    end = t0 + seconds
    pad = bytes(size - HEADER.size)
    while True:
        i = min(range(len(socks)), key=lambda k: next_at[k])
        if next_at[i] >= end:
            break
        wait = next_at[i] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        socks[i].sendto(HEADER.pack(seq[i], time.time_ns()) + pad, dest)
        seq[i] += 1
        next_at[i] += intervals[i]


SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>; Python's socket module does not name it


def kernel_time(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = array.array("q", data[:16])
            return sec * 1_000_000_000 + nsec
    return time.time_ns()


def sink(bind, seconds, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(bind)
    s.settimeout(0.2)
    arrivals = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    end = time.monotonic() + seconds
    while not stop and time.monotonic() < end:
        try:
            data, ancillary, _, (src, _) = s.recvmsg(65536, socket.CMSG_SPACE(16))
        except (socket.timeout, InterruptedError):
            continue
        now = kernel_time(ancillary)
        seq, sent = HEADER.unpack_from(data)
        arrivals.setdefault(src, []).append([seq, sent, now, len(data)])
    with open(out, "w") as f:
        json.dump(arrivals, f)


def main():
    if sys.argv[1] == "blast":
        flows = [(f.split("=")[0], float(f.split("=")[1])) for f in sys.argv[5:]]
        blast(float(sys.argv[2]), int(sys.argv[3]), address(sys.argv[4]), flows)
    elif sys.argv[1] == "sink":
        sink(address(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: udp_tools.py blast|sink ...")


if __name__ == "__main__":
    main()
