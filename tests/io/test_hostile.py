#!/usr/bin/python3
"""Hostile input: while a keyed stream flows from `braid send` to `braid recv`, 100 000
random and mutated datagrams hit the receiver's port. None may crash it or reach the
output (byte-identical to the input), every one must be counted as dropped, and not one
byte may come back to the socket they came from (silence to strangers)."""

import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

HOSTILE = 100_000
CUT_EVERY = 100   # one hostile datagram in 100 is larger than any braid datagram
CUT_SIZE = 9000


def session_id(stats_path, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in bt.json_lines(stats_path):
            if line.get("sessions"):
                return int(line["sessions"][0]["session"], 16)
        time.sleep(0.05)
    raise RuntimeError("no session appeared in the receiver's stats")


def hostile_datagrams(rng, sid):
    """Half random bytes of every size, half well-formed-looking version-2 braid packets for
    the live session (every type, flag combination, link id and length, the sizes of plain,
    MAC'd and sealed bodies; forged MACs and tags)."""
    for i in range(HOSTILE):
        if i % CUT_EVERY == CUT_EVERY // 2:
            # longer than the receiver's buffer: the kernel cuts it; counted as truncated
            yield struct.pack(">BBHI", 0x10, 0, 0, sid) + bytes(CUT_SIZE)
            continue
        if i % 2 == 0:
            yield bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 7, 8, 15, 16, 17,
                                                                       rng.randrange(0, 1600)))))
            continue
        ptype = rng.randrange(0, 16)
        flags = rng.choice((0, 1, 2, 3, rng.randrange(256)))
        header = struct.pack(">BBHI", 0x20 | ptype, flags, rng.randrange(0, 4), sid)
        size = rng.choice((0, 8, 16, 24, 40, 48, 57, 69, 73, 100, 108, rng.randrange(0, 1400)))
        body = bytes(rng.getrandbits(8) for _ in range(size))
        yield header + body


def blast(port, sid, sent, answers, stop):
    rng = random.Random(1234)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    for d in hostile_datagrams(rng, sid):
        if stop.is_set():
            break
        s.sendto(d, ("127.0.0.1", port))
        sent[0] += 1
        if sent[0] % 200 == 0:
            time.sleep(0.002)  # spread over the stream, do not just fill the socket buffer
            answers[0] += drain_answers(s)
    time.sleep(0.5)  # anything the receiver sent back has arrived by now
    answers[0] += drain_answers(s)
    s.close()


def drain_answers(s):
    """Datagrams waiting on the hostile socket: what the receiver said to a stranger."""
    n = 0
    while True:
        try:
            s.recv(65536)
        except BlockingIOError:
            return n
        n += 1


def main(braid):
    checks = bt.Checks("hostile")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        out = os.path.join(work, "out.ts")
        key = os.path.join(work, "psk")
        with open(key, "w") as f:
            f.write("correct horse battery staple\n")
        bitrate = bt.make_ts(ts, seconds=10, video_kbit=5000)
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=["--psk", key])
            links = ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3", "name=c,addr=127.0.0.4"]
            send = bt.start_send(procs, braid, work, recv.port, links, extra=["--psk", key])
            sent = [0]
            answers = [0]
            stop = threading.Event()
            state = {}

            def progress(fraction):
                if "thread" not in state and fraction > 0.05:
                    sid = session_id(recv.stats_path)
                    state["thread"] = threading.Thread(target=blast,
                                                       args=(recv.port, sid, sent, answers,
                                                             stop))
                    state["thread"].start()

            bt.pace_file(ts, send.port, bitrate, on_progress=progress)
            state["thread"].join()
            time.sleep(0.6)  # two stats intervals: the counts now include every datagram sent
            live = [l for l in bt.json_lines(recv.stats_path) if "totals" in l]
            dropped_live = sum(live[-1]["totals"]["dropped"].values()) if live else -1
            truncated_live = live[-1]["totals"]["dropped"].get("truncated", -1) if live else -1
            time.sleep(1.1)
            checks.check(recv.poll() is None, "braid recv survived the hostile datagrams")
            checks.check(procs.stop(send) == 0, "braid send exits cleanly")
            checks.check(procs.stop(recv) == 0, "braid recv exits cleanly")
            checks.check(sent[0] == HOSTILE, f"{sent[0]} hostile datagrams sent")
            checks.check(answers[0] == 0,
                         f"nothing sent back to the hostile source: {answers[0]} datagrams")
            checks.check(bt.files_identical(ts, out), "output byte-identical despite them")
            rs = bt.final_stats(recv.stats_path)
            print(f"figure: dropped by reason: {rs['totals']['dropped'] if rs else None}")
            # counted while the session was still up: after the sender's goodbye, its last
            # probes in flight are rightly dropped as belonging to no session
            checks.check(dropped_live == HOSTILE,
                         f"every hostile datagram counted as dropped: {dropped_live} of {HOSTILE}")
            checks.check(truncated_live == HOSTILE // CUT_EVERY,
                         f"datagrams cut by the receive buffer counted as truncated: "
                         f"{truncated_live} of {HOSTILE // CUT_EVERY}")
            checks.check(rs is not None and rs["totals"]["lost"] == 0 and
                         rs["totals"]["in"] > HOSTILE, "stream itself lost nothing")
        finally:
            procs.stop_all()
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
