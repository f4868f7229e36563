#!/usr/bin/python3
"""RTCP as braid builds it, checked by Wireshark: tests/tools/rtcp_emit builds SR, RR,
SDES, BYE, APP and Generic NACK packets in three compounds (and an RTP packet after them),
sends them over loopback and prints what it built. tshark captures them on 'lo' (Ethernet
framing) and on 'any' (Linux cooked framing); every field tshark decodes must equal what
was built, and `braid rtcp dump --pcap` must print exactly the built packets from both
captures.

usage: test_rtcp_tshark.py PATH_TO_BRAID PATH_TO_RTCP_EMIT"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

DATAGRAMS = 4  # three RTCP compounds and one RTP packet


def free_udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_capture(procs, work, iface, port):
    path = os.path.join(work, f"{iface}.pcap")
    p = procs.start(f"tshark-{iface}", ["tshark", "-i", iface, "-f", f"udp port {port}",
                                        "-c", str(DATAGRAMS), "-w", path, "-F", "pcap"])
    procs.wait_stderr(p, r"Capturing on", timeout=20)
    return p, path


def leaves(obj, out, key=None):
    """Every leaf field of tshark's JSON, by name, in order of appearance."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            leaves(v, out, k)
    elif isinstance(obj, list):
        for v in obj:
            leaves(v, out, key)
    elif key is not None and obj != "":
        out.setdefault(key, []).append(obj)
    return out


def hex32(v):
    return f"0x{v:08x}"


def expect_blocks(f, blocks, checks, what):
    checks.check(f.get("rtcp.ssrc.identifier", []) == [hex32(b["ssrc"]) for b in blocks],
                 f"{what}: block SSRCs {f.get('rtcp.ssrc.identifier')}")
    for field, key in (("rtcp.ssrc.fraction", "fraction_lost"),
                       ("rtcp.ssrc.cum_nr", "cumulative_lost"),
                       ("rtcp.ssrc.ext_high", "ext_highest_seq"),
                       ("rtcp.ssrc.jitter", "jitter"), ("rtcp.ssrc.lsr", "lsr"),
                       ("rtcp.ssrc.dlsr", "dlsr")):
        want = [str(b[key]) for b in blocks]
        checks.check(f.get(field, []) == want, f"{what}: {field} {f.get(field)} == {want}")


def compare_sr_rr(f, pkt, checks, what):
    blocks = pkt["blocks"]
    checks.check(f["rtcp.rc"] == [str(len(blocks))], f"{what}: rc {f['rtcp.rc']}")
    checks.check(f["rtcp.senderssrc"] == [hex32(pkt["ssrc"])], f"{what}: sender SSRC")
    if pkt["type"] == "sr":
        ntp = pkt["ntp"]
        for field, want in (("rtcp.timestamp.ntp.msw", ntp >> 32),
                            ("rtcp.timestamp.ntp.lsw", ntp & 0xffffffff),
                            ("rtcp.timestamp.rtp", pkt["rtp_ts"]),
                            ("rtcp.sender.packetcount", pkt["packets"]),
                            ("rtcp.sender.octetcount", pkt["octets"])):
            checks.check(f.get(field) == [str(want)], f"{what}: {field} {f.get(field)}")
    expect_blocks(f, blocks, checks, what)


def compare_sdes(f, pkt, checks, what):
    names = {"cname": "1", "name": "2", "email": "3", "phone": "4", "loc": "5",
             "tool": "6", "note": "7", "priv": "8"}
    chunks = pkt["chunks"]
    items = [i for c in chunks for i in c["items"]]
    checks.check(f["rtcp.sc"] == [str(len(chunks))], f"{what}: sc")
    checks.check(f["rtcp.ssrc.identifier"] == [hex32(c["ssrc"]) for c in chunks],
                 f"{what}: chunk SSRCs {f['rtcp.ssrc.identifier']}")
    types = [t for t in f["rtcp.sdes.type"] if t != "0"]  # tshark lists the terminators
    checks.check(types == [names[i["type"]] for i in items], f"{what}: item types {types}")
    checks.check(f["rtcp.sdes.length"] == [str(len(i["text"].encode())) for i in items],
                 f"{what}: item lengths {f['rtcp.sdes.length']}")
    checks.check(f["rtcp.sdes.text"] == [i["text"] for i in items],
                 f"{what}: item texts {f['rtcp.sdes.text']}")


def compare_bye(f, pkt, checks, what):
    checks.check(f["rtcp.sc"] == [str(len(pkt["ssrcs"]))], f"{what}: sc")
    checks.check(f["rtcp.ssrc.identifier"] == [hex32(s) for s in pkt["ssrcs"]],
                 f"{what}: SSRCs {f['rtcp.ssrc.identifier']}")
    checks.check(f.get("rtcp.sdes.text") == [pkt["reason"]], f"{what}: reason")
    checks.check(f.get("rtcp.sdes.length") == [str(len(pkt["reason"]))],
                 f"{what}: reason length")


def compare_app(f, pkt, checks, what):
    data = ":".join(pkt["data"][i:i + 2] for i in range(0, len(pkt["data"]), 2))
    checks.check(f["rtcp.app.subtype"] == [str(pkt["subtype"])], f"{what}: subtype")
    checks.check(f["rtcp.ssrc.identifier"] == [hex32(pkt["ssrc"])], f"{what}: SSRC")
    checks.check(f["rtcp.app.name"] == [pkt["name"]], f"{what}: name {f['rtcp.app.name']}")
    checks.check(f["rtcp.app.data"] == [data], f"{what}: data {f['rtcp.app.data']}")


def compare_nack(f, pkt, checks, what):
    pairs = pkt["pairs"]
    checks.check(f["rtcp.rtpfb.fmt"] == ["1"], f"{what}: FMT 1")
    checks.check(f["rtcp.senderssrc"] == [hex32(pkt["sender_ssrc"])], f"{what}: sender")
    checks.check(f["rtcp.mediassrc"] == [hex32(pkt["media_ssrc"])], f"{what}: media SSRC")
    pids = f["rtcp.rtpfb.nack_pid"]
    # The PIDs first, then the numbers tshark expands from each BLP.
    checks.check(pids[:len(pairs)] == [str(p["pid"]) for p in pairs], f"{what}: PIDs {pids}")
    checks.check(sorted(int(p) for p in pids) == sorted(pkt["lost"]),
                 f"{what}: lost numbers {pids}")
    checks.check([int(b, 16) for b in f["rtcp.rtpfb.nack_blp"]] == [p["blp"] for p in pairs],
                 f"{what}: BLPs {f['rtcp.rtpfb.nack_blp']}")


PT = {"sr": 200, "rr": 201, "sdes": 202, "bye": 203, "app": 204, "nack": 205}
COMPARE = {"sr": compare_sr_rr, "rr": compare_sr_rr, "sdes": compare_sdes,
           "bye": compare_bye, "app": compare_app, "nack": compare_nack}


def check_tshark(pcap, port, built, checks):
    out = subprocess.run(["tshark", "-r", pcap, "-d", f"udp.port=={port},rtcp", "-T", "json",
                          "--no-duplicate-keys"], capture_output=True, text=True, timeout=60)
    checks.check(out.returncode == 0, f"tshark decodes the capture: {out.stderr[-300:]}")
    frames = json.loads(out.stdout) if out.returncode == 0 else []
    checks.check(len(frames) == DATAGRAMS, f"{len(frames)} datagrams captured")
    for d in range(1, 4):
        if len(frames) < d:
            break
        layers = frames[d - 1]["_source"]["layers"]
        checks.check("_ws.malformed" not in layers and "_ws.expert" not in json.dumps(layers),
                     f"datagram {d}: tshark finds nothing malformed")
        rtcp = layers.get("rtcp", [])
        rtcp = rtcp if isinstance(rtcp, list) else [rtcp]
        want = [p for p in built if p["datagram"] == d]
        checks.check(len(rtcp) == len(want), f"datagram {d}: {len(rtcp)} RTCP packets")
        for pkt, layer in zip(want, rtcp):
            f = leaves(layer, {})
            what = f"datagram {d} {pkt['type']}"
            checks.check(f["rtcp.version"] == ["2"] and f["rtcp.padding"] == ["0"],
                         f"{what}: version 2, no padding")
            checks.check(f["rtcp.pt"] == [str(PT[pkt["type"]])], f"{what}: pt {f['rtcp.pt']}")
            COMPARE[pkt["type"]](f, pkt, checks, what)


def check_dump(braid, pcap, port, built, checks, what):
    out = subprocess.run([braid, "rtcp", "dump", "--pcap", pcap], capture_output=True,
                         text=True, timeout=30)
    checks.check(out.returncode == 0 and out.stderr == "",
                 f"{what}: dump exits 0 quietly ({out.returncode}, {out.stderr!r})")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    got = []
    for line in lines:
        ok = line.pop("dst") == f"127.0.0.1:{port}" and line.pop("src").startswith("127.0.0.1:")
        checks.check(ok and line.pop("t_us") > 0, f"{what}: addresses and time of {line}")
        got.append(line)
    want = [{k: v for k, v in p.items() if k != "datagram"} for p in built]
    checks.check(got == want, f"{what}: dump prints exactly the built packets, RTP skipped")


def main(braid, emit):
    checks = bt.Checks("rtcp_tshark")
    with bt.tempdir() as work:
        procs = bt.Procs(work)
        try:
            port = free_udp_port()
            lo, lo_pcap = start_capture(procs, work, "lo", port)
            anyif, any_pcap = start_capture(procs, work, "any", port)
            time.sleep(0.3)
            sent = subprocess.run([emit, f"127.0.0.1:{port}"], capture_output=True, text=True,
                                  timeout=30)
            checks.check(sent.returncode == 0, f"rtcp_emit sent: {sent.stderr}")
            built = [json.loads(line) for line in sent.stdout.splitlines()]
            checks.check([p["type"] for p in built] ==
                         ["sr", "sdes", "rr", "sdes", "bye", "rr", "nack", "app"],
                         "rtcp_emit built SR+SDES, RR+SDES+BYE, RR+NACK+APP")
            for p in (lo, anyif):
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
                last = procs.stderr(p).strip().splitlines()[-1:]
                checks.check(p.returncode == 0, f"{p.braid_name} captured {DATAGRAMS} "
                             f"datagrams: {last}")
            check_tshark(lo_pcap, port, built, checks)
            check_dump(braid, lo_pcap, port, built, checks, "lo (Ethernet)")
            check_dump(braid, any_pcap, port, built, checks, "any (Linux cooked)")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])))
