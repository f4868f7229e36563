#!/usr/bin/python3
"""braid tunnel (root): a field unit and a gateway joined by two links of `braid emu
--netns`, each end with a TUN device holding an IPv4 and an IPv6 address. The traffic
classes: media UDP (by port or DSCP) waits for the 500 ms budget, TCP and other UDP only
for the fast class's 50 ms. iperf3 runs through the tunnel: TCP over IPv6, UDP over IPv4
with nothing lost, then TCP and UDP again while link b is blackholed (SIGUSR1 to the bench: b is the only link with a user-space
path): the TCP connection lives on and its throughput is back within 2 s, and the UDP
stream loses nothing, the repair covering what the dead link swallowed. The devices have
the MTU of the path less braid's overhead, and go when the programs end."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netns"))
from benchtest import (Bench, Checks, Procs, in_ns, leftovers, root_devices,  # noqa: E402
                       temp_workdir, unique_prefix)
from tunneltest import (GATEWAY_V4, GATEWAY_V6, SCENARIO, TUN, start_tunnels,  # noqa: E402
                        sysfs)

BRAID = sys.argv[1]
# Without a key: outer IPv4 20, UDP 8, braid's DATA header 16.
EXPECTED_MTU = 1500 - 20 - 8 - 16
# Media: the iperf3 UDP runs' ports, the echo's media port, and DSCP EF; the rest of UDP,
# and TCP, take the fast class.
MEDIA_PORT, OTHER_PORT = 7000, 7001
CLASSES = ["--latency", "500", "--fast-latency", "50", "--media-ports",
           f"5202,5204,{MEDIA_PORT}", "--media-dscp", "46"]
RTT_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtt_tools.py")
CUT_S = 4.0  # when the TCP run's blackhole starts


def iperf(procs, bench, port, dest, seconds, extra=(), during=None):
    """One iperf3 run from the field to the gateway; its JSON. `during` is called with the
    client's start time while it runs."""
    server = procs.start(f"iperf-s{port}", in_ns(bench.ready["receiver_ns"], "iperf3", "-s",
                                                "-1", "-J", "-i", "0.5", "-p", str(port)))
    time.sleep(0.5)
    argv = in_ns(bench.ready["sender_ns"], "iperf3", "-c", dest, "-p", str(port), "-t",
                 str(seconds), "-J", *extra)
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if during:
        during(time.monotonic())
    out, _ = client.communicate(timeout=seconds + 30)
    procs.stop(server)
    try:
        return json.loads(out)
    except ValueError:
        return {"error": out.decode(errors="replace")[:300]}


def check_devices(c, bench):
    for ns in (bench.ready["sender_ns"], bench.ready["receiver_ns"]):
        mtu = sysfs(ns, f"/sys/class/net/{TUN}/mtu")
        c.check(mtu == str(EXPECTED_MTU), f"{ns}: {TUN} has MTU {mtu} (1500 less braid's "
                f"{1500 - EXPECTED_MTU} bytes: {EXPECTED_MTU})")


def received_mbps(result):
    """What the gateway's iperf3 received, each 0.5 s (the client's own intervals count
    what was written to its socket, which comes in bursts)."""
    server = result.get("server_output_json", {})
    return [i["sum"]["bits_per_second"] / 1e6 for i in server.get("intervals", [])]


def check_tcp_blackhole(c, procs, bench):
    cut_at = {}

    def blackhole_later(start):
        time.sleep(CUT_S)
        cut_at["t"] = time.monotonic() - start
        os.kill(bench.proc.pid, signal.SIGUSR1)

    r = iperf(procs, bench, 5203, GATEWAY_V4, 10, ("-i", "0.5", "--get-server-output"),
              during=blackhole_later)
    mbps = received_mbps(r)
    c.check("error" not in r and len(mbps) >= 16,
            f"TCP through a blackhole: the connection lives on ({r.get('error', 'no error')})")
    cut = cut_at.get("t", CUT_S)
    # Whole seconds (TCP's rate over half a second swings with each burst); the last
    # interval, the transfer's tail, is left out.
    seconds = [(mbps[k] + mbps[k + 1]) / 2 for k in range(0, len(mbps) - 2, 2)]
    before = [m for k, m in enumerate(seconds) if k >= 2 and k + 1 <= cut]
    after = [m for k, m in enumerate(seconds) if k >= cut + 2.0]
    base = sum(before) / max(len(before), 1)
    c.check(before and after and min(after) >= 0.4 * base,
            f"TCP throughput from 2 s after the blackhole (at {cut:.1f} s): every second at "
            f"least 40 % of the {base:.1f} Mbit/s before: {[round(m, 1) for m in seconds]}")
    os.kill(bench.proc.pid, signal.SIGUSR1)  # b back for the next run
    time.sleep(2.0)


def udp_lost(result):
    end = result.get("end", {}).get("sum", {})
    return end.get("lost_packets"), end.get("packets")


def check_udp_blackhole(c, procs, bench):
    def blackhole_later(start):
        time.sleep(2.0)
        os.kill(bench.proc.pid, signal.SIGUSR1)

    r = iperf(procs, bench, 5204, GATEWAY_V4, 5, ("-u", "-b", "4M", "-l", "1200"),
              during=blackhole_later)
    lost, packets = udp_lost(r)
    c.check(packets and packets > 1500 and lost == 0,
            f"UDP through a blackhole: {lost} of {packets} datagrams lost")


def probe(bench, port, dscp):
    r = subprocess.run(in_ns(bench.ready["sender_ns"], "/usr/bin/python3", RTT_TOOLS, "probe",
                             GATEWAY_V4, str(port), str(dscp)),
                       capture_output=True, text=True, timeout=60)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": r.stderr[-300:]}


def check_classes(c, procs, bench):
    """Media waits for its 500 ms budget on the way out (the answer comes straight back on
    the reverse channel); TCP and other UDP only for the fast class's 50 ms."""
    echo = procs.start("echo", in_ns(bench.ready["receiver_ns"], "/usr/bin/python3", RTT_TOOLS,
                                     "echo", GATEWAY_V4, str(MEDIA_PORT), str(OTHER_PORT)))
    time.sleep(0.5)
    media, other, marked = probe(bench, MEDIA_PORT, 0), probe(bench, OTHER_PORT, 0), \
        probe(bench, OTHER_PORT, 46)
    procs.stop(echo)
    c.check(480 <= media.get("udp_ms", 0) <= 700,
            f"UDP to a media port: round trip {media} within 480..700 ms")
    c.check(0 < other.get("udp_ms", 999) <= 150 and 0 < other.get("tcp_ms", 999) <= 150,
            f"UDP to another port and TCP: round trips {other} at most 150 ms")
    c.check(480 <= marked.get("udp_ms", 0) <= 700,
            f"UDP to another port marked DSCP 46: round trip {marked} within 480..700 ms")


def run_checks(c, procs, bench):
    gateway, field = start_tunnels(BRAID, procs, bench, CLASSES)
    check_devices(c, bench)
    check_classes(c, procs, bench)
    r = iperf(procs, bench, 5201, GATEWAY_V6, 3)
    sent = r.get("end", {}).get("sum_received", {}).get("bytes", 0)
    c.check("error" not in r and sent > 1_000_000,
            f"TCP over IPv6 through the tunnel: {sent} bytes ({r.get('error', 'no error')})")
    r = iperf(procs, bench, 5202, GATEWAY_V4, 3, ("-u", "-b", "4M", "-l", "1200"))
    lost, packets = udp_lost(r)
    c.check(packets and packets > 1000 and lost == 0,
            f"UDP over IPv4 through the tunnel: {lost} of {packets} datagrams lost")
    check_tcp_blackhole(c, procs, bench)
    check_udp_blackhole(c, procs, bench)
    c.check(procs.stop(field) == 0 and procs.stop(gateway) == 0,
            "both ends exit 0 on SIGTERM")
    for ns in (bench.ready["sender_ns"], bench.ready["receiver_ns"]):
        c.check(sysfs(ns, f"/sys/class/net/{TUN}/mtu") is None,
                f"{ns}: {TUN} is gone after the exit")


BAD_ARGUMENTS = [
    (["--tun", "t0", "--address", "10.1.0.1/24"], "--role"),
    (["--role", "middle"], "--role"),
    (["--role", "gateway", "--tun", "t0", "--address", "10.1.0.1/24"], "--listen"),
    (["--role", "gateway", "--listen", ":9000", "--tun", "t0", "--address", "10.1.0.1"],
     "--address"),
    (["--role", "gateway", "--listen", ":9000", "--tun", "t0", "--address", "fd00::1/129"],
     "--address"),
    (["--role", "gateway", "--listen", ":9000", "--tun", "a/b", "--address", "10.1.0.1/24"],
     "--tun"),
    (["--role", "field", "--to", "127.0.0.1:9000", "--tun", "t0", "--address", "10.1.0.1/24"],
     "--link"),
    (["--role", "gateway", "--listen", ":9000", "--link", "lo", "--tun", "t0", "--address",
      "10.1.0.1/24"], "--link"),
    (["--role", "gateway", "--listen", ":9000", "--tun", "t0", "--address", "10.1.0.1/24",
      "--mtu", "100"], "--mtu"),
]


def check_bad_arguments(c):
    """Refused before anything is made: one line naming the argument, exit status 2."""
    before = root_devices()
    for argv, named in BAD_ARGUMENTS:
        r = subprocess.run([BRAID, "tunnel", *argv], capture_output=True, text=True, timeout=10)
        lines = r.stderr.strip().splitlines()
        c.check(r.returncode == 2 and len(lines) == 1 and named in lines[0],
                f"{' '.join(argv)}: exit {r.returncode}, {lines}")
    c.check(root_devices() == before, "no device made for a bad command line")


def main():
    c = Checks("tunnel")
    check_bad_arguments(c)
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    devices = root_devices()
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        try:
            prefix = unique_prefix("t")
            bench = Bench(BRAID, procs, workdir, SCENARIO, prefix)
            if c.check(bench.start() is not None, "the bench comes up"):
                run_checks(c, procs, bench)
                c.check(bench.stop() == 0, "the bench exits 0")
            c.check(leftovers(prefix) == [], "no namespace left")
        finally:
            procs.stop_all()
    c.check(root_devices() == devices, "no device left in the test's namespace")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
