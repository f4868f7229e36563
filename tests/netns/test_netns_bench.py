#!/usr/bin/python3
"""braid emu --netns as root: the bench's topology and its TBF rates measured from outside,
its ready line, links chosen by destination port (--netns-ports), its refusals, and its
cleanup after SIGTERM, after SIGKILL (by the next run
of the same prefix) and when a second run asks for a prefix in use.

Three links shaped to 2, 4 and 6 Mbit/s through netlink; a UDP sender in the sender
namespace, bound to each link's address, offers 1.5 times each rate; the receiver measures
each link's throughput as the TBF counts it (the datagrams with their UDP, IP and Ethernet
headers), which must be within 3 % of the rate."""

import json
import os
import signal
import subprocess
import sys
import time

from benchtest import (PYTHON, WIRE_OVERHEAD, Bench, Checks, Procs, in_ns, leftovers,
                       lock_dir_gone, root_devices, run_traffic, temp_workdir, unique_prefix)

BRAID = sys.argv[1]
RATES = [2_000_000, 4_000_000, 6_000_000]
# A deep queue (2 s) and 1.5 times the rate offered: the sender (a Python program on a
# shared machine) may pause without the queue running dry, so the TBF alone sets the pace.
SCENARIO = "".join(f"link lte{i + 1} rate={r // 1000}kbit,queue=2s\n"
                   for i, r in enumerate(RATES))
OFFERED = 1.5
SIZE = 1316
SECONDS = 7.0
WARMUP_NS = 1_500_000_000


def wire_throughput(arrivals):
    """bit/s over the arrivals after the first 1.5 s (a queue built, the bucket's burst
    spent), counted as the qdisc counts them, by the kernel's receive timestamps."""
    times = sorted(a[2] for a in arrivals)
    start = times[0] + WARMUP_NS
    inside = [t for t in times if t >= start]
    if len(inside) < 2:
        return 0.0
    return (len(inside) - 1) * (SIZE + WIRE_OVERHEAD) * 8 / ((inside[-1] - inside[0]) / 1e9)


def test_throughput(c, procs, workdir):
    before = root_devices()
    prefix = unique_prefix("a")
    bench = Bench(BRAID, procs, workdir, SCENARIO, prefix,
                  extra=["--stats", os.path.join(workdir, "stats.jsonl"), "--netns-ports",
                         str(PORT_BASE)])
    ready = bench.start()
    if not c.check(ready is not None, "the bench comes up and prints its ready line"):
        print(bench.stderr())
        bench.stop()
        return
    c.check(ready["sender_ns"] == f"{prefix}-tx" and ready["receiver_ns"] == f"{prefix}-rx",
            f"namespaces named by the prefix: {ready['sender_ns']}, {ready['receiver_ns']}")
    c.check([l["name"] for l in ready["links"]] == ["lte1", "lte2", "lte3"] and
            len({l["address"] for l in ready["links"]}) == 3 and
            all(l["interface"] and l["namespace"].startswith(prefix) for l in ready["links"]),
            "each link has its name, namespace, interface and own address")
    check_ports(c, procs, ready)
    flows = [(l["address"], r * OFFERED) for l, r in zip(ready["links"], RATES)]
    arrivals = run_traffic(procs, bench, SECONDS, SIZE, flows, drain=2.5)
    for link, rate in zip(ready["links"], RATES):
        got = wire_throughput(arrivals.get(link["address"], [[0, 0, 0, 0]]))
        c.check(abs(got - rate) <= 0.03 * rate,
                f"{link['name']}: {got / 1e6:.3f} Mbit/s through a {rate / 1e6:.0f} Mbit/s TBF "
                f"(within 3 %)")
    c.check(set(arrivals) == {l["address"] for l in ready["links"]},
            f"arrivals from exactly the three link addresses: {sorted(arrivals)}")
    c.check(bench.stop() == 0, "SIGTERM: exit status 0")
    check_link_isolation(c, workdir, ready, arrivals)
    c.check(leftovers(prefix) == [] and lock_dir_gone(),
            f"nothing left after SIGTERM: {leftovers(prefix)}")
    c.check(root_devices() == before, "no device added to the test's own namespace")


# Answers, from the receiver, the source address each datagram came from.
ECHO = """
import select, socket, sys
socks = []
for port in map(int, sys.argv[2:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(100)
        s.sendto(peer[0].encode(), peer)
"""
# Sends from unbound sockets to each port; prints what the receiver saw as the source.
ASK = """
import socket, sys
for port in map(int, sys.argv[2:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"?", (sys.argv[1], port))
    print(s.recvfrom(100)[0].decode())
"""
PORT_BASE = 6000


def check_ports(c, procs, ready):
    """--netns-ports: UDP from an unbound socket to link i's port crosses link i, leaving
    from link i's address, and the answer comes back."""
    ports = [str(l["ports"][0]) for l in ready["links"]]
    echo = procs.start("echo", in_ns(ready["receiver_ns"], PYTHON, "-c", ECHO,
                                     ready["receiver"], *ports))
    time.sleep(0.3)
    ask = subprocess.run(in_ns(ready["sender_ns"], PYTHON, "-c", ASK, ready["receiver"],
                               *ports), capture_output=True, text=True, timeout=20)
    procs.stop(echo)
    seen = ask.stdout.split()
    c.check(seen == [l["address"] for l in ready["links"]],
            f"unbound UDP to ports {ports} left from the links' addresses: {seen}")


def check_link_isolation(c, workdir, ready, arrivals):
    """Each source's packets crossed its own link only: the TBF of link i passed at least
    as many packets as arrived from link i's address, and no more than that plus what the
    kernel itself says on a new link (a few IPv6 neighbour messages) and what it dropped."""
    with open(os.path.join(workdir, "stats.jsonl")) as f:
        final = {d["link"]: d for d in map(json.loads, f) if d.get("final")}
    for link in ready["links"]:
        q = final[link["name"]]["fwd"]["qdisc"]
        received = len(arrivals.get(link["address"], []))
        c.check(q["kind"] == "tbf" and q["rate_bps"] > 0 and
                received <= q["packets"] <= received + 50,
                f"{link['name']}: its TBF passed {q['packets']} packets, {received} arrived "
                f"from its address; {q['drops']} dropped at the TBF")


def test_sigkill_and_lock(c, procs, workdir):
    before = root_devices()
    prefix = unique_prefix("k")
    scenario = "link a rate=2mbit,delay=5ms\nlink b rate=3mbit\n"
    first = Bench(BRAID, procs, workdir, scenario, prefix)
    c.check(first.start() is not None, "a bench with a user-space path comes up")
    second = Bench(BRAID, procs, workdir, scenario, prefix)
    c.check(second.start(timeout=10) is None and second.proc.wait(timeout=10) == 1 and
            "in use" in second.stderr(), "a second run of the same prefix is refused, exit 1: "
            + second.stderr().strip())
    first.stop(signal.SIGKILL)
    left = leftovers(prefix)
    c.check(len(left) >= 4, f"SIGKILL leaves the namespaces pinned: {left}")
    # A namespace of another prefix that starts with this one ("P-x" makes "P-x-tx"): the
    # next run of P must leave it alone.
    other = f"{prefix}-x-tx"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        third = Bench(BRAID, procs, workdir, scenario, prefix)
        c.check(third.start() is not None, "the next run of the prefix starts")
        c.check(os.path.exists(f"/run/netns/{other}"), f"and leaves {other} alone")
    finally:
        subprocess.run(["ip", "netns", "del", other], check=True)
    c.check("removed" in third.stderr(), "and says it removed what the killed run left: " +
            third.stderr().strip().splitlines()[0] if third.stderr().strip() else "(nothing)")
    c.check(third.stop() == 0, "SIGTERM: exit status 0")
    c.check(leftovers(prefix) == [] and lock_dir_gone(),
            f"nothing left at the end: {leftovers(prefix)}")
    c.check(root_devices() == before, "no device added to the test's own namespace")


def test_refusals(c, procs, workdir):
    p = subprocess.run([BRAID, "emu", "--netns", "--link", "rate=1mbit", "--netns-prefix",
                        "a/b"], capture_output=True, text=True, timeout=10)
    c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and
            "--netns-prefix" in p.stderr, "a bad prefix: one line, exit 2: " + p.stderr.strip())
    p = subprocess.run([BRAID, "emu", "--netns", "--link", "rate=1mbit,bogus=1"],
                       capture_output=True, text=True, timeout=10)
    c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and
            "bogus" in p.stderr, "a bad link key: one line, exit 2: " + p.stderr.strip())
    p = subprocess.run([BRAID, "emu", "--netns", "--link", "rate=1mbit", "--link", "rate=2mbit",
                        "--netns-ports", "65533"], capture_output=True, text=True, timeout=10)
    c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and
            "--netns-ports" in p.stderr, "ports past 65535: one line, exit 2: " + p.stderr.strip())
    prefix = unique_prefix("u")
    p = subprocess.run([BRAID, "emu", "--netns", "--link", "rate=1mbit", "--netns-prefix",
                        prefix], capture_output=True, text=True, timeout=10,
                       preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
    c.check(p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and
            "root" in p.stderr, "without root: one line, exit 1: " + p.stderr.strip())
    c.check(leftovers(prefix) == [], "and nothing made")


def main():
    c = Checks("netns_bench")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        try:
            test_refusals(c, procs, workdir)
            test_throughput(c, procs, workdir)
            test_sigkill_and_lock(c, procs, workdir)
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
