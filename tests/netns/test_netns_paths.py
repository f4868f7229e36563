#!/usr/bin/python3
"""braid emu --netns (root): the user-space path models. A link with a 40 ms delay and
Gilbert-Elliott loss ge:1%:10%:100%:0% (docs/emu.md: P 1 %, R 10 %, all lost in the bad
state, none in the good one) is crossed by 24000 numbered datagrams from the sender
namespace; at the receiver the one-way delay's median is within 1.5 ms of 40 ms, and the
loss rate and the mean length of loss bursts within 15 % of theory: P/(P+R) = 9.09 % and
1/R = 10. A second link's scheduled outage drops what crosses it then, and only then."""

import os
import statistics
import sys

from benchtest import Bench, Checks, Procs, leftovers, run_traffic, temp_workdir, unique_prefix

BRAID = sys.argv[1]
SCENARIO = ("link ge rate=20mbit,delay=40ms,loss=ge:1%:10%:100%:0%\n"
            "link cut rate=20mbit,outage=3s+2s\n")
P, R = 0.01, 0.10
SECONDS = 10.0
RATE_PPS = 2400
SIZE = 200


def bursts(lost_seqs):
    runs, previous = [], None
    for s in sorted(lost_seqs):
        if previous is not None and s == previous + 1:
            runs[-1] += 1
        else:
            runs.append(1)
        previous = s
    return runs


def check_ge(c, arrivals):
    seqs = {a[0] for a in arrivals}
    sent = max(seqs) + 1
    lost = set(range(sent)) - seqs
    loss = len(lost) / sent
    runs = bursts(lost)
    mean_burst = sum(runs) / len(runs) if runs else 0
    delays_ms = [(a[2] - a[1]) / 1e6 for a in arrivals]
    median = statistics.median(delays_ms)
    theory_loss, theory_burst = P / (P + R), 1 / R
    c.check(sent >= 20000, f"{sent} datagrams sent across the GE link")
    c.check(abs(median - 40) <= 1.5, f"median one-way delay {median:.2f} ms (40 ms +- 1.5)")
    c.check(abs(loss - theory_loss) <= 0.15 * theory_loss,
            f"loss {loss * 100:.2f} % (theory {theory_loss * 100:.2f} %, within 15 %)")
    c.check(abs(mean_burst - theory_burst) <= 0.15 * theory_burst,
            f"mean loss burst {mean_burst:.2f} over {len(runs)} bursts (theory "
            f"{theory_burst:.0f}, within 15 %)")


def check_outage(c, arrivals):
    """The outage runs from 3 s to 5 s after the bench started; the blast starts about 1 s
    later, so its seconds 2 to 4 fall inside, give or take the start's own delay."""
    start_ns = min(a[1] for a in arrivals)
    by_second = {}
    for seq, sent, _, _ in arrivals:
        by_second.setdefault(int((sent - start_ns) / 1e9), 0)
        by_second[int((sent - start_ns) / 1e9)] += 1
    empty = [s for s in range(int(SECONDS)) if by_second.get(s, 0) == 0]
    c.check(1 <= len(empty) <= 2 and all(1 <= s <= 4 for s in empty),
            f"the outage link delivered nothing sent in seconds {empty} of the blast, and "
            f"everything else: {[by_second.get(s, 0) for s in range(int(SECONDS))]}")


def main():
    c = Checks("netns_paths")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    with temp_workdir() as workdir:
        procs = Procs(workdir)
        try:
            prefix = unique_prefix("p")
            bench = Bench(BRAID, procs, workdir, SCENARIO, prefix)
            ready = bench.start()
            if c.check(ready is not None, "the bench comes up"):
                c.check(all(l["user_space"] for l in ready["links"]),
                        "both links run a user-space path")
                flows = [(l["address"], RATE_PPS * SIZE * 8 / (1 if i == 0 else 4))
                         for i, l in enumerate(ready["links"])]
                arrivals = run_traffic(procs, bench, SECONDS, SIZE, flows)
                check_ge(c, arrivals.get(ready["links"][0]["address"], [[0, 0, 0, 0]]))
                check_outage(c, arrivals.get(ready["links"][1]["address"], [[0, 0, 0, 0]]))
                c.check(bench.stop() == 0, "SIGTERM: exit status 0")
            c.check(leftovers(prefix) == [], "nothing left")
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
