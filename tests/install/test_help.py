#!/usr/bin/python3
"""--help and the manual pages say the same, and say what the parsers take.

For braid, each of its commands and braidd: the options --help lists are exactly those the
manual page lists, each with a description; every option the command's C source hands
to its parser is listed (and every listed one is in the source); every listed option
that takes a value is known to the program (given without its value it is refused as
'needs a value', not as unknown). Every command braid --help names has a page."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

# The sources whose parser calls name each page's options.
SOURCES = {
    "braid": ["main.c"],
    "braid-send": ["cmd_send.c"],
    "braid-recv": ["cmd_recv.c"],
    "braid-demo": ["cmd_demo.c"],
    "braid-emu": ["cmd_emu.c", "cmd_emu_netns.c"],
    "braid-rtcp": ["cmd_rtcp.c", "rtcp_dump.c", "rtcp_replay.c"],
    "braid-sim": ["cmd_sim.c"],
    "braid-plot": ["cmd_plot.c"],
    "braid-ctl": ["cmd_ctl.c"],
    "braid-tunnel": ["cmd_tunnel.c"],
    "braidd": ["braidd_main.c"],
}
OPTION = r"--[a-z][a-z0-9-]*"
# A parser call naming an option: braid_cli_option(..., "--x"), strcmp(argv[i], "--x").
PARSER_CALL = re.compile(r'(?:braid_cli_option\(.*|strn?cmp\(argv\[[^]]*\], )"(' + OPTION + ')"')
HELP_LABEL = re.compile(r"^  (" + OPTION + r")(?: (\S+))?(?:\s{2,}(\S.*))?$")
MAN_TAG = re.compile(r"^ {7}(" + OPTION + r")\b")
HEADING = re.compile(r"^ (\S.*):$")


def help_options(text):
    """{option: (takes a value, described, the heading it is under)} from --help."""
    found = {}
    lines = text.splitlines()
    in_options, heading = False, ""
    for i, line in enumerate(lines):
        if line == "options:":
            in_options = True
            continue
        if not in_options:
            continue
        h = HEADING.match(line)
        if h:
            heading = h.group(1)
            continue
        m = HELP_LABEL.match(line)
        if not m:
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        described = bool(m.group(3)) or bool(re.match(r"^ {24}\S", following))
        found.setdefault(m.group(1), []).append((m.group(2) is not None, described, heading))
    return found


def help_commands(text):
    names, in_commands = [], False
    for line in text.splitlines():
        if line == "commands:":
            in_commands = True
        elif in_commands and not line.strip():
            break
        elif in_commands:
            m = re.match(r"^  ([a-z]+)", line)
            if m:
                names.append(m.group(1))
    return names


def man_options(page):
    env = {k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"}
    env["MANWIDTH"] = "200"
    r = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env,
                       timeout=30)
    plain = re.sub(".\b", "", r.stdout)  # overstriking, should man keep it
    return {m.group(1) for line in plain.splitlines() if (m := MAN_TAG.match(line))}


def source_options(src_dir, files):
    found = set()
    for name in files:
        with open(os.path.join(src_dir, name)) as f:
            for line in f:
                found.update(PARSER_CALL.findall(line))
    return found


def braidd_source_options(src_dir):
    """braidd takes --KEY for each key of its flags[] table, and a few flags of its own."""
    with open(os.path.join(src_dir, "braidd_main.c")) as f:
        text = f.read()
    table = re.search(r"flags\[\] = \{(.*?)\};", text, re.S).group(1)
    keys = re.findall(r'"([a-z_]+)"', table)
    return {"--" + k.replace("_", "-") for k in keys} | source_options(src_dir, ["braidd_main.c"])


def argv_prefix(heading):
    """The words before an option under a heading: 'create rtp_proxy' for its options."""
    if not heading or " the " in heading or heading.startswith("every"):
        return []
    return heading.split()


def check_value_options(checks, program, options):
    for opt, places in sorted(options.items()):
        for takes_value, _, heading in places:
            if not takes_value or opt == "--help":
                continue
            argv = [*program, *argv_prefix(heading), opt]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                               stdin=subprocess.DEVNULL)
            checks.check(r.returncode == 2 and f"{opt} needs a value" in r.stderr,
                         f"{' '.join(argv[1:]) or argv[0]}: the parser knows {opt} "
                         f"({r.stderr.strip()!r})")


def check_page(checks, page, program, help_text, man_dir, src_dir):
    listed = help_options(help_text)
    checks.check(len(listed) > 0, f"{page}: --help lists options")
    for opt, places in sorted(listed.items()):
        checks.check(all(described for _, described, _ in places),
                     f"{page}: {opt} has a description in --help")
    in_man = man_options(os.path.join(man_dir, page + (".8" if page == "braidd" else ".1")))
    checks.check(set(listed) == in_man,
                 f"{page}: --help and the manual page list the same options "
                 f"(only in --help: {sorted(set(listed) - in_man)}, "
                 f"only on the page: {sorted(in_man - set(listed))})")
    parsed = (braidd_source_options(src_dir) if page == "braidd"
              else source_options(src_dir, SOURCES[page]))
    parsed -= {"--man", "--completion"}  # how the build asks for the page; not for users
    checks.check(parsed == set(listed),
                 f"{page}: the parser takes what --help lists "
                 f"(unlisted: {sorted(parsed - set(listed))}, "
                 f"not parsed: {sorted(set(listed) - parsed)})")
    check_value_options(checks, program, listed)


def main(braid, braidd, man_dir, src_dir):
    checks = bt.Checks("help")
    top = subprocess.run([braid, "--help"], capture_output=True, text=True, timeout=10)
    checks.check(top.returncode == 0, "braid --help exits 0")
    commands = help_commands(top.stdout)
    checks.check(len(commands) >= 7 and set(SOURCES) >= {"braid-" + c for c in commands},
                 f"braid --help names its commands, each with its sources here: {commands}")
    check_page(checks, "braid", [braid], top.stdout, man_dir, src_dir)
    for cmd in commands:
        r = subprocess.run([braid, cmd, "--help"], capture_output=True, text=True, timeout=10)
        checks.check(r.returncode == 0 and r.stdout.startswith(f"usage: braid {cmd} "),
                     f"braid {cmd} --help exits 0 with its usage")
        check_page(checks, "braid-" + cmd, [braid, cmd], r.stdout, man_dir, src_dir)
    r = subprocess.run([braidd, "--help"], capture_output=True, text=True, timeout=10)
    checks.check(r.returncode == 0, "braidd --help exits 0")
    check_page(checks, "braidd", [braidd], r.stdout, man_dir, src_dir)
    # The option the issue named: described, on both sides that have it.
    for cmd in ("send", "recv", "emu"):
        r = subprocess.run([braid, cmd, "--help"], capture_output=True, text=True, timeout=10)
        desc = help_options(r.stdout).get("--stats-interval", [(True, False, "")])
        checks.check(desc[0][1], f"braid {cmd} --help describes --stats-interval")
    return checks.finish()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: test_help.py BRAID BRAIDD MAN_DIR SRC_APP_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
