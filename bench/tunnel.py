#!/usr/bin/python3
"""braid tunnel against the direct path (docs/tunnel.md), as root: `braid emu --netns`
with one link of RATE, iperf3 from the sender's namespace to the receiver's, once straight
over the link (bound to its address) and once through `braid tunnel`. Reported, each as a
ratio to the direct path measured in the same run: TCP and UDP goodput, and the frame each
UDP datagram makes on the link (tshark on the link's veth), whose difference is braid's
per-packet overhead. Every process is ended by its PID; the bench's
namespaces go with it."""

import argparse
import math
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tunnel"))
from benchtest import Bench, Procs, in_ns, temp_workdir, unique_prefix  # noqa: E402
from tunneltest import GATEWAY_V4, sysfs, start_tunnels  # noqa: E402

UDP_SIZE = 1200
HEADERS = 14 + 20 + 8  # Ethernet, IPv4, UDP
CAPTURE = 2000  # frames tshark looks at during the UDP run


def iperf(procs, bench, dest, bind, seconds, extra=()):
    server = procs.start("iperf-s", in_ns(bench.ready["receiver_ns"], "iperf3", "-s", "-1",
                                         "-B", dest, "-p", "5300"))
    time.sleep(0.5)
    argv = in_ns(bench.ready["sender_ns"], "iperf3", "-c", dest, "-p", "5300", "-t",
                 str(seconds), "-J", *(["-B", bind] if bind else []), *extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    procs.stop(server)
    result = json.loads(out)
    if "error" in result:
        raise RuntimeError(f"iperf3 to {dest}: {result['error']}")
    return result


def common_frame(procs, bench, name):
    """Starts tshark on the link's `r` veth (toward the receiver) for CAPTURE UDP frames;
    common_frame_len() reads the answer."""
    return procs.start(name, in_ns(bench.link_ns(0), "tshark", "-i", "r", "-f", "udp", "-c",
                                   str(CAPTURE), "-T", "fields", "-e", "frame.len"),
                       stdout=subprocess.PIPE)


def common_frame_len(procs, tshark):
    """The frame of one of the stream's datagrams on the link. braid sends in batches
    with UDP segmentation offload, so a frame tshark sees on the veth may hold k
    datagrams: HEADERS + k * segment. The segment is the greatest common divisor of the
    large frames less their headers (the tunnel's keepalives and answers are small)."""
    out, _ = tshark.communicate(timeout=60)
    segment = 0
    for length in (int(x) for x in out.split()):
        if length > 1000:
            segment = math.gcd(segment, length - HEADERS)
    return segment + HEADERS if segment else 0


def measure(procs, bench, dest, bind, args):
    """TCP goodput, UDP goodput at the offered rate, link bytes per UDP datagram, and the
    UDP run's datagrams lost and sent."""
    tcp = iperf(procs, bench, dest, bind, args.seconds)
    tcp_bps = tcp["end"]["sum_received"]["bits_per_second"]
    tshark = common_frame(procs, bench, f"tshark-{dest}")
    udp = iperf(procs, bench, dest, bind, args.seconds,
                ("-u", "-b", args.udp_rate, "-l", str(UDP_SIZE)))
    end = udp["end"]["sum"]
    received = end["packets"] - end["lost_packets"]
    udp_bps = received * UDP_SIZE * 8 / end["seconds"]
    per_datagram = common_frame_len(procs, tshark)
    return tcp_bps, udp_bps, per_datagram, end["lost_packets"], end["packets"]


def key_option(args, workdir):
    if not args.psk:
        return []
    path = os.path.join(workdir, "psk")
    with open(path, "w") as f:
        f.write("bench-tunnel-pre-shared-key\n")
    return ["--psk", path]


def run(args, procs, workdir):
    bench = Bench(args.braid, procs, workdir, f"link a rate={args.rate}\n",
                  unique_prefix("bn"))
    if not bench.start():
        sys.exit("bench: braid emu --netns did not come up")
    try:
        direct = measure(procs, bench, bench.ready["receiver"],
                         bench.ready["links"][0]["address"], args)
        gateway, field = start_tunnels(args.braid, procs, bench,
                                       ["--latency", "200", *key_option(args, workdir)],
                                       ["--mode", args.mode])
        tunnel = measure(procs, bench, GATEWAY_V4, None, args)
        mtu = sysfs(bench.ready["sender_ns"], "/sys/class/net/btun0/mtu")
        procs.stop(field)
        procs.stop(gateway)
    finally:
        for p in procs.procs:  # the programs in its namespaces, then the bench (SIGTERM)
            if p is not bench.proc:
                procs.stop(p)
        bench.stop()
    return direct, tunnel, mtu


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build", default="build")
    p.add_argument("--rate", default="50mbit", help="the link's rate (braid emu's rate=)")
    p.add_argument("--udp-rate", default="30M", help="iperf3's offered UDP rate")
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--mode", default="adaptive", help="the field's --mode")
    p.add_argument("--psk", action="store_true", help="encrypt (a key at both ends)")
    args = p.parse_args()
    args.braid = os.path.abspath(os.path.join(args.build, "src", "braid"))
    if os.geteuid() != 0:
        sys.exit("bench/tunnel.py needs root (network namespaces)")
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        try:
            direct, tunnel, mtu = run(args, procs, workdir)
        finally:
            procs.stop_all()
    print(f"braid tunnel vs the direct path, one link of {args.rate}, tunnel MTU {mtu}, "
          f"mode {args.mode}, {'with' if args.psk else 'no'} key")
    print(f"{'':26}{'direct':>12}{'tunnel':>12}{'ratio':>8}")
    for name, k, scale, unit in (("TCP goodput", 0, 1e6, "Mbit/s"),
                                 ("UDP goodput", 1, 1e6, "Mbit/s"),
                                 ("frame per datagram", 2, 1, "B")):
        d, t = direct[k] / scale, tunnel[k] / scale
        print(f"{name + ' (' + unit + ')':26}{d:12.2f}{t:12.2f}{t / d:8.3f}")
    print(f"UDP lost: direct {direct[3]} of {direct[4]}, tunnel {tunnel[3]} of {tunnel[4]}")
    print(f"braid's overhead per packet, measured on the link: {tunnel[2] - direct[2]:.0f} "
          f"bytes (docs/tunnel.md: 44 without a key, 68 with one)")


if __name__ == "__main__":
    main()
