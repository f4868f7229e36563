#!/usr/bin/python3
"""The encoder-feedback example's policy alone, fed made-up --bitrate-out reports at made-up
times: down at once, up only after the headroom has lasted and a step at a time, never
above the announced rate, clamped, the minimum when the bond is not operational or silent.
And its bad arguments: one line naming the argument, exit status 2."""

import importlib.util
import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                       "encoder-feedback", "braid-x264-follow.py")

spec = importlib.util.spec_from_file_location("follow", EXAMPLE)
follow = importlib.util.module_from_spec(spec)
spec.loader.exec_module(follow)

counts = {"passed": 0, "failed": 0}


def check(cond, what):
    counts["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)


def policy(*extra):
    args = follow.parse_args(["--feedback", "127.0.0.1:0", "--to", "127.0.0.1:9", *extra])
    return follow.Policy(args)


def report(kbps, live=2, operational=True):
    return {"available_bitrate": kbps * 1000, "live_links": live, "operational": operational}


def feed(p, reports, start=0.0):
    """One report a second; returns the bitrate after each."""
    out = []
    for i, r in enumerate(reports):
        p.on_report(r, start + i)
        out.append(p.current)
    return out


def test_down():
    p = policy("--start-kbps", "3000", "--share", "0.8", "--min-kbps", "300")
    after = feed(p, [report(3600), report(1000)])
    check(after == [3000, 800], f"a fall below the bitrate: at once to 0.8 of it ({after})")
    after = feed(p, [report(100)], start=2)
    check(after == [300], f"never below --min-kbps ({after})")
    p = policy("--start-kbps", "3000")
    after = feed(p, [report(2900)])
    check(after == [3000], f"within 5 % of the bitrate: no change ({after})")


def test_up():
    p = policy("--start-kbps", "1000", "--up-after", "2", "--up-step", "0.1",
               "--max-kbps", "1500")
    after = feed(p, [report(2000)] * 8)
    check(after[:2] == [1000, 1000], f"no step up before --up-after has passed ({after})")
    steps = [b / a for a, b in zip(after, after[1:]) if b != a]
    check(steps and all(s <= 1.1 + 1e-3 for s in steps),
          f"steps up of at most --up-step a second ({after})")
    check(after[-1] == 1500, f"up to --max-kbps and no further ({after})")
    p = policy("--start-kbps", "1000", "--up-after", "0", "--up-step", "1")
    after = feed(p, [report(1200)] * 3)
    check(max(after) <= 1200, f"never above the announced rate ({after})")
    p = policy("--start-kbps", "1000", "--up-after", "0")
    after = feed(p, [report(1040)] * 5)
    check(after == [1000] * 5, f"no step up without headroom ({after})")


def test_bond_gone():
    p = policy("--start-kbps", "2000", "--min-kbps", "400")
    after = feed(p, [report(5000, live=1, operational=False)])
    check(after == [400], f"not operational: the minimum ({after})")
    p = policy("--start-kbps", "2000", "--min-kbps", "400")
    p.on_silence()
    check(p.current == 400, f"silence: the minimum ({p.current})")


def test_bad_arguments():
    for argv, named in ((["--to", "127.0.0.1:9"], "--feedback"),
                        (["--feedback", "x", "--to", "127.0.0.1:9"], "--feedback"),
                        (["--feedback", ":0", "--to", "127.0.0.1:9", "--share", "0"], "--share"),
                        (["--feedback", ":0", "--to", "127.0.0.1:9", "--size", "big"], "--size"),
                        (["--feedback", ":0", "--to", "127.0.0.1:9", "--source", "nosuchsrc"],
                         "--source")):
        r = subprocess.run(["/usr/bin/python3", EXAMPLE, *argv], capture_output=True,
                           text=True, timeout=20)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and named in lines[0],
              f"{' '.join(argv)}: exit {r.returncode}, {lines}")


test_down()
test_up()
test_bond_gone()
test_bad_arguments()
print(f"{counts['passed']} passed, {counts['failed']} failed")
sys.exit(1 if counts["failed"] or not counts["passed"] else 0)
