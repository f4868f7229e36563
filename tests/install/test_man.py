#!/usr/bin/python3
"""Every manual page the build makes renders without a single groff warning, both through
groff directly and through man(1) as a reader would see it; and a page with a mistake
does draw a warning, so that silence means something."""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

PAGES = ["braid.1", "braid-send.1", "braid-recv.1", "braid-demo.1", "braid-emu.1",
         "braid-rtcp.1", "braid-sim.1", "braid-ctl.1", "braidd.8"]


def warnings(page):
    """What groff and man say on stderr about the page, and man's rendering."""
    g = subprocess.run(["groff", "-ww", "-man", "-Tutf8", "-z", page], capture_output=True,
                       text=True, timeout=30)
    env = dict(os.environ, MANROFFOPT="-ww", MANWIDTH="80")
    m = subprocess.run(["man", "-l", "--warnings=w", page], capture_output=True, text=True,
                       env=env, timeout=30)
    return (g.stderr + m.stderr).strip(), m.stdout


def main(man_dir):
    checks = bt.Checks("man")
    for name in PAGES:
        page = os.path.join(man_dir, name)
        if not checks.check(os.path.isfile(page), f"{name} was made"):
            continue
        said, shown = warnings(page)
        checks.check(said == "", f"{name} renders without warnings: {said!r}")
        title = name.rsplit(".", 1)[0]
        checks.check(re.search(rf"^ +{title} +- ", shown, re.M) is not None and "SYNOPSIS" in shown and "OPTIONS" in shown,
                     f"{name} has NAME, SYNOPSIS and OPTIONS")
    with tempfile.TemporaryDirectory() as work:
        bad = os.path.join(work, "bad.1")
        with open(bad, "w") as f:
            f.write(".TH BAD 1\n.SH NAME\nbad \\- a page with a mistake\n.XY undefined\n")
        said, _ = warnings(bad)
        checks.check("warning" in said, f"a page with an undefined macro draws a warning: "
                     f"{said!r}")
    return checks.finish()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: test_man.py MAN_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
