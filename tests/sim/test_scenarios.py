#!/usr/bin/python3
"""braid sim on every shipped scenario: each runs, meets every expectation it states, prints
one JSON object, and draws a plot that is well-formed SVG and renders to a PNG of a useful
size. Adaptive scenarios hold their bounds on two more seeds and lose less than roundrobin
and broadcast on the same links. Also: same seed, same metrics; --duration, --write-trace
and argument errors; --bound.

usage: test_scenarios.py BRAID SCENARIO_DIR"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

SHIPPED = ["baseline", "ou", "ge", "combined", "failover", "traces", "adaptive-constant-90",
           "adaptive-constant-95", "adaptive-failover", "adaptive-cellular-outage",
           "adaptive-ou-ge", "adaptive-ou-ge-wide", "drift-plus-100ppm", "drift-minus-100ppm"]


def sim(braid, *args, timeout=120):
    return subprocess.run([braid, "sim", *args], capture_output=True, text=True,
                          timeout=timeout)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return (0, 0)
    return struct.unpack(">II", head[16:24])


def check_plot(checks, name, svg, png):
    try:
        root = ET.parse(svg).getroot()
        ok = root.tag.endswith("svg")
        texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    except ET.ParseError as e:
        ok, texts = False, str(e)
    checks.check(ok, f"{name}: plot is well-formed SVG")
    checks.check("time (s)" in texts and "Mbit/s" in texts and "ms" in texts,
                 f"{name}: plot labels its axes")
    rsvg = shutil.which("rsvg-convert")
    if not checks.check(rsvg is not None, "rsvg-convert is installed (scripts/deps.sh)"):
        return
    r = subprocess.run([rsvg, svg, "-o", png], capture_output=True, text=True, timeout=60)
    w, h = png_size(png) if r.returncode == 0 else (0, 0)
    size = os.path.getsize(png) if os.path.exists(png) else 0
    checks.check(r.returncode == 0 and w >= 1000 and h >= 600 and size > 20000,
                 f"{name}: renders to a {w}x{h} PNG of {size} bytes {r.stderr.strip()!r}")


def check_scenario(checks, braid, path, tmp):
    name = os.path.basename(path)[:-4]
    svg, png = os.path.join(tmp, name + ".svg"), os.path.join(tmp, name + ".png")
    r = sim(braid, "--scenario", path, "--plot", svg)
    checks.check(r.returncode == 0, f"{name}: exit {r.returncode} {r.stderr.strip()!r}")
    try:
        m = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        checks.check(False, f"{name}: JSON on stdout ({e})")
        return None
    failed = [e["expect"] for e in m["expectations"] if not e["pass"]]
    checks.check(m["scenario"] == name and not m["stuck"], f"{name}: ran to the end")
    checks.check(len(m["expectations"]) >= 3, f"{name}: states bounds "
                 f"({len(m['expectations'])} expectations)")
    checks.check(not failed and m["expectations_failed"] == 0, f"{name}: failed {failed}")
    checks.check(m["stream"]["sent"] > 0 and len(m["links"]) >= 1, f"{name}: metrics")
    checks.check(m["wall"]["sim_to_real"] > 1, f"{name}: faster than real time "
                 f"({m['wall']['sim_to_real']}x)")
    check_plot(checks, name, svg, png)
    return m


def run_json(braid, *args):
    r = sim(braid, *args)
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        return None


def check_adaptive(checks, braid, path):
    """An adaptive scenario holds its bounds on seeds 2 and 3 too, and beats roundrobin and
    broadcast run on the same links: it loses no more than either and less than the worse,
    or, where none of them loses anything, it spends less than broadcast on copies and
    resends."""
    name = os.path.basename(path)[:-4]
    for seed in ("2", "3"):
        m = run_json(braid, "--scenario", path, "--seed", seed)
        failed = [e["expect"] for e in m["expectations"] if not e["pass"]] if m else ["run"]
        checks.check(m is not None and not failed, f"{name} seed {seed}: failed {failed}")
    losses, spent = {}, {}
    for mode in ("adaptive", "roundrobin", "broadcast"):
        m = run_json(braid, "--scenario", path, "--mode", mode)
        losses[mode] = m["stream"]["residual_loss"] if m else 1.0
        spent[mode] = (m["retransmissions"]["rate"] + m["stream"]["duplicates_removed"] /
                       max(1, m["stream"]["sent"])) if m else 10.0
    worse = max(losses["roundrobin"], losses["broadcast"])
    beats = losses["adaptive"] < worse if worse > 0 else spent["adaptive"] < spent["broadcast"]
    checks.check(losses["adaptive"] <= losses["roundrobin"] and
                 losses["adaptive"] <= losses["broadcast"] and beats,
                 f"{name}: residual loss adaptive {losses['adaptive']:.2e}, roundrobin "
                 f"{losses['roundrobin']:.2e}, broadcast {losses['broadcast']:.2e}; copies and "
                 f"resends per packet adaptive {spent['adaptive']:.3f}, broadcast "
                 f"{spent['broadcast']:.3f}")


def check_determinism(checks, braid, scenario):
    outs = []
    for _ in range(2):
        r = sim(braid, "--scenario", scenario, "--seed", "5")
        m = json.loads(r.stdout)
        del m["wall"]
        outs.append(json.dumps(m, sort_keys=True))
    checks.check(outs[0] == outs[1], "same scenario and seed: same metrics")
    r = sim(braid, "--scenario", scenario, "--seed", "6")
    m = json.loads(r.stdout)
    del m["wall"]
    checks.check(json.dumps(m, sort_keys=True) != outs[0], "another seed: other metrics")


def check_options(checks, braid, scenarios, tmp):
    r = sim(braid, "--scenario", os.path.join(scenarios, "baseline.scn"), "--duration", "5",
            "--mode", "roundrobin")
    m = json.loads(r.stdout)
    expected = round(5 * m["stream"]["rate_mbps"] * 1e6 / (m["stream"]["packet_bytes"] * 8))
    checks.check(m["stream"]["duration_s"] == 5 and abs(m["stream"]["sent"] - expected) <= 1
                 and m["mode"] == "roundrobin", f"--duration 5 --mode roundrobin: "
                 f"{m['stream']['sent']} sent, {expected} expected")
    trace = os.path.join(tmp, "x.up")
    r = sim(braid, "--write-trace", trace, "--ou", "3mbit:0:1", "--duration", "10",
            "--seed", "3")
    lines = open(trace).read().split() if r.returncode == 0 else []
    values = [int(v) for v in lines]
    rate = len(values) * 1500 * 8 / 10 / 1e6 if values else 0
    checks.check(r.returncode == 0 and values == sorted(values) and values[-1] == 10000
                 and abs(rate - 3.0) < 0.05, f"--write-trace: {len(values)} lines, "
                 f"{rate:.3f} Mbit/s")
    bad = [
        ([], "--scenario"),
        (["--scenario", "/nonexistent.scn"], "--scenario"),
        (["--scenario", os.path.join(scenarios, "baseline.scn"), "--mode", "sideways"],
         "--mode"),
        (["--scenario", os.path.join(scenarios, "baseline.scn"), "--seed", "x"], "--seed"),
        (["--scenario", os.path.join(scenarios, "baseline.scn"), "--duration", "0"],
         "--duration"),
        (["--scenario", os.path.join(scenarios, "traces.scn"), "--traces", "/nonexistent"],
         "--traces"),
        (["--scenario", os.path.join(scenarios, "baseline.scn"), "--traces", tmp],
         "--traces"),
        (["--write-trace", trace], "--ou"),
        (["--write-trace", trace, "--ou", "fast", "--duration", "1"], "--ou"),
    ]
    r = sim(braid, "--help")
    checks.check(r.returncode == 0 and "usage" in r.stdout, "braid sim --help")
    for argv, word in bad:
        r = sim(braid, *argv)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        checks.check(r.returncode == 2 and len(lines) == 1 and word in r.stderr,
                     f"braid sim {' '.join(argv)} -> exit {r.returncode}, "
                     f"{r.stderr.strip()!r}")


def check_bound(checks, braid, scenarios):
    """--bound: baseline's one 10 Mbit/s link with a 1 s budget carries at most 61 s of its
    capacity over the 60 s stream; the JSON and the summary line give the share."""
    baseline = os.path.join(scenarios, "baseline.scn")
    r = sim(braid, "--scenario", baseline, "--bound")
    m = json.loads(r.stdout) if r.returncode == 0 else {}
    b = m.get("bound", {})
    expected = 10 * 61 / 60
    carried = m.get("stream", {}).get("throughput_mbps", 0)
    checks.check(b.get("rate_mbps") is not None and abs(b["rate_mbps"] - expected) <= 0.02
                 and not b.get("unlimited") and b.get("lossless") is True
                 and b.get("carried_mbps") == carried
                 and abs(b.get("share", 0) - carried / b["rate_mbps"]) < 1e-3,
                 f"--bound on baseline: {b}, expected {expected:.3f} Mbit/s")
    line = f"carried {carried:.3f} Mbit/s lossless, {100 * carried / expected:.1f} % of " \
           f"the clairvoyant bound"
    checks.check(line in r.stderr, f"--bound summary: {r.stderr.strip()!r}, wanted {line!r}")
    m = run_json(braid, "--scenario", baseline)
    checks.check(m is not None and "bound" not in m, "no bound unless asked")
    r = sim(braid, "--write-trace", "/nonexistent/x", "--ou", "1mbit:0:1", "--duration", "1",
            "--bound")
    checks.check(r.returncode == 2 and "--write-trace" in r.stderr,
                 f"--bound with --write-trace refused: {r.stderr.strip()!r}")


def main(braid, scenarios):
    checks = bt.Checks("sim")
    files = sorted(f for f in os.listdir(scenarios) if f.endswith(".scn"))
    checks.check(all(n + ".scn" in files for n in SHIPPED), f"shipped scenarios: {files}")
    with tempfile.TemporaryDirectory(prefix="braid-sim-") as tmp:
        for f in files:
            check_scenario(checks, braid, os.path.join(scenarios, f), tmp)
            if f.startswith("adaptive-"):
                check_adaptive(checks, braid, os.path.join(scenarios, f))
        check_determinism(checks, braid, os.path.join(scenarios, "combined.scn"))
        check_options(checks, braid, scenarios, tmp)
        check_bound(checks, braid, scenarios)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
