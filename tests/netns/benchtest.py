"""Helpers for the netns bench's tests (tests run as root): start `braid emu --netns` with a
scenario under a prefix unique to the test, read its ready line, run programs inside its
namespaces with `ip netns exec` (the tests may use ip; braid itself never does), and check
that nothing it made survives: no namespace, no lock file, no device left in the test's own
namespace. Every process is ended by PID; every file lives in a temporary directory."""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from braidtest import Checks, Procs  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udp_tools.py")
PYTHON = "/usr/bin/python3"
WIRE_OVERHEAD = 8 + 20 + 14  # UDP, IPv4 and Ethernet headers: what a TBF counts


def unique_prefix(tag):
    return f"bt{tag}{os.getpid()}"


def leftovers(prefix):
    """What a bench of this prefix left: namespaces pinned in /run/netns, its lock file."""
    found = []
    if os.path.isdir("/run/netns"):
        found += [n for n in os.listdir("/run/netns") if n.startswith(prefix + "-")]
    if os.path.exists(f"/run/braid/netns-{prefix}.lock"):
        found.append(f"/run/braid/netns-{prefix}.lock")
    return found


def lock_dir_gone():
    """/run/braid, where running benches keep their locks, goes with the last one."""
    return not os.path.exists("/run/braid") or bool(os.listdir("/run/braid"))


def root_devices():
    return set(os.listdir("/sys/class/net"))


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns, *argv]


class Bench:
    """One `braid emu --netns` run. start() returns the ready line's JSON (None when the
    program ended or said nothing within the timeout)."""

    def __init__(self, braid, procs, workdir, scenario, prefix, extra=(), wrap=()):
        self.procs, self.prefix = procs, prefix
        self.scenario_path = os.path.join(workdir, f"{prefix}.scenario")
        with open(self.scenario_path, "w") as f:
            f.write(scenario)
        self.argv = [*wrap, braid, "emu", "--netns", "--scenario", self.scenario_path,
                     "--netns-prefix", prefix, *extra]
        self.proc = None
        self.ready = None

    def start(self, timeout=20):
        self.proc = self.procs.start(self.prefix, self.argv, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if ready:
            line = self.proc.stdout.readline()
            self.ready = json.loads(line) if line.strip() else None
        return self.ready

    def stop(self, sig=signal.SIGTERM):
        rc = self.procs.stop(self.proc, sig)
        self.proc.stdout.close()
        return rc

    def stderr(self):
        return self.procs.stderr(self.proc)

    def link_ns(self, i):
        return self.ready["links"][i]["namespace"]


def run_traffic(procs, bench, seconds, size, flows, port=5000, drain=0.5):
    """A sink on the receiver and a blast from the sender's addresses; the sink stops `drain`
    seconds after the blast (let the links' queues empty). Returns the arrivals per source
    address."""
    out = os.path.join(os.path.dirname(bench.scenario_path), f"arrivals-{port}.json")
    receiver = bench.ready["receiver"]
    sink = procs.start("sink", in_ns(bench.ready["receiver_ns"], PYTHON, TOOLS, "sink",
                                     f"{receiver}:{port}", str(seconds + drain + 30), out))
    time.sleep(0.5)
    blast = procs.start("blast", in_ns(bench.ready["sender_ns"], PYTHON, TOOLS, "blast",
                                       str(seconds), str(size), f"{receiver}:{port}",
                                       *[f"{src}={rate}" for src, rate in flows]))
    blast.wait(timeout=seconds + 30)
    time.sleep(drain)
    procs.stop(sink)
    with open(out) as f:
        return json.load(f)


def temp_workdir():
    return tempfile.TemporaryDirectory(prefix="braid_netns_")
