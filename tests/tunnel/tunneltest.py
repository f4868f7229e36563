"""Helpers for braid tunnel's tests (root): the two ends of a tunnel on the bench of
`braid emu --netns`, each started in its namespace with `ip netns exec` and ended by PID."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netns"))
from benchtest import in_ns  # noqa: E402

TUN = "btun0"
GATEWAY_V4, FIELD_V4 = "10.99.0.1", "10.99.0.2"
GATEWAY_V6, FIELD_V6 = "fd99::1", "fd99::2"
PORT = 9000
# Link a has only a rate (a TBF, no user-space path); link b a delay, so a path that
# SIGUSR1 to the bench can blackhole.
SCENARIO = "link a rate=20mbit\nlink b rate=20mbit,delay=10ms\n"


def start_tunnels(braid, procs, bench, classes=(), field_extra=()):
    """The gateway in the receiver's namespace, the field unit in the sender's with a link
    per bench link; classes go to both, field_extra to the field only. Returns both once
    every link is up."""
    rx, tx = bench.ready["receiver_ns"], bench.ready["sender_ns"]
    receiver = bench.ready["receiver"]
    gateway = procs.start("gateway", in_ns(rx, braid, "tunnel", "--role", "gateway",
                                           "--listen", f"{receiver}:{PORT}", "--tun", TUN,
                                           *classes, "--address", f"{GATEWAY_V4}/24",
                                           "--address", f"{GATEWAY_V6}/64"))
    links = [f"name={l['name']},addr={l['address']}" for l in bench.ready["links"]]
    field = procs.start("field", in_ns(tx, braid, "tunnel", "--role", "field",
                                       "--to", f"{receiver}:{PORT}",
                                       *sum((["--link", l] for l in links), []),
                                       "--tun", TUN, *classes, *field_extra,
                                       "--address", f"{FIELD_V4}/24",
                                       "--address", f"{FIELD_V6}/64"))
    for link in bench.ready["links"]:
        procs.wait_stderr(field, rf"link {link['name']}: down -> healthy", timeout=10)
    return gateway, field


def sysfs(ns, path):
    """A file of /sys as the namespace sees it; None when it does not exist."""
    r = subprocess.run(in_ns(ns, "cat", path), capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None
