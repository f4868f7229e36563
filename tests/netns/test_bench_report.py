#!/usr/bin/python3
"""The example runs' report (examples/bench/report.py) on made-up runs whose answers are
known: a link's throughput and outage, failover after a loss burst the death caused (and
none for a loss long after it), recovery at the first interval carrying half the mean
again, loss counted between the first and last probe delivered. No root, no network."""

import json
import os
import sys
import tempfile

from benchtest import Checks

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "bench"))
import report  # noqa: E402

T0_US = 5_000_000
RATE = 50  # probes a second
DEATH, BACK, END = 4.0, 7.0, 10.0


def write_run(out, lost, late=()):
    """A 10 s run: lte1 steady at 1 Mbit/s; lte2 at 0.5 Mbit/s, nothing while dead, back
    to 0.5 from 7.5 s; probes at RATE a second, some lost, some delivered late."""
    with open(os.path.join(out, "ready.json"), "w") as f:
        json.dump({"ready": True, "t0_monotonic_us": T0_US,
                   "links": [{"name": "lte1"}, {"name": "lte2"}]}, f)
    with open(os.path.join(out, "emu.jsonl"), "w") as f:
        for i in range(0, 41):
            t = i * 0.25
            lte2 = 0 if DEATH < t <= BACK + 0.5 else 500_000
            for name, bps in (("lte1", 1_000_000), ("lte2", lte2)):
                media = {"packets": 100, "retransmissions": 2, "duplicates": 10}
                f.write(json.dumps({"t": t, "link": name,
                                    "fwd": {"throughput_bps": bps, "media": media}}) + "\n")
            if t == DEATH or t == BACK:
                f.write(json.dumps({"t": t, "link": "lte2", "event": "blackhole " +
                                    ("on" if t == DEATH else "off")}) + "\n")
        for name in ("lte1", "lte2"):
            f.write(json.dumps({"t": END, "link": name, "final": True, "fwd": {
                "throughput_bps": 0, "media": {"packets": 400, "retransmissions": 4,
                                               "duplicates": 100}}}) + "\n")
    count = int(END * RATE)
    sent_us = [T0_US + int(i * 1e6 / RATE) for i in range(count)]
    with open(os.path.join(out, "probe-tx.log"), "w") as f:
        f.writelines(f"{i} {us}\n" for i, us in enumerate(sent_us))
    order = [i for i in range(count) if i not in lost and i not in late] + list(late)
    with open(os.path.join(out, "probe-rx.log"), "w") as f:
        f.writelines(f"{i} {sent_us[i]} {sent_us[i] + 100_000}\n" for i in order)


def run(c, lost, late=()):
    with tempfile.TemporaryDirectory() as out:
        write_run(out, set(lost), late)
        return report.build("made-up", 10, out)


def main():
    c = Checks("bench_report")
    at = lambda s: int(s * RATE)  # the probe sent at s seconds
    # A burst from the death to just before 4.3 s: whole again from the probe of 4.3 s.
    r = run(c, lost=range(at(DEATH), at(4.3)))
    c.check(r["failover_ms"] == 300, f"failover after a burst: {r['failover_ms']} ms")
    c.check(r["probe"]["lost"] == at(4.3) - at(DEATH), f"lost: {r['probe']['lost']}")
    c.check(r["recovery_ms"] == 750, f"recovery: {r['recovery_ms']} ms")
    links = {link["name"]: link for link in r["links"]}
    c.check(links["lte2"]["throughput_mbps"]["outage"] == 0.0 and
            links["lte1"]["throughput_mbps"]["outage"] == 1.0,
            f"outage throughput: {links}")
    c.check(links["lte1"]["retransmission_rate"] == 0.01 and
            links["lte1"]["duplicate_rate"] == 0.25, f"rates: {links['lte1']}")
    c.check(r["outage"] == {"link": "lte2", "start_s": DEATH, "end_s": BACK}, f"{r['outage']}")
    # Sparse losses (every 5th probe, as a round robin still using the dead link) until
    # 5 s: the burst ends at the first run of 20 clean probes, after the last of them.
    r = run(c, lost=range(at(DEATH) + 2, at(5.0), 5))
    c.check(r["failover_ms"] == round((at(5.0) - 2 - at(DEATH)) * 1000 / RATE),
            f"failover after sparse losses: {r['failover_ms']} ms")
    # One loss 2 s after the death is not the death's doing.
    r = run(c, lost=[at(6.0)])
    c.check(r["failover_ms"] == 0 and r["residual_loss"] == round(1 / (END * RATE), 5),
            f"a late loss: failover {r['failover_ms']}, residual {r['residual_loss']}")
    # Out of order after the burst delays the end of the failover until order returns.
    r = run(c, lost=[at(DEATH)], late=[at(DEATH) + 5])
    c.check(r["failover_ms"] == 6 * 1000 // RATE,
            f"failover with a late probe: {r['failover_ms']} ms")
    c.check(r["probe"]["out_of_order"] == 1, f"out of order: {r['probe']['out_of_order']}")
    # Probes missing at the start and the end are not residual loss.
    r = run(c, lost=[0, 1, at(END) - 1])
    c.check(r["residual_loss"] == 0.0 and r["probe"]["lost_at_edges"] == 3,
            f"edges: {r['probe']}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
