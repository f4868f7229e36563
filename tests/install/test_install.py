#!/usr/bin/python3
"""`make install DESTDIR=...` into a temporary directory: the programs, pages, units,
completion and example configurations land under PREFIX; the installed braid runs its
demo from there; man finds the installed pages; systemd-analyze verify accepts the units
(their programs pointed at the staged copies) without a word; the example configuration
files are read by the installed programs. The build's install log is put back after, so
that `make uninstall` still removes a real installation, not this one."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

UNITS = ["braid-recv.service", "braid-send.service", "braidd.service"]
PAGES = ["man1/braid.1", "man1/braid-send.1", "man1/braid-recv.1", "man1/braid-demo.1",
         "man1/braid-emu.1", "man1/braid-rtcp.1", "man1/braid-sim.1", "man1/braid-ctl.1",
         "man8/braidd.8"]
EXAMPLES = ["recv.conf", "send.conf", "braidd.conf"]


def build_prefix(build):
    r = subprocess.run(["meson", "introspect", build, "--buildoptions"], capture_output=True,
                       text=True, timeout=60, check=True)
    return next(o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix")


def make_install(checks, src, build, prefix, dest):
    """Runs `make install`, keeping the build's install log as it was."""
    log = os.path.join(build, "meson-logs", "install-log.txt")
    kept = log + ".before-test"
    if os.path.exists(log):
        shutil.copy2(log, kept)
    try:
        r = subprocess.run(["make", "-C", src, "--no-print-directory", "install",
                            f"BUILD={build}", f"PREFIX={prefix}", f"DESTDIR={dest}"],
                           capture_output=True, text=True, timeout=600)
    finally:
        if os.path.exists(kept):
            os.replace(kept, log)
        elif os.path.exists(log):
            os.unlink(log)
    checks.check(r.returncode == 0, f"make install DESTDIR=... exits {r.returncode} "
                 f"{r.stderr.strip()[-300:]!r}")


def installed_files(checks, root, prefix):
    for path in ["bin/braid", "bin/braidd"]:
        full = root + prefix + "/" + path
        checks.check(os.access(full, os.X_OK), f"{prefix}/{path} is installed, executable")
    for page in PAGES:
        checks.check(os.path.isfile(f"{root}{prefix}/share/man/{page}"),
                     f"{prefix}/share/man/{page} is installed")
    for unit in UNITS:
        checks.check(os.path.isfile(f"{root}{prefix}/lib/systemd/system/{unit}"),
                     f"{prefix}/lib/systemd/system/{unit} is installed")
    for program in ["braid", "braidd"]:
        checks.check(os.path.isfile(f"{root}{prefix}/share/bash-completion/completions/{program}"),
                     f"{prefix}/share/bash-completion/completions/{program} is installed")
    for conf in EXAMPLES:
        checks.check(os.path.isfile(f"{root}{prefix}/share/doc/braid/examples/{conf}"),
                     f"{prefix}/share/doc/braid/examples/{conf} is installed")


def demo_runs(checks, root, prefix, work):
    """The installed braid, run from elsewhere than the source or build tree."""
    env = dict(os.environ, PATH=f"{root}{prefix}/bin:" + os.environ.get("PATH", ""))
    r = subprocess.run(["braid", "demo", "--duration", "5"], capture_output=True, text=True,
                       timeout=60, cwd=work, env=env)
    checks.check(r.returncode == 0 and "every packet arrived" in r.stdout + r.stderr,
                 f"the installed braid demo exits {r.returncode}: "
                 f"{(r.stdout + r.stderr).strip()[-200:]!r}")
    man = subprocess.run(["man", "-M", f"{root}{prefix}/share/man", "-P", "cat", "braid-recv"],
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, MANWIDTH="80"))
    checks.check(man.returncode == 0 and "--listen" in man.stdout,
                 "man finds the installed braid-recv page")


def units_verify(checks, root, prefix, work):
    for unit in UNITS:
        with open(f"{root}{prefix}/lib/systemd/system/{unit}") as f:
            text = f.read()
        exec_line = next(l for l in text.splitlines() if l.startswith("ExecStart="))
        program = exec_line.split("=", 1)[1].split()[0]
        checks.check(program.startswith(prefix + "/bin/") and os.access(root + program, os.X_OK),
                     f"{unit} runs the installed {program}")
        # The staged copy, since nothing is installed at PREFIX itself.
        staged = os.path.join(work, unit)
        with open(staged, "w") as f:
            f.write(text.replace(program, root + program))
        r = subprocess.run(["systemd-analyze", "verify", staged], capture_output=True,
                           text=True, timeout=120,
                           env=dict(os.environ, MANPATH=f"{root}{prefix}/share/man"))
        said = (r.stdout + r.stderr).strip()
        checks.check(r.returncode == 0 and said == "",
                     f"systemd-analyze verify {unit}: exit {r.returncode}, {said!r}")


def examples_read(checks, root, prefix, work):
    """The example files as shipped, with the addresses moved to loopback."""
    braid = f"{root}{prefix}/bin/braid"
    examples = f"{root}{prefix}/share/doc/braid/examples"
    procs = bt.Procs(work)
    try:
        r = procs.start("recv", [braid, "recv", "--config", f"{examples}/recv.conf",
                                 "--listen", "127.0.0.1:0", "--output", "-"])
        m = procs.wait_stderr(r, r"listening on \S+, latency (\d+) ms")
        checks.check(m is not None and m.group(1) == "1000", "recv reads its example file")
        s = procs.start("send", [braid, "send", "--config", f"{examples}/send.conf",
                                 "--input", "udp://127.0.0.1:0", "--to", "127.0.0.1:9",
                                 "--link", "name=lo,addr=127.0.0.1"])
        m = procs.wait_stderr(s, r"input on \S+, 1 link, mode (\w+)")
        checks.check(m is not None and m.group(1) == "adaptive", "send reads its example file")
    finally:
        procs.stop_all()


def main(src, build):
    checks = bt.Checks("install")
    prefix = build_prefix(build)
    with bt.tempdir() as work:
        root = os.path.join(work, "root")
        make_install(checks, src, build, prefix, root)
        installed_files(checks, root, prefix)
        demo_runs(checks, root, prefix, work)
        units_verify(checks, root, prefix, work)
        examples_read(checks, root, prefix, work)
    return checks.finish()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: test_install.py SOURCE_DIR BUILD_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])))
