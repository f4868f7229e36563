#!/usr/bin/python3
"""braid recv's outputs keep what they hold and never mix two streams:
- a file output is appended to: a receiver killed with SIGKILL mid-stream and started
  again keeps every byte it wrote, and the new stream's bytes follow them;
- file://DIR/cam-{session}.ts gives each of two concurrent sessions its own file, each
  byte-identical to its own input;
- a second session on a single output (one file) is refused, said and counted, and the
  first session's output stays byte-identical to its input;
- when the session holding a single output goes silent (its sender killed), a new session
  takes the output over: the first stream's head, then the second's tail, never mixed."""

import glob
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

CHUNK = bt.TS_CHUNK
BITRATE = 4_000_000
LATENCY = ["--latency", "100ms"]  # the other end says "100": the same duration
LINKS = ["name=a,addr=127.0.0.1", "name=b,addr=127.0.0.2"]


def make_stream(tag, chunks):
    """Datagrams that say which stream and which position they are: a tag byte, the index,
    then filler that differs per stream."""
    out = bytearray()
    for i in range(chunks):
        head = bytes([tag]) + i.to_bytes(4, "big")
        out += head + bytes(((i + j) * tag) % 256 for j in range(CHUNK - len(head)))
    return bytes(out)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def chunks_of(data):
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def start_send(procs, braid, work, name, recv_port):
    stats = os.path.join(work, f"{name}.json")
    argv = [braid, "send", "--input", "udp://127.0.0.1:0", "--to", f"127.0.0.1:{recv_port}",
            "--latency", "100", "--stats", stats]
    for link in LINKS:
        argv += ["--link", link]
    p = procs.start(name, argv)
    p.port = bt.port_of(procs.wait_stderr(p, r"input on (\S+),").group(1))
    return p


def restart_appends(braid, checks):
    with bt.tempdir() as work:
        first, second = make_stream(1, 600), make_stream(2, 300)
        src1, src2 = os.path.join(work, "first.ts"), os.path.join(work, "second.ts")
        write(src1, first)
        write(src2, second)
        out = os.path.join(work, "rec.ts")
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=LATENCY)
            send = start_send(procs, braid, work, "send1", recv.port)
            time.sleep(0.3)
            killed = {}

            def crash(fraction):
                if not killed and fraction >= 0.5:
                    recv.send_signal(signal.SIGKILL)
                    recv.wait()
                    killed["at"] = fraction

            bt.pace_file(src1, send.port, BITRATE, on_progress=crash)
            procs.stop(send)
            before = read(out)
            checks.check(len(before) > 0 and before == first[:len(before)]
                         and len(before) % CHUNK == 0,
                         f"restart: {len(before)} B in order before the SIGKILL")

            recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=LATENCY)
            checks.check(os.path.getsize(out) == len(before),
                         "restart: a restarted receiver leaves the recording as it was")
            send = start_send(procs, braid, work, "send2", recv.port)
            time.sleep(0.3)
            bt.pace_file(src2, send.port, BITRATE)
            time.sleep(0.6)
            procs.stop(send)
            checks.check(procs.stop(recv) == 0, "restart: braid recv exits cleanly")
            after = read(out)
            checks.check(after[:len(before)] == before,
                         f"restart: every byte written before the crash kept "
                         f"({len(after)} B now, {len(before)} before)")
            checks.check(after[len(before):] == second,
                         f"restart: the new stream follows, byte-identical "
                         f"({len(after) - len(before)} of {len(second)} B)")
        finally:
            procs.stop_all()


def pace_together(streams):
    """Paces (path, port) pairs at once, each in its own thread."""
    threads = [threading.Thread(target=bt.pace_file, args=(path, port, BITRATE))
               for path, port in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def templated_files(braid, checks):
    with bt.tempdir() as work:
        inputs = {1: make_stream(1, 500), 2: make_stream(2, 500)}
        paths = {}
        for tag, data in inputs.items():
            paths[tag] = os.path.join(work, f"in{tag}.ts")
            write(paths[tag], data)
        rec = os.path.join(work, "rec")
        os.mkdir(rec)
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{rec}/cam-{{session}}.ts",
                                 extra=LATENCY)
            senders = [start_send(procs, braid, work, f"send{tag}", recv.port)
                       for tag in inputs]
            time.sleep(0.3)
            pace_together([(paths[tag], s.port) for tag, s in zip(inputs, senders)])
            time.sleep(0.6)
            for s in senders:
                procs.stop(s)
            checks.check(procs.stop(recv) == 0, "template: braid recv exits cleanly")
            files = sorted(glob.glob(os.path.join(rec, "*")))
            names_ok = all(re.fullmatch(r"cam-[0-9a-f]{8}\.ts", os.path.basename(f))
                           for f in files)
            checks.check(len(files) == 2 and names_ok,
                         f"template: one file per session: {[os.path.basename(f) for f in files]}")
            got = sorted(read(f) for f in files)
            checks.check(got == sorted(inputs.values()),
                         "template: each file byte-identical to its own session's input "
                         f"({[len(g) for g in got]} B)")
        finally:
            procs.stop_all()


def single_output_refuses(braid, checks):
    with bt.tempdir() as work:
        first, second = make_stream(1, 700), make_stream(2, 200)
        src1, src2 = os.path.join(work, "first.ts"), os.path.join(work, "second.ts")
        write(src1, first)
        write(src2, second)
        out = os.path.join(work, "rec.ts")
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=LATENCY)
            send1 = start_send(procs, braid, work, "send1", recv.port)
            time.sleep(0.3)
            pacer = threading.Thread(target=bt.pace_file, args=(src1, send1.port, BITRATE))
            pacer.start()
            time.sleep(0.4)  # the first session holds the output
            send2 = start_send(procs, braid, work, "send2", recv.port)
            time.sleep(0.2)
            bt.pace_file(src2, send2.port, BITRATE)
            time.sleep(0.3)
            procs.stop(send2)  # it ends while the first still streams
            pacer.join()
            time.sleep(0.6)
            procs.stop(send1)
            checks.check(procs.stop(recv) == 0, "single: braid recv exits cleanly")
            got = read(out)
            checks.check(got == first, f"single: the first session's output byte-identical "
                                       f"({len(got)} of {len(first)} B)")
            refused = bt.events(recv.stats_path, "output_refused")
            final = bt.final_stats(recv.stats_path) or {}
            count = final.get("totals", {}).get("output", {}).get("refused", 0)
            checks.check(len(refused) == 1 and count >= len(chunks_of(second)) // 2,
                         f"single: the second session refused once ({len(refused)} event), "
                         f"{count} datagrams counted")
            said = re.findall(r"session ([0-9a-f]{8}) refused", procs.stderr(recv))
            checks.check(len(said) == 1 and refused and said[0] == refused[0]["session"],
                         f"single: one line on stderr names the refused session {said}")
        finally:
            procs.stop_all()


def silent_holder_hands_over(braid, checks):
    with bt.tempdir() as work:
        first, second = make_stream(1, 400), make_stream(2, 800)
        src1, src2 = os.path.join(work, "first.ts"), os.path.join(work, "second.ts")
        write(src1, first)
        write(src2, second)
        out = os.path.join(work, "rec.ts")
        procs = bt.Procs(work)
        try:
            recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=LATENCY)
            send1 = start_send(procs, braid, work, "send1", recv.port)
            time.sleep(0.3)
            bt.pace_file(src1, send1.port, BITRATE)
            send1.send_signal(signal.SIGKILL)  # no goodbye: its session lingers
            send1.wait()
            send2 = start_send(procs, braid, work, "send2", recv.port)
            time.sleep(0.2)
            bt.pace_file(src2, send2.port, BITRATE // 2)  # about 4 s
            time.sleep(0.6)
            procs.stop(send2)
            checks.check(procs.stop(recv) == 0, "handover: braid recv exits cleanly")
            got = chunks_of(read(out))
            tags = [c[0] for c in got]
            n1 = tags.count(1)
            checks.check(n1 > 0 and tags == [1] * n1 + [2] * (len(tags) - n1),
                         f"handover: {n1} datagrams of the first stream, then "
                         f"{len(tags) - n1} of the second, never mixed")
            tail = b"".join(got[n1:])
            checks.check(got[:n1] == chunks_of(first)[:n1] and len(tail) > 0
                         and second.endswith(tail) and len(tail) < len(second),
                         "handover: the first stream's head, the second's tail, both intact")
            checks.check(len(bt.events(recv.stats_path, "output_taken")) == 1,
                         "handover: one output_taken event")
        finally:
            procs.stop_all()


def main(braid):
    checks = bt.Checks("output")
    for test in (restart_appends, templated_files, single_output_refuses,
                 silent_holder_hands_over):
        print(f"-- {test.__name__}", flush=True)
        test(braid, checks)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
