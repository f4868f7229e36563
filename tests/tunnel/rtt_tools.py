#!/usr/bin/python3
"""Round trips through braid tunnel, to tell its traffic classes apart.

  rtt_tools.py echo ADDR PORT...          UDP echo and a TCP listener on each port
  rtt_tools.py probe ADDR PORT DSCP       prints {"udp_ms": .., "tcp_ms": ..}: the median
                                          of 5 UDP echoes (TOS from DSCP) and of 5 TCP
                                          connects to ADDR:PORT
"""

import json
import selectors
import socket
import statistics
import sys
import time


def echo(addr, ports):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sel = selectors.DefaultSelector()
    for port in ports:
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.bind((addr, port))
        sel.register(u, selectors.EVENT_READ, "udp")
        t = socket.socket(family, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, port))
        t.listen(16)
        sel.register(t, selectors.EVENT_READ, "tcp")
    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                data, peer = key.fileobj.recvfrom(2048)
                key.fileobj.sendto(data, peer)
            else:
                conn, _ = key.fileobj.accept()
                conn.close()


def udp_rtt(addr, port, dscp):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    s.settimeout(5)
    start = time.monotonic()
    s.sendto(b"x" * 100, (addr, port))
    s.recvfrom(2048)
    s.close()
    return (time.monotonic() - start) * 1000


def tcp_rtt(addr, port):
    start = time.monotonic()
    s = socket.create_connection((addr, port), timeout=5)
    elapsed = (time.monotonic() - start) * 1000
    s.close()
    return elapsed


def probe(addr, port, dscp):
    udp = [udp_rtt(addr, port, dscp) for _ in range(5)]
    tcp = [tcp_rtt(addr, port) for _ in range(5)]
    print(json.dumps({"udp_ms": statistics.median(udp), "tcp_ms": statistics.median(tcp)}))


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(sys.argv[2], [int(p) for p in sys.argv[3:]])
    else:
        probe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
