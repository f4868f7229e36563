#!/usr/bin/python3
"""braid tunnel's gateway (root): two field units, one session each, into one gateway,
and the NAT recipe of docs/tunnel.md. Both field units run in the bench's sender namespace
over the same two links, each with its own TUN device and subnet (10.99.0.0/24 and
10.98.0.0/24; the gateway's device holds an address in each). iperf3 TCP from both at once:
each connection gets its answers back, so the gateway routes its packets to the right
session by inner address. Then the gateway masquerades the first field unit's traffic
out of an "internet" namespace's link (nftables, as the recipe does), and a server there
sees the connection come from the gateway's address."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netns"))
from benchtest import (Bench, Checks, Procs, in_ns, leftovers, root_devices,  # noqa: E402
                       temp_workdir, unique_prefix)
from tunneltest import PORT, SCENARIO  # noqa: E402

BRAID = sys.argv[1]
# (TUN, field address, gateway address) per field unit.
FIELDS = [("bta", "10.99.0.2", "10.99.0.1"), ("btb", "10.98.0.2", "10.98.0.1")]
NET_GATEWAY, NET_SERVER = "198.51.100.1", "198.51.100.2"  # the "internet" link
NFT_RULES = f"""table ip braid_nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat;
    ip saddr 10.99.0.0/24 oifname "inet0" masquerade
  }}
}}
"""


def start_gateway(procs, bench):
    return procs.start("gateway", in_ns(
        bench.ready["receiver_ns"], BRAID, "tunnel", "--role", "gateway", "--listen",
        f"{bench.ready['receiver']}:{PORT}", "--tun", "btun0",
        "--address", f"{FIELDS[0][2]}/24", "--address", f"{FIELDS[1][2]}/24"))


def start_field(procs, bench, tun, address):
    links = sum((["--link", f"name={l['name']},addr={l['address']}"]
                 for l in bench.ready["links"]), [])
    p = procs.start(f"field-{tun}", in_ns(
        bench.ready["sender_ns"], BRAID, "tunnel", "--role", "field", "--to",
        f"{bench.ready['receiver']}:{PORT}", *links, "--tun", tun, "--address",
        f"{address}/24"))
    for link in bench.ready["links"]:
        procs.wait_stderr(p, rf"link {link['name']}: down -> healthy", timeout=10)
    return p


def iperf_pair(procs, bench):
    """TCP from both field units at once, each to its gateway address; their JSON."""
    servers = [procs.start(f"iperf-s{i}", in_ns(bench.ready["receiver_ns"], "iperf3", "-s",
                                                "-1", "-B", gw, "-p", str(5400 + i)))
               for i, (_, _, gw) in enumerate(FIELDS)]
    time.sleep(0.5)
    clients = [subprocess.Popen(in_ns(bench.ready["sender_ns"], "iperf3", "-c", gw, "-B", field,
                                      "-p", str(5400 + i), "-t", "3", "-J"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for i, (_, field, gw) in enumerate(FIELDS)]
    results = []
    for c in clients:
        out, _ = c.communicate(timeout=40)
        try:
            results.append(json.loads(out))
        except ValueError:
            results.append({"error": out.decode(errors="replace")[:200]})
    for s in servers:
        procs.stop(s)
    return results


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, **kw)


def build_internet(bench, net_ns):
    """An "internet" namespace joined to the gateway's by a veth, the gateway forwarding
    and masquerading the first field unit's subnet out of it, the field routing it into
    its tunnel. The recipe's commands (docs/tunnel.md), here with ip and nft."""
    rx, tx = bench.ready["receiver_ns"], bench.ready["sender_ns"]
    steps = [["ip", "netns", "add", net_ns],
             ["ip", "-n", rx, "link", "add", "inet0", "type", "veth", "peer", "name", "up0",
              "netns", net_ns],
             ["ip", "-n", rx, "addr", "add", f"{NET_GATEWAY}/24", "dev", "inet0"],
             ["ip", "-n", rx, "link", "set", "inet0", "up"],
             ["ip", "-n", net_ns, "addr", "add", f"{NET_SERVER}/24", "dev", "up0"],
             ["ip", "-n", net_ns, "link", "set", "up0", "up"],
             ["ip", "netns", "exec", rx, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
             ["ip", "-n", tx, "route", "add", "198.51.100.0/24", "dev", FIELDS[0][0]]]
    for step in steps:
        r = run(step)
        if r.returncode:
            return f"{' '.join(step)}: {r.stderr.strip()}"
    r = run(["ip", "netns", "exec", rx, "nft", "-f", "-"], input=NFT_RULES)
    return f"nft: {r.stderr.strip()}" if r.returncode else None


def check_nat(c, procs, bench, net_ns):
    failed = build_internet(bench, net_ns)
    if not c.check(failed is None, f"the internet namespace and the NAT are set up ({failed})"):
        return
    server = procs.start("iperf-net", in_ns(net_ns, "iperf3", "-s", "-1", "-J", "-p", "5500"),
                         stdout=subprocess.PIPE)
    time.sleep(0.5)
    r = run(in_ns(bench.ready["sender_ns"], "iperf3", "-c", NET_SERVER, "-p", "5500", "-t",
                  "2", "-J"))
    out, _ = server.communicate(timeout=20)
    try:
        seen = json.loads(out)["start"]["connected"][0]["remote_host"]
    except (ValueError, KeyError, IndexError):
        seen = None
    sent = json.loads(r.stdout)["end"]["sum_received"]["bytes"] if r.returncode == 0 else 0
    c.check(sent > 100_000 and seen == NET_GATEWAY,
            f"the field unit reaches the internet through the gateway's NAT: {sent} bytes, "
            f"the server sees {seen} (the gateway: {NET_GATEWAY})")


def run_checks(c, procs, bench, net_ns):
    gateway = start_gateway(procs, bench)
    fields = [start_field(procs, bench, tun, address) for tun, address, _ in FIELDS]
    # Two field units, each a media and a fast session.
    procs.wait_stderr(gateway, r"(session \S+ started[\s\S]*){4}")
    started = set(re.findall(r"session (\S+) started", procs.stderr(gateway)))
    c.check(len(started) == 2 * len(FIELDS),
            f"the gateway has two sessions (media, fast) for each field unit: "
            f"{len(started)} for {len(FIELDS)}")
    for (tun, _, _), r in zip(FIELDS, iperf_pair(procs, bench)):
        got = r.get("end", {}).get("sum_received", {}).get("bytes", 0)
        c.check("error" not in r and got > 500_000,
                f"field unit {tun}: TCP through its own session, {got} bytes "
                f"({r.get('error', 'no error')})")
    check_nat(c, procs, bench, net_ns)
    for p in [*fields, gateway]:
        c.check(procs.stop(p) == 0, f"{p.braid_name} exits 0 on SIGTERM")


def main():
    c = Checks("tunnel_gateway")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    devices = root_devices()
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        prefix = unique_prefix("g")
        net_ns = f"{prefix}-net"
        try:
            bench = Bench(BRAID, procs, workdir, SCENARIO, prefix)
            if c.check(bench.start() is not None, "the bench comes up"):
                run_checks(c, procs, bench, net_ns)
                c.check(bench.stop() == 0, "the bench exits 0")
        finally:
            procs.stop_all()
            run(["ip", "netns", "del", net_ns])  # its veth goes with it
        c.check(leftovers(prefix) == [], "no namespace left")
    c.check(root_devices() == devices, "no device left in the test's namespace")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
