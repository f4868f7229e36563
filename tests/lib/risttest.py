"""Helpers for the RIST interop tests: even/odd port pairs (RTP on the even port, RTCP on
the next), braid recv as a RIST listener, and braid emu relays for a whole RIST path (one
emulated link for the RTP port and one for the RTCP port)."""

import os
import re
import socket

import braidtest as bt


def free_even_pair(taken=()):
    """An even port P with P and P + 1 both free for UDP on 127.0.0.1 (at this moment)."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] & ~1
        s.close()
        if port < 1024 or port + 1 > 65535 or port in taken:
            continue
        socks = []
        try:
            for p in (port, port + 1):
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(t)
                t.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free even/odd port pair")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_rist_recv(procs, braid, workdir, output, extra=(), name="recv"):
    port = free_even_pair()
    stats = os.path.join(workdir, f"{name}.json")
    p = procs.start(name, [braid, "recv", "--listen", f"rist://127.0.0.1:{port}",
                           "--output", output, "--stats", stats, "--stats-interval", "200",
                           *extra])
    procs.wait_stderr(p, r"listening on rist://")
    p.port = port
    p.stats_path = stats
    return p


def start_rist_path(procs, braid, name, to_port, forward="", rtcp=""):
    """Two emulated links, RTP (forward keys such as loss=) and RTCP, listening on an even
    port pair and relaying to to_port and to_port + 1. Returns (emu process, even port)."""
    port = free_even_pair()
    rtp = f"name={name}-rtp,listen=127.0.0.1:{port},to=127.0.0.1:{to_port}"
    ctl = f"name={name}-rtcp,listen=127.0.0.1:{port + 1},to=127.0.0.1:{to_port + 1}"
    if forward:
        rtp += "," + forward
    if rtcp:
        ctl += "," + rtcp
    p = procs.start(f"emu-{name}", [braid, "emu", "--link", rtp, "--link", ctl])
    procs.wait_stderr(p, rf"link {re.escape(name)}-rtcp listening on")
    return p, port


def final_rist(path):
    """The final JSON line of a RIST listener's stats."""
    line = bt.final_stats(path)
    return line if line and line.get("protocol") == "rist" else None
