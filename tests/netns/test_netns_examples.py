#!/usr/bin/python3
"""The example runs of examples/bench (root): one of braid.sh, librist.sh or gstreamer.sh,
named by the second argument, over the shipped cellular.scn links with its events moved
earlier (lte2 dies at 4 s instead of 20 s and returns at 7 s instead of 30 s) and a 10 s
stream. The run must end cleanly, say what it received (at least 85 % of the seconds
sent, in a file ffprobe reads), show lte2 blackholed and back in the emulator's log with
datagrams dropped meanwhile, and leave nothing behind."""

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
