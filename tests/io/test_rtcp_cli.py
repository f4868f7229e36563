#!/usr/bin/python3
"""`braid rtcp` as a user runs it.

replay: the examples of docs/rtcp-replay.md give exactly the output printed there; long
random scripts (loss, reordering, duplicates, wraps, restarts, frames, several SSRCs, both
values of use_latest_packet) give what an independent Python model of the documented
rules gives; every kind of malformed input exits 2 with one line and prints no report.
dump: hand-made pcap files in each supported framing and byte order, the ones it must
skip or refuse, and a live UDP port.

usage: test_rtcp_cli.py PATH_TO_BRAID"""

import json
import os
import random
import re
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "rtcp-replay.md")
M32, M64 = (1 << 32) - 1, (1 << 64) - 1


# ---- an independent model of docs/rtcp-replay.md ----

def ntp_from_us(us):
    return (us // 10**6) << 32 | ((us % 10**6) << 32) // 10**6


class Receiver:
    def __init__(self, rate):
        self.rate, self.started, self.sr = rate, False, None
        self.j16, self.transit = 0, None

    def restart(self, seq):
        self.base, self.max, self.cycles, self.bad = seq, seq, 0, 65537
        self.received, self.exp_prior, self.rec_prior = 0, 0, 0

    def packet(self, t, seq, ts):
        if not self.started:
            self.started = True
            self.restart(seq)
        else:
            udelta = (seq - self.max) & 0xffff
            if udelta < 3000:
                if seq < self.max:
                    self.cycles += 65536
                self.max = seq
            elif udelta <= 65536 - 100:
                if seq != self.bad:
                    self.bad = (seq + 1) & 0xffff
                    return
                self.restart(seq)
                self.transit = None
        self.received += 1
        transit = (t * self.rate // 10**6 - ts) & M32
        if self.transit is not None:
            d = (transit - self.transit) & M32
            d = d - (1 << 32) if d >= 1 << 31 else d
            self.j16 += abs(d) - ((self.j16 + 8) >> 4)
        self.transit = transit

    def report(self, ssrc, t):
        if not self.started:  # bound by signalling, no RTP yet: zero counts, LSR and DLSR
            block = {"ssrc": ssrc, "fraction_lost": 0, "cumulative_lost": 0,
                     "ext_highest_seq": 0, "jitter": 0, "lsr": 0, "dlsr": 0}
            block.update(self.sr_fields(t))
            return block
        ext = (self.cycles + self.max) & M32
        expected = (ext - self.base + 1) & M32
        lost = (expected - self.received) & M32
        lost = lost - (1 << 32) if lost >= 1 << 31 else lost
        exp_int = (expected - self.exp_prior) & M32
        rec_int = (self.received - self.rec_prior) & M32
        self.exp_prior, self.rec_prior = expected, self.received
        lost_int = exp_int - rec_int
        fraction = 0 if exp_int == 0 or lost_int <= 0 else min(255, (lost_int << 8) // exp_int)
        block = {"ssrc": ssrc, "fraction_lost": fraction,
                 "cumulative_lost": max(-(1 << 23), min((1 << 23) - 1, lost)),
                 "ext_highest_seq": ext, "jitter": min(M32, self.j16 >> 4)}
        block.update(self.sr_fields(t))
        return block

    def sr_fields(self, t):
        if not self.sr:
            return {"lsr": 0, "dlsr": 0}
        dt = t - self.sr[1]
        return {"lsr": (self.sr[0] >> 16) & M32,
                "dlsr": min(M32, (dt // 10**6) << 16 | ((dt % 10**6) << 16) // 10**6)}


class Sender:
    def __init__(self, rate, latest):
        self.rate, self.latest, self.highest = rate, latest, None
        self.packets = self.octets = 0

    def packet(self, t, seq, ts, payload):
        if self.highest is None:
            self.highest, self.map = seq, (ts, t)
        else:
            newer = 0 < ((seq - self.highest) & 0xffff) < 0x8000
            if ts != self.map[0] and (newer or self.latest):
                self.map = (ts, t)
            if newer:
                self.highest = seq
        self.packets = (self.packets + 1) & M32
        self.octets = (self.octets + payload) & M32

    def report(self, ssrc, t, origin):
        ts, at = self.map
        return {"ssrc": ssrc, "ntp": (origin + ntp_from_us(t)) & M64,
                "rtp_ts": (ts + (t - at) * self.rate // 10**6) & M32,
                "packets": self.packets, "octets": self.octets}


def model(script):
    rate, origin = script["clock_rate"], script["ntp_origin"]
    latest = script.get("use_latest_packet", False)
    rx, tx, out = {}, {}, []
    for ev in script["events"]:
        t = ev["t_us"]
        if "rtp_in" in ev:
            p = ev["rtp_in"]
            rx.setdefault(p["ssrc"], Receiver(rate)).packet(t, p["seq"], p["ts"])
        elif "rtp_out" in ev:
            p = ev["rtp_out"]
            tx.setdefault(p["ssrc"], Sender(rate, latest)).packet(t, p["seq"], p["ts"],
                                                                  p["payload"])
        elif "sr_in" in ev:
            if ev["sr_in"]["ssrc"] in rx:
                rx[ev["sr_in"]["ssrc"]].sr = (ev["sr_in"]["ntp"], t)
        elif "bind_in" in ev:
            rx[ev["bind_in"]["ssrc"]] = Receiver(rate)
        elif "bind_out" in ev:
            tx[ev["bind_out"]["ssrc"]] = Sender(rate, latest)
        else:
            # a sending stream is reported once it has sent a packet
            out.append({"t_us": t, "sr": [s.report(k, t, origin) for k, s in tx.items()
                                          if s.highest is not None],
                        "rr": [r.report(k, t) for k, r in rx.items()]})
    return out


def random_script(rng, latest):
    """Two sources in each direction, with every kind of trouble."""
    rate = rng.choice([8000, 48000, 90000])
    t = rng.randrange(0, 10**9)
    # Some streams bound by signalling before anything else: 55 receives only SRs.
    events = [{"t_us": t, "bind_in": {"ssrc": 55}}]
    for ssrc, kind in ((22, "bind_in"), (44, "bind_out")):
        if rng.random() < 0.5:
            events.append({"t_us": t, kind: {"ssrc": ssrc}})
    seqs = {11: rng.randrange(65536), 22: 65400}
    out_seq = {33: 65530, 44: rng.randrange(65536)}
    ts = {k: rng.randrange(1 << 32) for k in (11, 22, 33, 44)}
    for i in range(1500):
        t += rng.choice([0, 1, 250, 5000, 20000, 20001, 33333])
        kind = rng.random()
        if kind < 0.5:
            ssrc = rng.choice([11, 22])
            r = rng.random()
            if r < 0.05:
                seq = (seqs[ssrc] - rng.randrange(1, 150)) & 0xffff  # late or too late
            elif r < 0.1:
                seq = seqs[ssrc]  # duplicate
            elif r < 0.12:
                seqs[ssrc] = (seqs[ssrc] + rng.randrange(3000, 30000)) & 0xffff  # a jump
                seq = seqs[ssrc]
            else:
                seqs[ssrc] = (seqs[ssrc] + rng.choice([1, 1, 1, 2, 5])) & 0xffff
                seq = seqs[ssrc]
            ts[ssrc] = (ts[ssrc] + rng.choice([0, 160, 1800, 3000])) & M32
            events.append({"t_us": t, "rtp_in": {"ssrc": ssrc, "seq": seq, "ts": ts[ssrc],
                                                 "payload": rng.randrange(2000)}})
        elif kind < 0.85:
            ssrc = rng.choice([33, 44])
            late = rng.random() < 0.1
            seq = (out_seq[ssrc] - 2) & 0xffff if late else out_seq[ssrc]
            if not late:
                out_seq[ssrc] = (out_seq[ssrc] + 1) & 0xffff
                if rng.random() < 0.3:
                    ts[ssrc] = (ts[ssrc] + 3000) & M32
            stamp = (ts[ssrc] - 3000) & M32 if late else ts[ssrc]
            events.append({"t_us": t, "rtp_out": {"ssrc": ssrc, "seq": seq, "ts": stamp,
                                                  "payload": rng.randrange(1 << 31)}})
        elif kind < 0.9:
            events.append({"t_us": t, "sr_in": {"ssrc": rng.choice([11, 22, 55, 99]),
                                                "ntp": rng.randrange(1 << 64),
                                                "rtp_ts": 0, "packets": 0, "octets": 0}})
        else:
            events.append({"t_us": t, "report": True})
    events.append({"t_us": t + 1, "report": True})
    return {"clock_rate": rate, "ntp_origin": rng.randrange(1 << 64),
            "use_latest_packet": latest, "events": events}


# ---- helpers ----

def run(braid, args, stdin=None, timeout=60):
    return subprocess.run([braid, *args], input=stdin, capture_output=True, timeout=timeout)


def replay(braid, work, script_text, name="script.json"):
    path = os.path.join(work, name)
    with open(path, "w" if isinstance(script_text, str) else "wb") as f:
        f.write(script_text)
    return path, run(braid, ["rtcp", "replay", path])


def doc_examples():
    """(input, output) pairs marked in the doc with <!-- replay-input --> and
    <!-- replay-output --> before their code blocks."""
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"<!-- replay-(input|output) -->\s*```[a-z]*\n(.*?)```", text, re.S)
    inputs = [b for kind, b in blocks if kind == "input"]
    outputs = [b for kind, b in blocks if kind == "output"]
    return list(zip(inputs, outputs))


def usage_error(checks, out, what, pattern=r"braid rtcp: ", stdout_lines=0):
    """Exit 2, one line on stderr matching pattern, and stdout_lines lines on stdout."""
    err = out.stderr.decode(errors="replace")
    lines = err.splitlines()
    checks.check(out.returncode == 2 and len(lines) == 1 and re.match(pattern, lines[0])
                 and len(out.stdout.splitlines()) == stdout_lines,
                 f"{what}: exit 2, one line: rc={out.returncode} {err.strip()!r}")


# ---- replay ----

def test_doc_examples(braid, work, checks):
    examples = doc_examples()
    checks.check(len(examples) >= 2, f"docs/rtcp-replay.md has {len(examples)} examples")
    for i, (inp, outp) in enumerate(examples):
        _, out = replay(braid, work, inp, f"doc{i}.json")
        checks.check(out.returncode == 0 and out.stdout.decode() == outp,
                     f"doc example {i + 1} prints exactly the documented output:\n"
                     f"{out.stdout.decode()}{out.stderr.decode()}")
        got = [json.loads(line) for line in out.stdout.decode().splitlines()]
        checks.check(got == model(json.loads(inp)), f"doc example {i + 1} matches the model")


def test_against_model(braid, work, checks):
    rng = random.Random(3550)
    for n in range(6):
        script = random_script(rng, latest=n % 2 == 1)
        _, out = replay(braid, work, json.dumps(script), f"random{n}.json")
        got = [json.loads(line) for line in out.stdout.decode().splitlines()]
        want = model(script)
        first_bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        checks.check(out.returncode == 0 and got == want,
                     f"random script {n} (use_latest_packet={n % 2 == 1}): {len(got)} "
                     f"reports as the model says; first difference at {first_bad}: "
                     f"{got[first_bad] if first_bad is not None else ''} vs "
                     f"{want[first_bad] if first_bad is not None else ''}")
    # Streams in order of first sight, many SSRCs, the same script through stdin.
    events = [{"t_us": i, "rtp_in": {"ssrc": 1000 - i, "seq": i, "ts": i, "payload": 1}}
              for i in range(100)]
    events.append({"t_us": 100, "report": True})
    script = json.dumps({"clock_rate": 1, "ntp_origin": 0, "events": events})
    out = run(braid, ["rtcp", "replay", "-"], stdin=script.encode())
    got = json.loads(out.stdout)
    checks.check([b["ssrc"] for b in got["rr"]] == [1000 - i for i in range(100)] and
                 got["sr"] == [], "100 receivers from stdin, reported in order of first sight")


MALFORMED = [
    ("empty file", "", r"line 1 column 1: expected a value"),
    ("trailing garbage", '{"clock_rate":1,"ntp_origin":0,"events":[]} x',
     r"trailing characters"),
    ("unterminated", '{"clock_rate":1', r"line 1 column 16: expected ',' or '}'"),
    ("fraction", '{"clock_rate":1.5,"ntp_origin":0,"events":[]}', r"only integers"),
    ("exponent", '{"clock_rate":1e3,"ntp_origin":0,"events":[]}', r"only integers"),
    ("leading zero", '{"clock_rate":01,"ntp_origin":0,"events":[]}', r"leading zero"),
    ("beyond 64 bits", '{"clock_rate":1,"ntp_origin":18446744073709551616,"events":[]}',
     r"out of range"),
    ("negative", '{"clock_rate":1,"ntp_origin":-1,"events":[]}', r"ntp_origin.*got -1"),
    ("deep nesting", "[" * 65 + "]" * 65, r"nested deeper than 64"),
    ("duplicate key", '{"clock_rate":1,"clock_rate":2,"ntp_origin":0,"events":[]}',
     r'duplicate key "clock_rate"'),
    ("unknown key", '{"clock_rate":1,"ntp_origin":0,"events":[],"x":1}', r'unknown key "x"'),
    ("missing events", '{"clock_rate":1,"ntp_origin":0}', r'missing "events"'),
    ("clock rate 0", '{"clock_rate":0,"ntp_origin":0,"events":[]}', r"at least 1"),
    ("not an object", "[]", r"expected an object"),
    ("seq out of range", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"rtp_in":'
     '{"ssrc":1,"seq":65536,"ts":0,"payload":0}}]}', r"events\[0\]\.rtp_in\.seq"),
    ("ssrc a string", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"rtp_out":'
     '{"ssrc":"1","seq":1,"ts":0,"payload":0}}]}', r"rtp_out\.ssrc.*got a string"),
    ("missing payload", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"rtp_in":'
     '{"ssrc":1,"seq":1,"ts":0}}]}', r'missing "payload"'),
    ("two kinds", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"report":true,'
     '"sr_in":{}}]}', r"more than one"),
    ("no kind", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0}]}', r"needs one of"),
    ("bind with a seq", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"bind_in":'
     '{"ssrc":1,"seq":1}}]}', r'bind_in.*unknown key "seq"'),
    ("bind after RTP", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"rtp_in":'
     '{"ssrc":1,"seq":1,"ts":0,"payload":0}},{"t_us":1,"bind_in":{"ssrc":1}}]}',
     r"events\[1\]: bind_in of ssrc 1 already bound at events\[0\]"),
    ("bound twice", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"bind_out":'
     '{"ssrc":1}},{"t_us":0,"bind_out":{"ssrc":1}}]}', r"bind_out of ssrc 1 already bound"),
    ("report false", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"report":false}]}',
     r"must be true"),
    ("time going back", '{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":5,"report":true},'
     '{"t_us":4,"report":true}]}', r"events\[1\]\.t_us .*4 is before .*5"),
    ("lone surrogate", '{"clock_rate":1,"ntp_origin":0,"events":[],"\\ud800":1}',
     r"surrogate"),
    ("control character", '{"clock_rate":1,"ntp_origin":0,"events":[],"a\tb":1}',
     r"control character"),
    ("bad literal", '{"clock_rate":1,"ntp_origin":0,"use_latest_packet":tru,"events":[]}',
     r"expected 'true'"),
    ("use_latest_packet 1", '{"clock_rate":1,"ntp_origin":0,"use_latest_packet":1,'
     '"events":[]}', r"true or false"),
    ("error position", '{"clock_rate":1,\n"ntp_origin":0,\n"events":[\n{"t_us":0,"rep":1}]}',
     r'events\[0\] \(line 4 column 11\): unknown key "rep"'),
]


def test_malformed(braid, work, checks):
    for name, text, pattern in MALFORMED:
        path, out = replay(braid, work, text, "bad.json")
        usage_error(checks, out, f"malformed: {name}",
                    r"braid rtcp: " + re.escape(path) + ": .*" + pattern)
    path, out = replay(braid, work, b'{"clock_rate":1,"ntp_origin":0,"events":[],"\xff":1}',
                       "utf8.json")
    usage_error(checks, out, "invalid UTF-8", r"braid rtcp: .*invalid UTF-8")
    # The edges of what is valid: an escaped key, the largest integers, every whitespace.
    text = ('{"clock\\u005frate":\r\n\t4294967295 ,"ntp_origin": 18446744073709551615,'
            '"events":[{"t_us":18446744073709551615,"rtp_out":{"ssrc":4294967295,'
            '"seq":65535,"ts":4294967295,"payload":4294967295}},'
            '{"t_us":18446744073709551615,"report":true}]}')
    _, out = replay(braid, work, text, "edges.json")
    got = [json.loads(line) for line in out.stdout.decode().splitlines()]
    checks.check(out.returncode == 0 and got == model(json.loads(text)),
                 f"the largest values and an escaped key: {got} {out.stderr!r}")
    # A surrogate pair decodes to one character (shown as ? per byte in the message).
    _, out = replay(braid, work, '{"\\ud83d\\ude00":1}', "pair.json")
    usage_error(checks, out, "a surrogate pair in a key", r'.*unknown key "\?\?\?\?"')
    usage_error(checks, run(braid, ["rtcp", "replay", os.path.join(work, "absent.json")]),
                "a missing file", r"braid rtcp: .*absent.json: No such file")
    usage_error(checks, run(braid, ["rtcp", "replay", "-"], stdin=b"{"), "bad stdin",
                r"braid rtcp: stdin: line 1 column 2")
    # A valid file with a report, then an error: nothing is printed before the error.
    text = ('{"clock_rate":1,"ntp_origin":0,"events":[{"t_us":0,"report":true},'
            '{"t_us":1,"report":1}]}')
    _, out = replay(braid, work, text, "late-error.json")
    usage_error(checks, out, "an error after a report prints no report")


def test_usage(braid, checks):
    for args, what in ((["rtcp"], "no subcommand"), (["rtcp", "replay"], "replay without FILE"),
                       (["rtcp", "replay", "a", "b"], "replay with two files"),
                       (["rtcp", "frob"], "an unknown subcommand"),
                       (["rtcp", "dump"], "dump without a source"),
                       (["rtcp", "dump", "--pcap", "x", "--listen", ":0"], "two sources"),
                       (["rtcp", "dump", "--pcap", "x", "--count", "0"], "--count 0"),
                       (["rtcp", "dump", "--listen", "nonsense"], "a bad address"),
                       (["rtcp", "dump", "--pcap"], "--pcap without a value"),
                       (["rtcp", "dump", "--frob"], "an unknown option")):
        usage_error(checks, run(braid, args), f"usage: {what}")
    out = run(braid, ["rtcp", "--help"])
    checks.check(out.returncode == 0 and b"replay" in out.stdout and b"dump" in out.stdout,
                 "braid rtcp --help")
    out = run(braid, ["--help"])
    checks.check(b"rtcp" in out.stdout, "braid --help lists rtcp")


# ---- dump ----

SR = (bytes([0x80, 200, 0, 6]) + struct.pack(">IQIII", 0xabcdef01, 0x0102030405060708, 9,
                                               10, 11))
RR_BYE = (bytes([0x80, 201, 0, 1]) + struct.pack(">I", 5) + bytes([0x81, 203, 0, 1]) +
          struct.pack(">I", 5))
RTP = bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"media"
BROKEN = bytes([0x81, 201, 0, 1]) + struct.pack(">I", 5)  # RC=1 but no block


def ipv4_udp(payload, sport=5004, dport=5005, frag=0, src=b"\x0a\x00\x00\x01"):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    return (struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, frag, 64, 17, 0, src,
                        b"\x0a\x00\x00\x02") + udp)


def ipv6_udp(payload, hop_by_hop=False):
    udp = struct.pack(">HHHH", 6000, 6001, 8 + len(payload), 0) + payload
    ext = bytes([17, 0, 1, 4, 0, 0, 0, 0]) if hop_by_hop else b""
    nxt = 0 if hop_by_hop else 17
    return (struct.pack(">IHBB", 0x60000000, len(ext) + len(udp), nxt, 64) +
            socket.inet_pton(socket.AF_INET6, "2001:db8::1") +
            socket.inet_pton(socket.AF_INET6, "2001:db8::2") + ext + udp)


def ethernet(ip, vlan=False, v6=False):
    tag = struct.pack(">HH", 0x8100, 42) if vlan else b""
    frame = b"\x02" * 6 + b"\x04" * 6 + tag + struct.pack(">H", 0x86dd if v6 else 0x0800) + ip
    return frame + b"\x00" * max(0, 60 - len(frame))  # Ethernet padding after the IP packet


def pcap(linktype, frames, big_endian=False, nanos=False, snap=None):
    e = ">" if big_endian else "<"
    magic = 0xa1b23c4d if nanos else 0xa1b2c3d4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        cap = frame if snap is None else frame[:snap]
        frac = 500 * 1000 if nanos else 500
        out += struct.pack(e + "IIII", 1700000000 + i, frac, len(cap), len(frame)) + cap
    return out


def dump_file(braid, work, data, name, extra=()):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    out = run(braid, ["rtcp", "dump", "--pcap", path, *extra])
    lines = [json.loads(line) for line in out.stdout.decode().splitlines()]
    return out, lines


def test_dump_pcap(braid, work, checks):
    framings = [
        ("Ethernet, IPv4", 1, [ethernet(ipv4_udp(SR)), ethernet(ipv4_udp(RTP))], "10.0.0.1:5004"),
        ("Ethernet, VLAN, IPv6", 1, [ethernet(ipv6_udp(SR), vlan=True, v6=True)],
         "[2001:db8::1]:6000"),
        ("raw IPv6 with hop-by-hop", 101, [ipv6_udp(SR, hop_by_hop=True)], "[2001:db8::1]:6000"),
        ("raw IPv4", 101, [ipv4_udp(SR)], "10.0.0.1:5004"),
        ("LINKTYPE_IPV4", 228, [ipv4_udp(SR)], "10.0.0.1:5004"),
        ("Linux cooked", 113, [bytes(14) + b"\x08\x00" + ipv4_udp(SR)], "10.0.0.1:5004"),
        ("Linux cooked v2", 276, [b"\x08\x00" + bytes(18) + ipv4_udp(SR)], "10.0.0.1:5004"),
    ]
    for name, linktype, frames, src in framings:
        for big, nanos in ((False, False), (True, True)):
            out, lines = dump_file(braid, work, pcap(linktype, frames, big, nanos), "f.pcap")
            ok = (out.returncode == 0 and len(lines) == 1 and lines[0]["type"] == "sr" and
                  lines[0]["ssrc"] == 0xabcdef01 and lines[0]["ntp"] == 0x0102030405060708
                  and lines[0]["src"] == src and lines[0]["t_us"] == 1700000000000500)
            checks.check(ok, f"dump {name} ({'big-endian, ns' if big else 'little, us'}): "
                         f"{lines} {out.stderr!r}")

    skipped = [ethernet(ipv4_udp(SR, frag=0x2000)),          # first fragment
               ethernet(ipv4_udp(SR, frag=0x0010)),          # a later fragment
               ethernet(ipv4_udp(SR)),                       # kept
               b"\x01\x02",                                   # runt frame
               ethernet(ipv4_udp(RR_BYE))]                   # kept: two packets
    out, lines = dump_file(braid, work, pcap(1, skipped), "skip.pcap")
    checks.check(out.returncode == 0 and [l["type"] for l in lines] == ["sr", "rr", "bye"],
                 f"fragments and runts skipped: {[l.get('type') for l in lines]}")
    out, lines = dump_file(braid, work, pcap(1, [ethernet(ipv4_udp(SR))], snap=40), "snap.pcap")
    checks.check(out.returncode == 0 and lines == [],
                 "a datagram cut by the snap length is skipped")
    out, lines = dump_file(braid, work, pcap(1, [ethernet(ipv4_udp(BROKEN + SR))]), "bad.pcap")
    checks.check(out.returncode == 0 and len(lines) == 1 and
                 lines[0].get("error") == "malformed field" and lines[0].get("offset") == 0,
                 f"a malformed compound gives one error line: {lines}")
    out, lines = dump_file(braid, work, pcap(1, [ethernet(ipv4_udp(RR_BYE))] * 3), "n.pcap",
                           ["--count", "4"])
    checks.check(out.returncode == 0 and len(lines) == 4, "--count 4 stops after 4 lines")

    good = pcap(1, [ethernet(ipv4_udp(SR))] * 2)
    for name, data, pattern, printed in (
            ("a truncated record", good[:-10], r"truncated \(", 1),
            ("a truncated record header", good + b"\x00" * 7, r"truncated header", 2),
            ("pcapng", b"\x0a\x0d\x0d\x0a" + bytes(40), r"pcapng is not supported", 0),
            ("not a capture", b"hello world, not a pcap file", r"not a pcap file", 0),
            ("a short file", b"\xd4\xc3\xb2\xa1", r"too short", 0),
            ("an unsupported link type", pcap(105, []), r"link type 105", 0),
            ("a huge record", good[:24] + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30),
             r"more than", 0)):
        path = os.path.join(work, "broken.pcap")
        with open(path, "wb") as f:
            f.write(data)
        out = run(braid, ["rtcp", "dump", "--pcap", path])
        usage_error(checks, out, f"dump refuses {name} after {printed} lines",
                    r"braid rtcp: .*broken.pcap: .*" + pattern, printed)
    out = run(braid, ["rtcp", "dump", "--pcap", path + ".absent"])
    usage_error(checks, out, "dump of a missing file", r"braid rtcp: .*No such file")


def test_dump_listen(braid, work, checks):
    procs = bt.Procs(work)
    try:
        with open(os.path.join(work, "listen.out"), "wb") as out:
            p = procs.start("dump", [braid, "rtcp", "dump", "--listen", "127.0.0.1:0",
                                     "--count", "3"], stdout=out)
            m = procs.wait_stderr(p, r"listening on (\S+)")
        port = bt.port_of(m.group(1))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for data in (RTP, RR_BYE, b"\x80\xc9\x00", SR, SR):
            s.sendto(data, ("127.0.0.1", port))
        s.close()
        p.wait(timeout=10)
        lines = bt.json_lines(os.path.join(work, "listen.out"))
        checks.check(p.returncode == 0 and [l.get("type", l.get("error")) for l in lines] ==
                     ["rr", "bye", "datagram shorter than its header says"],
                     f"--listen: RTP skipped, 3 lines then exit: {lines}")
        checks.check(all(l["src"].startswith("127.0.0.1:") for l in lines),
                     "--listen lines name the source")
    finally:
        procs.stop_all()


def main(braid):
    checks = bt.Checks("rtcp_cli")
    with bt.tempdir() as work:
        test_doc_examples(braid, work, checks)
        test_against_model(braid, work, checks)
        test_malformed(braid, work, checks)
        test_usage(braid, checks)
        test_dump_pcap(braid, work, checks)
        test_dump_listen(braid, work, checks)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
