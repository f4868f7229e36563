#!/usr/bin/python3
"""The bash completion scripts the build makes: sourced in bash, they complete braid's
commands, each command's options (exactly those its --help lists), the words an option
takes, file and directory names where a value is one, ctl's and rtcp's own commands, and
braidd's options."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import braidtest as bt  # noqa: E402
from test_help import help_commands, help_options  # noqa: E402

# Completes the words given (the last one being completed) as bash would on TAB.
DRIVER = ('source "$0" || exit 3; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
          'COMP_LINE="$*"; "_${1}_complete"; printf "%s\\n" "${COMPREPLY[@]}"')


def complete(script, words, cwd):
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, script, *words],
                       capture_output=True, text=True, timeout=10, cwd=cwd)
    if r.returncode != 0 or r.stderr:
        return {"<error>", r.stderr.strip()}
    return {w for w in r.stdout.splitlines() if w}


def main(braid_script, braidd_script, braid, braidd):
    checks = bt.Checks("completion")
    top = subprocess.run([braid, "--help"], capture_output=True, text=True, timeout=10).stdout
    commands = help_commands(top)
    with bt.tempdir() as work:
        os.mkdir(os.path.join(work, "traces.d"))
        for name in ("recv.conf", "run.scn"):
            open(os.path.join(work, name), "w").close()

        def case(script, words, want, what):
            got = complete(script, words, work)
            checks.check(got == set(want), f"{what}: {' '.join(words)!r} -> {sorted(got)}")

        case(braid_script, ["braid", ""], commands, "braid's commands")
        case(braid_script, ["braid", "re"], ["recv"], "a command by its start")
        for cmd in commands:
            r = subprocess.run([braid, cmd, "--help"], capture_output=True, text=True,
                               timeout=10)
            case(braid_script, ["braid", cmd, "--"], help_options(r.stdout),
                 f"braid {cmd}: the options of its --help")
        case(braid_script, ["braid", "send", "--st"], ["--stats", "--stats-interval"],
             "options by their start")
        case(braid_script, ["braid", "send", "--input", "127.0.0.1:0", "--mode", "b"],
             ["broadcast", "backup"], "--mode's words")
        case(braid_script, ["braid", "recv", "--config", "re"], ["recv.conf"], "a file name")
        case(braid_script, ["braid", "recv", "--listen", ""], [], "an address to type")
        case(braid_script, ["braid", "sim", "--traces", ""], ["traces.d"],
             "only directories for --traces")
        case(braid_script, ["braid", "sim", "--scenario", "ru"], ["run.scn"], "a scenario")
        case(braid_script, ["braid", "rtcp", ""], ["replay", "dump"], "rtcp's commands")
        case(braid_script, ["braid", "rtcp", "replay", "ru"], ["run.scn"], "replay's file")
        case(braid_script, ["braid", "ctl", "--server", "127.0.0.1:1", "d"], ["destroy"],
             "ctl's commands after its options")
        case(braid_script, ["braid", "ctl", "create", ""], ["rtp_proxy", "bond_receive"],
             "the kinds ctl creates")
        case(braid_script, ["braid", "ctl", "create", "rtp_proxy", "--des"],
             ["--destination"], "create's options")
        case(braid_script, ["braid", "ctl", "list", ""], [], "no second command")
        case(braid_script, ["braid", "ctl", "list", "--state", "c"],
             ["created", "connecting", "closed"], "--state's words")
        case(braid_script, ["braid", "frobnicate", "--"], [], "nothing for an unknown command")
        r = subprocess.run([braidd, "--help"], capture_output=True, text=True, timeout=10)
        case(braidd_script, ["braidd", "--"], help_options(r.stdout),
             "braidd: the options of its --help")
        case(braidd_script, ["braidd", "--create-db", "--m"], ["--metrics", "--max-sessions"],
             "braidd's options after a flag")
        case(braidd_script, ["braidd", "--output-dir", ""], ["traces.d"],
             "a directory for --output-dir")
    return checks.finish()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: test_completion.py BRAID_COMPLETION BRAIDD_COMPLETION BRAID BRAIDD",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*(os.path.abspath(a) for a in sys.argv[1:])))
