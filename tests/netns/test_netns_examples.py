#!/usr/bin/python3
"""The example runs of examples/bench (root): one of braid.sh, librist.sh or gstreamer.sh,
named by the second argument, over the shipped cellular.scn links with its events moved
earlier (lte2 dies at 4 s instead of 20 s and returns at 7 s instead of 30 s) and a 10 s
stream. The run must end cleanly, say what it received (at least 85 % of the seconds
sent, in a file ffprobe reads), show lte2 blackholed and back in the emulator's log with
datagrams dropped meanwhile, end in the common report (examples/bench/report.py) with
plausible figures, and leave nothing behind."""

import json
import os
import re
import subprocess
import sys

from benchtest import Checks, leftovers, root_devices, temp_workdir, unique_prefix

BRAID, EXAMPLE = sys.argv[1], sys.argv[2]
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "bench")
SECONDS = 10
# braid's latency budget in braid.sh: the output may not wait longer than that to be whole.
BRAID_LATENCY_MS = 800
# The dead link may still deliver what was already past its user-space path when it died.
DEAD_MBPS = 0.05


def short_scenario(workdir):
    with open(os.path.join(EXAMPLES, "cellular.scn")) as f:
        text = f.read()
    text = re.sub(r"^at 20s ", "at 4s ", text, flags=re.M)
    text = re.sub(r"^at 30s ", "at 7s ", text, flags=re.M)
    path = os.path.join(workdir, "short.scn")
    with open(path, "w") as f:
        f.write(text)
    return path


def outage_drops(stats_path):
    with open(stats_path) as f:
        final = [d for d in map(json.loads, f) if d.get("final") and d["link"] == "lte2"]
    return final[0]["fwd"]["model"]["dropped_outage"] if final else -1


def check_links(c, report):
    links = {link["name"]: link for link in report.get("links", [])}
    c.check(sorted(links) == ["lte1", "lte2", "lte3"], f"a line per link: {sorted(links)}")
    for name, link in links.items():
        tp = link["throughput_mbps"]
        c.check(tp["mean"] is not None and tp["mean"] > 0, f"{name} carried {tp['mean']} Mbit/s")
        rtx = link["retransmission_rate"]
        c.check(rtx is not None and 0 <= rtx < 0.5 and link["media_packets"] > 0,
                f"{name}: {link['media_packets']} media packets, {rtx} of them resent")
        if name == "lte2":
            c.check(tp["outage"] is not None and tp["outage"] <= DEAD_MBPS,
                    f"lte2 carried {tp['outage']} Mbit/s while dead")
        else:
            c.check(tp["outage"] is not None and tp["outage"] > 0,
                    f"{name} carried {tp['outage']} Mbit/s while lte2 was dead")
    c.check(max(links[n]["throughput_mbps"]["outage"] or 0 for n in ("lte1", "lte3")) > 0.3,
            "another link carried the stream while lte2 was dead")


def check_probe(c, report):
    loss, failover, recovery = (report.get(k, "missing") for k in
                                ("residual_loss", "failover_ms", "recovery_ms"))
    probe = report.get("probe", {})
    c.check(probe.get("sent", 0) > 20 * SECONDS and probe.get("received", 0) > 0,
            f"the probe went through: {probe}")
    c.check(loss is not None and 0 <= loss <= (0.01 if EXAMPLE == "braid" else 0.05),
            f"residual loss {loss}")
    c.check(failover is None or failover >= 0, f"failover {failover} ms")
    c.check(recovery is None or recovery >= 0, f"recovery {recovery} ms")
    if EXAMPLE == "braid":
        c.check(failover is not None and failover <= BRAID_LATENCY_MS,
                f"braid's output whole again {failover} ms after lte2 died")
        c.check(recovery is not None and recovery < 3000,
                f"braid used lte2 again {recovery} ms after it came back")


def main():
    c = Checks(f"netns_example_{EXAMPLE}")
    if os.geteuid() != 0:
        c.check(False, "this test needs root (it creates network namespaces)")
        return c.finish()
    before = root_devices()
    prefix = unique_prefix("e")
    with temp_workdir() as workdir:
        env = dict(os.environ, BRAID=BRAID, SCENARIO=short_scenario(workdir),
                   SECONDS_TO_RUN=str(SECONDS), PREFIX=prefix, OUT=workdir)
        p = subprocess.run([os.path.join(EXAMPLES, f"{EXAMPLE}.sh")], env=env,
                           capture_output=True, text=True, timeout=90)
        c.check(p.returncode == 0, f"{EXAMPLE}.sh exits 0 ({p.returncode}) {p.stderr[-300:]}")
        lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {}
        c.check(result.get("example") == EXAMPLE, f"it reports: {result}")
        print("\n".join(line for line in p.stdout.splitlines() if not line.startswith("{")))
        check_links(c, result)
        check_probe(c, result)
        c.check(result.get("received_seconds", 0) >= 0.85 * SECONDS,
                f"{result.get('received_seconds')} s of the {SECONDS} s sent arrived "
                f"({result.get('received_bytes')} bytes)")
        with open(os.path.join(workdir, "emu.log")) as f:
            log = f.read()
        c.check("lte2 blackhole on" in log and "lte2 blackhole off" in log,
                "lte2 died and came back: " + " | ".join(log.strip().splitlines()))
        drops = outage_drops(os.path.join(workdir, "emu.jsonl"))
        c.check(drops > 0, f"{drops} datagrams sent into lte2 while it was dead were dropped")
    c.check(leftovers(prefix) == [], f"nothing left: {leftovers(prefix)}")
    c.check(root_devices() == before, "no device added to the test's own namespace")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
