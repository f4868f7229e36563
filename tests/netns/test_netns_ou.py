#!/usr/bin/python3
"""braid emu --netns (root): an Ornstein-Uhlenbeck rate drives a link's TBF through
RTM_NEWQDISC changes every 100 ms (the OU model's interval), and the rate the qdisc reports
back over netlink follows it; a mahimahi trace (half a second at 12 Mbit/s, half a second
at 4 Mbit/s, looped) drives another link's TBF the same way, in steps of 100 ms. The
program runs under `strace -f -e trace=execve` and executes nothing (no tc, no ip): its
only execve is its own start."""

import json
import os
import statistics
import sys

from benchtest import Bench, Checks, Procs, leftovers, temp_workdir, unique_prefix

BRAID = sys.argv[1]
SCENARIO = "link cell ou=4mbit:3mbit:2:1mbit:8mbit,rev.rate=2mbit\nlink drive trace={trace}\n"
# One 1500-byte opportunity a millisecond for 500 ms (12 Mbit/s), then one every 3 ms
# (4 Mbit/s), repeating every second.
TRACE = list(range(1, 501)) + list(range(503, 1000, 3)) + [1000]
INTERVAL_MS = 100


def main():
    c = Checks("netns_ou")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        try:
            run(c, procs, workdir)
        finally:
            procs.stop_all()
    return c.finish()


def check_trace(c, lines):
    rates = [d["fwd"]["qdisc"]["rate_bps"] for d in lines]
    high = sum(1 for r in rates if abs(r - 12_000_000) <= 0.03 * 12_000_000)
    low = sum(1 for r in rates if abs(r - 4_000_000) <= 0.05 * 4_000_000)
    c.check(len(rates) >= 30 and high >= 0.3 * len(rates) and low >= 0.3 * len(rates),
            f"the trace's TBF alternates: {high} intervals at 12 Mbit/s, {low} at 4 Mbit/s, "
            f"of {len(rates)}")
    c.check(all(abs(d["fwd"]["qdisc"]["rate_bps"] - d["fwd"]["rate_bps"]) <= 8 for d in lines),
            "the kernel reports back the trace's rates braid set")


def run(c, procs, workdir):
    prefix = unique_prefix("o")
    stats = os.path.join(workdir, "stats.jsonl")
    trace = os.path.join(workdir, "execve.strace")
    drive = os.path.join(workdir, "drive.trace")
    with open(drive, "w") as f:
        f.write("".join(f"{ms}\n" for ms in TRACE))
    bench = Bench(BRAID, procs, workdir, SCENARIO.format(trace=drive), prefix,
                  extra=["--stats", stats, "--stats-interval", f"{INTERVAL_MS}ms",
                         "--duration", "4"],
                  wrap=["strace", "-f", "-qq", "-e", "trace=execve", "-o", trace])
    c.check(bench.start() is not None, "the bench comes up under strace")
    c.check(bench.proc.wait(timeout=30) == 0, "and ends by itself after --duration: exit 0")
    bench.proc.stdout.close()
    with open(stats) as f:
        every = [json.loads(line) for line in f if '"final"' not in line]
    lines = [d for d in every if d["link"] == "cell"]
    check_trace(c, [d for d in every if d["link"] == "drive"])
    fwd = [d["fwd"] for d in lines]
    set_rates = [d["rate_bps"] for d in fwd]
    qdisc_rates = [d["qdisc"]["rate_bps"] for d in fwd]
    c.check(len(lines) >= 30, f"{len(lines)} statistics lines over 4 s at {INTERVAL_MS} ms")
    c.check(all(d["qdisc"]["kind"] == "tbf" for d in fwd), "the forward qdisc is a TBF")
    c.check(all(abs(q - s) <= 8 for q, s in zip(qdisc_rates, set_rates)),
            "the rate the kernel reports back is the rate braid set, every interval")
    changes = sum(1 for a, b in zip(qdisc_rates, qdisc_rates[1:]) if a != b)
    c.check(changes >= 0.8 * (len(qdisc_rates) - 1),
            f"the qdisc's rate changed in {changes} of {len(qdisc_rates) - 1} intervals of "
            f"{INTERVAL_MS} ms")
    c.check(min(qdisc_rates) >= 1_000_000 and max(qdisc_rates) <= 8_000_000 and
            statistics.pstdev(qdisc_rates) > 200_000,
            f"it wanders within the floor and ceiling: {min(qdisc_rates) / 1e6:.2f} to "
            f"{max(qdisc_rates) / 1e6:.2f} Mbit/s, sd "
            f"{statistics.pstdev(qdisc_rates) / 1e6:.2f}")
    rev = {d["rev"]["qdisc"]["rate_bps"] for d in lines}
    c.check(rev == {2_000_000}, f"the return path's TBF stays at its rate: {rev}")
    with open(trace) as f:
        execs = [line for line in f if "execve(" in line]
    c.check(len(execs) == 1 and BRAID in execs[0],
            f"one execve, braid's own: {[e.strip()[:100] for e in execs]}")
    c.check(leftovers(prefix) == [], "nothing left")


if __name__ == "__main__":
    sys.exit(main())
