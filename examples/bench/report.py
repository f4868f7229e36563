#!/usr/bin/python3
"""The report every run in examples/bench ends with (docs/bench-links.md, "The report"):
per-link throughput (mean over the stream, and while the outage lasts), per-link
retransmission and duplicate rates, and from the probe the output's residual loss, the
failover time and the recovery time. A short table, then the same as one JSON line.

  report.py EXAMPLE SENT_SECONDS OUT_DIR

reads OUT_DIR/ready.json, emu.jsonl (braid emu --netns --stats), probe-tx.log,
probe-rx.log (probe.py) and out.ts (ffprobe, for the seconds of video received)."""

import json
import os
import subprocess
import sys

# Probes already in flight on a link when it dies are lost with it: losses from this long
# before the death count toward the failover.
IN_FLIGHT_S = 0.5
# A loss burst that starts later than this after the death is not the death's doing (a
# system still sending into the dead link loses from its first packet on): residual loss.
CAUSED_S = 1.0
# The output is loss-free again at the first of this many consecutive probes that all
# arrived, in order (a third of a second of the test stream, which carries 60 to 70 a second).
RUN_OK = 20
# A returned link has recovered when an interval carries this share of its mean before the
# outage.
RECOVERED_SHARE = 0.5


def read_lines(path, parse):
    try:
        with open(path) as f:
            return [parse(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def outage(events):
    """(link, death, return) of the first blackhole, return None if it never came."""
    for i, ev in enumerate(events):
        if ev["event"] == "blackhole on":
            back = [e["t"] for e in events[i + 1:]
                    if e["link"] == ev["link"] and e["event"] == "blackhole off"]
            return ev["link"], ev["t"], back[0] if back else None
    return None, None, None


def mean_bps(intervals, start, end):
    """Mean forward throughput over the intervals lying within [start, end]."""
    inside = [(t1 - t0, bps) for t0, t1, bps in intervals
              if t0 >= start - 1e-6 and t1 <= end + 1e-6]
    seconds = sum(d for d, _ in inside)
    return sum(d * b for d, b in inside) / seconds if seconds > 0 else None


def link_intervals(stats, name):
    lines = [d for d in stats if d.get("link") == name and "fwd" in d and not d.get("final")]
    return [(a["t"], b["t"], b["fwd"]["throughput_bps"]) for a, b in zip(lines, lines[1:])]


def rate(part, whole):
    return round(part / whole, 5) if whole else None


def link_report(stats, name, stream, dead):
    intervals = link_intervals(stats, name)
    final = [d for d in stats if d.get("link") == name and d.get("final")]
    media = final[-1]["fwd"].get("media") if final else None
    mbps = lambda bps: None if bps is None else round(bps / 1e6, 3)
    return {
        "name": name,
        "throughput_mbps": {"mean": mbps(mean_bps(intervals, *stream)),
                            "outage": mbps(mean_bps(intervals, *dead)) if dead else None},
        "media_packets": media["packets"] if media else None,
        "retransmission_rate": rate(media["retransmissions"], media["packets"]) if media else None,
        "duplicate_rate": rate(media["duplicates"], media["packets"]) if media else None,
    }


def failover_s(sent, arrivals, lost, death, back):
    """From the death to the send time of the first probe that starts RUN_OK consecutive
    in-order arrivals after the first loss the death caused (sent from IN_FLIGHT_S before
    it to CAUSED_S after it); 0 without such a loss; None when the output never became
    loss-free before the link came back (or the run ended)."""
    end = back if back is not None else float("inf")
    losses = [s for s in lost if death - IN_FLIGHT_S <= sent[s] < min(end, death + CAUSED_S)]
    if not losses:
        return 0.0
    order = {}
    for i, seq in enumerate(arrivals):
        order.setdefault(seq, i)
    seqs = sorted(s for s in sent if s > losses[0])
    for i in range(len(seqs) - RUN_OK + 1):
        run = seqs[i:i + RUN_OK]
        if run[-1] - run[0] == RUN_OK - 1 and all(s in order for s in run) and \
                all(order[a] < order[b] for a, b in zip(run, run[1:])):
            return sent[run[0]] - death if sent[run[0]] < end else None
    return None


def recovery_s(stats, name, stream, death, back):
    """From the return to the end of the first interval carrying RECOVERED_SHARE of the
    link's mean before the outage (so at most one interval late)."""
    intervals = link_intervals(stats, name)
    before = mean_bps(intervals, stream[0], death)
    if back is None or not before:
        return None
    for _, t1, bps in intervals:
        if t1 > back and bps >= RECOVERED_SHARE * before:
            return t1 - back
    return None


def probe_report(out, t0_us, death, back):
    to_t = lambda us: (int(us) - t0_us) / 1e6
    sent = {int(s): to_t(us) for s, us in read_lines(os.path.join(out, "probe-tx.log"), str.split)}
    arrivals = [int(r[0]) for r in read_lines(os.path.join(out, "probe-rx.log"), str.split)]
    got = set(arrivals)
    # The stream's first and last probes missing belong to the programs' start and flush
    # (GStreamer's tsparse holds the last packets until a PCR that never comes), not to
    # the links: loss counts between the first and the last probe that arrived.
    first, last = (min(got), max(got)) if got else (0, -1)
    lost = sorted(s for s in sent if first <= s <= last and s not in got)
    firsts = list(dict.fromkeys(arrivals))
    late = sum(1 for a, b in zip(firsts, firsts[1:]) if b < a)
    result = {"sent": len(sent), "received": len(got), "lost": len(lost),
              "lost_at_edges": sum(1 for s in sent if not first <= s <= last),
              "lost_at_s": [round(sent[s], 3) for s in lost[:20]],
              "out_of_order": late, "duplicated": len(arrivals) - len(got),
              "residual_loss": rate(len(lost), last - first + 1), "failover_ms": None}
    if death is not None and sent:
        f = failover_s(sent, arrivals, lost, death, back)
        result["failover_ms"] = None if f is None else round(max(f, 0.0) * 1000)
    stream = (min(sent.values()), max(sent.values())) if sent else (0.0, 0.0)
    return result, stream


def video_seconds(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return 0.0
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                        "-of", "csv=p=0", path], capture_output=True, text=True)
    try:
        return float(p.stdout.strip())
    except ValueError:
        return 0.0


def build(example, sent_seconds, out):
    with open(os.path.join(out, "ready.json")) as f:
        ready = json.loads(f.readline())
    stats = read_lines(os.path.join(out, "emu.jsonl"), json.loads)
    dead_link, death, back = outage([d for d in stats if "event" in d])
    probe, stream = probe_report(out, ready["t0_monotonic_us"], death, back)
    dead = (death, back if back is not None else stream[1]) if death is not None else None
    ts = os.path.join(out, "out.ts")
    recovery = recovery_s(stats, dead_link, stream, death, back) if dead_link else None
    return {
        "example": example, "sent_seconds": sent_seconds,
        "received_bytes": os.path.getsize(ts) if os.path.exists(ts) else 0,
        "received_seconds": video_seconds(ts),
        "outage": {"link": dead_link, "start_s": death, "end_s": back} if dead_link else None,
        "links": [link_report(stats, link["name"], stream, dead) for link in ready["links"]],
        "residual_loss": probe["residual_loss"], "failover_ms": probe["failover_ms"],
        "recovery_ms": None if recovery is None else round(recovery * 1000),
        "probe": probe, "out": out,
    }


def cell(value, scale=1.0, digits=2, unit=""):
    return "-" if value is None else f"{value * scale:.{digits}f}{unit}"


def table(r):
    ms = lambda v: "never" if v is None else f"{v} ms"
    o = r["outage"] or {}
    lines = [f"{r['example']}: {r['received_seconds']:.1f} of {r['sent_seconds']} s received, "
             f"residual loss {cell(r['residual_loss'], 100, 3, ' %')}, "
             f"failover {ms(r['failover_ms'])}, recovery {ms(r['recovery_ms'])}, "
             f"{r['probe']['duplicated']} probes delivered twice "
             f"({o.get('link', 'no')} outage {o.get('start_s')}-{o.get('end_s')} s)",
             f"{'link':<8}{'mean Mbit/s':>12}{'outage Mbit/s':>15}{'retransmitted':>15}"
             f"{'duplicates':>12}"]
    for link in r["links"]:
        tp = link["throughput_mbps"]
        lines.append(f"{link['name']:<8}{cell(tp['mean'], digits=3):>12}"
                     f"{cell(tp['outage'], digits=3):>15}"
                     f"{cell(link['retransmission_rate'], 100, 2, ' %'):>15}"
                     f"{cell(link['duplicate_rate'], 100, 1, ' %'):>12}")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 4:
        print("usage: report.py EXAMPLE SENT_SECONDS OUT_DIR", file=sys.stderr)
        return 2
    seconds = float(sys.argv[2])
    r = build(sys.argv[1], int(seconds) if seconds.is_integer() else seconds, sys.argv[3])
    print(table(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
