#!/usr/bin/python3
"""`make bench-traces`: how much of recorded cellular links each sender mode uses.

For each case (three or four links replaying mahimahi traces, .up forward and .down return,
from several start offsets), braid sim finds the links' clairvoyant bound (--bound), then
for adaptive, broadcast and roundrobin a search finds the highest stream rate the run
carries with residual loss <= 1e-4: down a grid of shares of the bound (5 % steps) to the
first lossless rate, then a binary search within the step above it. Printed: that rate as a share of the bound, with the
resends and the redundant copies it took and the sender's spurious link-downs per minute
(links taken for dead that were not), as a table and as markdown for docs/bench.md.

The recorded traces come from ../shared/traces (relative to the project root) or
BRAID_TRACES=DIR; without them the script says which directory it needs and exits 2.
--synthetic-only runs only the cases built from the project's own synthetic traces
(scenarios/traces/), which are always there. Every run is deterministic for a seed.

usage: traces.py [--build DIR] [--synthetic-only] [--seed N] [--grid PERCENT] [--steps N]
                 [--jobs N] [--cases NAME,...] [--modes MODE,...]
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNTHETIC_DIR = os.path.join(ROOT, "scenarios", "traces")

# The links' paths, by position: one-way delay and jitter (ms); a fourth link repeats the
# first's. Every link has a 300 ms queue; the budget is 1000 ms, the stream 60 s.
PATHS = [(40, 4), (55, 6), (70, 8), (40, 4)]
QUEUE = "300ms"
BUDGET = "1000ms"
DURATION = "60s"
PACKET = 1316
LOSSLESS = 1e-4
MODES = ("adaptive", "broadcast", "roundrobin")

# name: ([(trace, offset_s), ...], synthetic?). Traces are NAME.up / NAME.down.
CASES = {
    "lte-trio@0": ([("TMobile-LTE-short", 0), ("Verizon-LTE-short", 0),
                    ("ATT-LTE-driving-2016", 0)], False),
    "lte-trio@40": ([("TMobile-LTE-short", 40), ("Verizon-LTE-short", 40),
                     ("ATT-LTE-driving-2016", 40)], False),
    "lte-trio@80": ([("TMobile-LTE-short", 80), ("Verizon-LTE-short", 80),
                     ("ATT-LTE-driving-2016", 80)], False),
    "slow-trio@0": ([("ATT-LTE-driving", 0), ("TMobile-UMTS-driving", 0),
                     ("Verizon-EVDO-driving", 0)], False),
    "slow-trio@300": ([("ATT-LTE-driving", 300), ("TMobile-UMTS-driving", 300),
                       ("Verizon-EVDO-driving", 300)], False),
    "mixed-trio@0": ([("TMobile-LTE-short", 0), ("ATT-LTE-driving", 0),
                      ("Verizon-EVDO-driving", 0)], False),
    "mixed-trio@100": ([("Verizon-LTE-short", 100), ("TMobile-UMTS-driving", 100),
                        ("ATT-LTE-driving-2016", 100)], False),
    "verizon-x3@0/45/90": ([("Verizon-LTE-short", 0), ("Verizon-LTE-short", 45),
                            ("Verizon-LTE-short", 90)], False),
    "lte-four@0": ([("TMobile-LTE-short", 0), ("Verizon-LTE-short", 0),
                    ("ATT-LTE-driving-2016", 0), ("TMobile-UMTS-driving", 0)], False),
    "lte-four@60": ([("TMobile-LTE-short", 60), ("Verizon-LTE-short", 60),
                     ("ATT-LTE-driving-2016", 60), ("ATT-LTE-driving", 60)], False),
    "synth@0": ([("synth-a", 0), ("synth-b", 0), ("synth-c", 0)], True),
    "synth@20": ([("synth-a", 20), ("synth-b", 20), ("synth-c", 20)], True),
    "synth@40": ([("synth-a", 40), ("synth-b", 40), ("synth-c", 40)], True),
    "synth-cab@10": ([("synth-c", 10), ("synth-a", 10), ("synth-b", 10)], True),
    "synth-four@30": ([("synth-a", 30), ("synth-b", 30), ("synth-c", 30),
                       ("synth-a", 0)], True),
}


def traces_dir():
    return os.environ.get("BRAID_TRACES") or os.path.join(os.path.dirname(ROOT), "shared",
                                                          "traces")


def scenario_text(links, directory, rate_bps, mode, seed):
    lines = []
    for i, (name, offset) in enumerate(links):
        delay, jitter = PATHS[i]
        base = os.path.join(directory, name)
        lines.append(f"link cell{i + 1} trace={base}.up,rev.trace={base}.down,"
                     f"trace_offset={offset}s,rev.trace_offset={offset}s,delay={delay}ms,"
                     f"jitter={jitter}ms,queue={QUEUE}")
    lines.append(f"stream rate={max(1000, round(rate_bps))}bit packet={PACKET} "
                 f"duration={DURATION}")
    lines.append(f"sender mode={mode} latency={BUDGET}")
    lines.append(f"seed {seed}")
    return "\n".join(lines) + "\n"


class Runner:
    """Runs braid sim on scenario texts written to a private directory."""

    def __init__(self, braid, tmp):
        self.braid, self.tmp, self.runs = braid, tmp, 0

    def run(self, tag, text, *extra):
        path = os.path.join(self.tmp, tag.replace("/", "_") + ".scn")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([self.braid, "sim", "--scenario", path, *extra],
                           capture_output=True, text=True, timeout=600)
        self.runs += 1
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"braid sim on {tag} failed: {r.stderr.strip()}")


def lossless(m):
    return not m["stuck"] and m["stream"]["residual_loss"] <= LOSSLESS


def overheads(m):
    sent = m["stream"]["sent"]
    return m["retransmissions"]["rate"], m["stream"]["duplicates_removed"] / sent if sent else 0


def downs_per_minute(m):
    minutes = m["simulated_s"] / 60
    return m["failover"]["spurious_downs"] / minutes if minutes else 0


def search(runner, name, case, directory, bound_bps, mode, seed, grid, steps):
    """The highest lossless rate: down a grid of shares of the bound from the top to the
    first lossless one, then a bisection between it and the grid step above. Loss does not
    always grow with the rate (a sender can lose at one rate and not at a higher one), so a
    plain bisection from zero could stop far below the highest clean rate."""
    share, best = 1.0, None
    while share > grid / 2:
        m = runner.run(f"{name}-{mode}-{share:.3f}",
                       scenario_text(case, directory, share * bound_bps, mode, seed))
        if lossless(m):
            best = m
            break
        share -= grid
    if best is None:
        return {"share": 0.0, "resent": None, "dup": None, "downs": None}
    low, high = share, share + grid
    for step in range(steps):
        middle = (low + high) / 2
        m = runner.run(f"{name}-{mode}-{middle:.4f}",
                       scenario_text(case, directory, middle * bound_bps, mode, seed))
        if lossless(m):
            low, best = middle, m
        else:
            high = middle
    resent, dup = overheads(best)
    return {"share": low, "resent": resent, "dup": dup, "downs": downs_per_minute(best)}


def case_directory(synthetic, recorded):
    return SYNTHETIC_DIR if synthetic else recorded


def measure(runner, names, modes, recorded, seed, grid, steps, jobs):
    """Bounds first (one run per case), then every case x mode search, jobs at a time."""
    bounds = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for name in names:
            links, synthetic = CASES[name]
            text = scenario_text(links, case_directory(synthetic, recorded), 1e6, "broadcast",
                                 seed)
            futures[pool.submit(runner.run, f"{name}-bound", text, "--bound")] = name
        for future, name in futures.items():
            bounds[name] = future.result()["bound"]["rate_mbps"] * 1e6
        futures = {}
        for name in names:
            links, synthetic = CASES[name]
            for mode in modes:
                futures[(name, mode)] = pool.submit(
                    search, runner, name, links, case_directory(synthetic, recorded),
                    bounds[name], mode, seed, grid, steps)
        results = {key: future.result() for key, future in futures.items()}
    return bounds, results


def cell(result):
    """Share, resends, redundant copies and spurious downs per minute; "none" when no rate
    of the grid was lossless."""
    if result["resent"] is None:
        return ["none", "-", "-", "-"]
    return ["%.1f%%" % (100 * result["share"]), "%.2f%%" % (100 * result["resent"]),
            "%.1f%%" % (100 * result["dup"]), "%.1f" % result["downs"]]


def table_rows(names, modes, bounds, results):
    rows = []
    for name in names:
        links, _ = CASES[name]
        row = [name, str(len(links)), "%.2f" % (bounds[name] / 1e6)]
        for mode in modes:
            row += cell(results[(name, mode)])
        rows.append(row)
    return rows


def header(modes):
    return ["case", "links", "bound Mbit/s"] + [f"{m} {c}" for m in modes
                                                for c in ("share", "resent", "dup", "downs/min")]


def print_plain(head, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in
                    enumerate(zip(head, widths))))
    for r in rows:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in
                        enumerate(zip(r, widths))))


def print_markdown(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def medians(names, modes, results):
    out = []
    for mode in modes:
        shares = sorted(results[(n, mode)]["share"] for n in names)
        mid = len(shares) // 2
        median = shares[mid] if len(shares) % 2 else (shares[mid - 1] + shares[mid]) / 2
        out.append(f"{mode} {100 * median:.1f}%")
    return "median share of the bound: " + ", ".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description="sender modes against the clairvoyant bound "
                                "on recorded and synthetic cellular traces")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--synthetic-only", action="store_true",
                   help="only the cases of scenarios/traces/ (no recorded traces needed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--grid", type=float, default=5,
                   help="the first search's step down from the bound, percent of it")
    p.add_argument("--steps", type=int, default=3,
                   help="bisection steps within the grid step (resolution: grid / 2^steps)")
    p.add_argument("--jobs", type=int, default=2, help="simulations at once")
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated sender modes (default: %(default)s)")
    a = p.parse_args(argv)
    a.modes = a.modes.split(",")
    if any(m not in MODES for m in a.modes):
        p.error(f"--modes takes {', '.join(MODES)}")
    if a.steps < 0 or a.jobs < 1 or not 0.1 <= a.grid <= 50:
        p.error("--steps must be at least 0, --jobs at least 1, --grid 0.1 to 50")
    return a


def choose_cases(a, recorded):
    names = a.cases.split(",") if a.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"bench-traces: unknown case(s) {', '.join(unknown)}; known: "
              f"{', '.join(CASES)}", file=sys.stderr)
        sys.exit(2)
    if a.synthetic_only:
        names = [n for n in names if CASES[n][1]]
    elif any(not CASES[n][1] for n in names) and not os.path.isdir(recorded):
        print(f"bench-traces: needs the recorded mahimahi traces in {recorded} (or "
              f"BRAID_TRACES=DIR); --synthetic-only runs the synthetic cases alone",
              file=sys.stderr)
        sys.exit(2)
    if not names:
        print("bench-traces: no case to run", file=sys.stderr)
        sys.exit(2)
    return names


def main(argv):
    a = parse_args(argv)
    recorded = os.path.abspath(traces_dir())
    names = choose_cases(a, recorded)
    braid = os.path.join(a.build, "src", "braid")
    if not os.access(braid, os.X_OK):
        print(f"bench-traces: {braid} is missing: build first (ninja -C {a.build})",
              file=sys.stderr)
        return 1
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="braid-bench-traces-") as tmp:
        runner = Runner(braid, tmp)
        try:
            bounds, results = measure(runner, names, a.modes, recorded, a.seed, a.grid / 100,
                                      a.steps, a.jobs)
        except RuntimeError as e:
            print(f"bench-traces: {e}", file=sys.stderr)
            return 1
    elapsed = time.monotonic() - start
    rows = table_rows(names, a.modes, bounds, results)
    print(f"bench-traces: commit {commit}, seed {a.seed}, {len(names)} cases, "
          f"{runner.runs} simulations ({a.grid:g} % grid, {a.steps} bisection steps), "
          f"{a.jobs} at once, {elapsed:.0f} s")
    print(f"links: delays {'/'.join(str(d) for d, _ in PATHS[:3])} ms (a fourth: "
          f"{PATHS[3][0]}), jitter {'/'.join(str(j) for _, j in PATHS[:3])} ms, {QUEUE} queues; "
          f"{BUDGET} budget, {DURATION} of {PACKET}-byte packets; lossless: residual loss "
          f"<= {LOSSLESS:g}")
    print()
    print_plain(header(a.modes), rows)
    print()
    print("share: the highest lossless rate found, over the bound (none: no rate of the grid "
          "was lossless); resent: resends per media packet; dup: redundant copies the "
          "receiver dropped, per media packet; downs/min: links the sender took for dead that were "
          "not, per minute")
    print(medians(names, a.modes, results))
    print()
    print_markdown(header(a.modes), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
