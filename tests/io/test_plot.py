#!/usr/bin/python3
"""braid plot on stats files recorded during a real stream (two `braid emu` links, one
blacked out mid-stream), for both ends: the SVG holds every panel, one line per link in
each, with a point per stats line at the place its value belongs (read back through the
scale the panel states), the stream's rate from the byte totals, and the state strip
coloured as the lines say; rsvg-convert renders it. Bad arguments, and a file that is not
a stats file, exit 2 with one line (naming the line of the file)."""

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import dashtest as dt  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def record(braid, work):
    procs = bt.Procs(work)
    try:
        s = dt.Stream(procs, braid, work, seconds=6, http=False, interval_ms=250)
        time.sleep(0.3)
        s.start_pacing()
        time.sleep(3)
        s.emus[1].send_signal(signal.SIGUSR1)  # lte goes dark
        s.wait_paced()
        time.sleep(1.5)
        procs.stop(s.send)
        procs.stop(s.recv)
        return s.recv.stats_path, s.send.stats_path
    finally:
        procs.stop_all()


def stats_lines(path):
    return [l for l in bt.json_lines(path) if "event" not in l]


def links_by_key(line):
    if line["role"] == "send":
        return {l["name"]: l for l in line["links"]}
    return {f"{s['session']}/{l['name']}": l for s in line["sessions"] for l in s["links"]}


def panel(root, name):
    return root.find(f".//{SVG}g[@id='panel-{name}']")


def points_of(polyline):
    return [tuple(float(c) for c in p.split(",")) for p in polyline.get("points").split()]


def read_back(g, points):
    """Values from y coordinates, through the scale the panel states."""
    top, height, y_max = (float(g.get(k)) for k in ("data-top", "data-height", "data-y-max"))
    return [(x, (top + height - y) / height * y_max) for x, y in points], y_max / height


def check_series(checks, label, g, key, expected):
    """expected: [(t, value)] the line must pass through, in order."""
    lines = [p for p in g.findall(f"{SVG}polyline") if p.get("data-series") == key]
    if not checks.check(len(lines) == 1, f"{label}: one line for {key}"):
        return
    values, unit = read_back(g, points_of(lines[0]))
    if not checks.check(len(values) == len(expected),
                        f"{label} {key}: {len(values)} points for {len(expected)} lines"):
        return
    tolerance = 0.06 * unit + 1e-6
    off = [(t, v, got) for (t, v), (_, got) in zip(expected, values) if abs(got - v) > tolerance]
    (x0, _), (xn, _) = values[0], values[-1]
    t0, tn = expected[0][0], expected[-1][0]
    placed = all(abs((x - x0) / (xn - x0) - (t - t0) / (tn - t0)) < 0.002
                 for (x, _), (t, _) in zip(values, expected))
    checks.check(not off and placed, f"{label} {key}: every point at its value and time"
                                     + (f" -- off: {off[:3]}" if off else ""))


def check_picture(braid, work, checks, stats_path, role):
    svg_path = os.path.join(work, f"{role}.svg")
    p = subprocess.run([braid, "plot", stats_path, "-o", svg_path], capture_output=True,
                       text=True, timeout=20)
    if not checks.check(p.returncode == 0, f"{role}: braid plot exits 0 ({p.stderr.strip()})"):
        return
    root = ET.parse(svg_path).getroot()
    panels = {n: panel(root, n) for n in ("stream", "throughput", "rtt", "loss", "state")}
    checks.check(all(g is not None for g in panels.values()),
                 f"{role}: panels {sorted(n for n, g in panels.items() if g is not None)}")
    lines = stats_lines(stats_path)
    keys = sorted({k for l in lines for k in links_by_key(l)})
    checks.check(len(keys) == 2, f"{role}: the file has two links ({keys})")
    for key in keys:
        with_link = [(l["t"], links_by_key(l)[key]) for l in lines if key in links_by_key(l)]
        for name, field, scale in (("throughput", "bitrate_kbps", 1), ("rtt", "rtt_ms", 1),
                                   ("loss", "loss", 100)):
            check_series(checks, f"{role} {name}", panels[name], key,
                         [(t, l[field] * scale) for t, l in with_link])
        for state in ("healthy", "down"):
            drawn = [r for r in panels["state"].findall(f"{SVG}rect")
                     if r.get("data-series") == key and r.get("class") == f"state-{state}"]
            said = sum(1 for _, l in with_link[1:] if l["state"] == state)
            checks.check(len(drawn) == said, f"{role} state {key}: {len(drawn)} intervals "
                                             f"drawn {state}, {said} in the file")
    fields = ["bytes_in", "bytes_out"] if role == "send" else ["bytes_out"]
    names = ["from encoder", "sent on links"] if role == "send" else ["released"]
    for field, name in zip(fields, names):
        rate = [(b["t"], (b["totals"][field] - a["totals"][field]) * 8 / (b["t"] - a["t"]) / 1000)
                for a, b in zip(lines, lines[1:])]
        check_series(checks, f"{role} stream", panels["stream"], name, rate)
    downs = [r for r in panels["state"].findall(f"{SVG}rect")
             if r.get("data-series", "").endswith("lte") and r.get("class") == "state-down"]
    checks.check(downs, f"{role}: lte's outage is drawn ({len(downs)} intervals down)")
    png = os.path.join(work, f"{role}.png")
    r = subprocess.run(["rsvg-convert", svg_path, "-o", png], capture_output=True, text=True,
                       timeout=30)
    with open(png, "rb") as f:
        head = f.read(24) if r.returncode == 0 else b""
    width = int.from_bytes(head[16:20], "big") if len(head) == 24 else 0
    checks.check(head.startswith(b"\x89PNG") and width == int(float(root.get("width"))),
                 f"{role}: rsvg-convert renders it ({width} px wide, {r.stderr.strip()})")


def run_plot(braid, args):
    p = subprocess.run([braid, "plot", *args], capture_output=True, text=True, timeout=10)
    return p.returncode, p.stderr.strip().splitlines()


def check_arguments(braid, work, checks, stats_path):
    out = os.path.join(work, "x.svg")
    cases = [([], "STATS"), ([stats_path], "-o"), ([os.path.join(work, "none.jsonl"), "-o", out],
             "STATS"), ([stats_path, stats_path, "-o", out], "one stats file"),
             ([stats_path, "--bogus", "-o", out], "--bogus"),
             ([stats_path, "-o", os.path.join(work, "no", "dir.svg")], "-o")]
    for args, named in cases:
        rc, lines = run_plot(braid, args)
        checks.check(rc == 2 and len(lines) == 1 and named in lines[0],
                     f"plot {' '.join(os.path.basename(a) for a in args) or '(nothing)'}: "
                     f"exit 2, one line naming {named} ({rc}: {lines})")
    bad = os.path.join(work, "bad.jsonl")
    with open(stats_path) as f:
        first = f.readline()
    with open(bad, "w") as f:
        f.write(first + "{\"t\": 1.5, \"role\": \"recv\", \"totals\": \n")
    rc, lines = run_plot(braid, [bad, "-o", out])
    checks.check(rc == 2 and len(lines) == 1 and "STATS" in lines[0] and "line 2" in lines[0],
                 f"a broken line: exit 2 naming STATS and line 2 ({rc}: {lines})")
    empty = os.path.join(work, "empty.jsonl")
    open(empty, "w").close()
    rc, lines = run_plot(braid, [empty, "-o", out])
    checks.check(rc == 2 and len(lines) == 1 and "no stats lines" in lines[0],
                 f"an empty file: exit 2 ({rc}: {lines})")


def main(braid):
    checks = bt.Checks("plot")
    with bt.tempdir() as work:
        recv_stats, send_stats = record(braid, work)
        check_picture(braid, work, checks, recv_stats, "recv")
        check_picture(braid, work, checks, send_stats, "send")
        check_arguments(braid, work, checks, recv_stats)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
