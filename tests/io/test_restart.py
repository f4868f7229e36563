#!/usr/bin/python3
"""A gateway restarted mid-stream: `braid recv --output file://` is killed with SIGKILL and
started again on the same port while `braid send` keeps streaming, keyed and unkeyed.

- the recording keeps every byte written before the kill, and only grows;
- the sender notices within a few hundred ms (its links go down) and comes back to the new
  instance (its links up again);
- the datagrams missing from the recording (computed from the input: each datagram says
  its index) are at most what the sender no longer held when it could send again: the
  old instance had released everything pushed more than one budget before the kill, and
  the sender still holds everything pushed less than one budget before its resend (when
  the last link is usable again), so the gap is the time from the kill to that resend,
  plus a margin for what its links could no longer deliver before its release time;
- the losses lie within one span, and what follows is the input, in order, to the end
  (docs/protocol.md, Receiver restart)."""

import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

CHUNK = bt.TS_CHUNK
BITRATE = 2_000_000
DATAGRAMS = 1000                  # about 5.3 s at BITRATE
LATENCY_MS = 1000
DOWNTIME_S = 0.3
KILL_AT = 0.4                     # of the stream
DETECT_MAX_MS = 500               # "a few hundred ms"
# what cannot arrive before its release time although held: a link's queue and transit
# and the sender's arrival tolerance, about two probe intervals on loopback
DELIVERY_MARGIN_MS = 100
LINKS = ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3"]
INTERVAL_MS = CHUNK * 8 / BITRATE * 1000


def make_stream():
    out = bytearray()
    for i in range(DATAGRAMS):
        head = i.to_bytes(4, "big")
        out += head + bytes((i * 7 + j) % 251 for j in range(CHUNK - len(head)))
    return bytes(out)


def start_recv(procs, braid, work, name, listen, out, extra):
    stats = os.path.join(work, f"{name}.json")
    p = procs.start(name, [braid, "recv", "--listen", listen, "--output", f"file://{out}",
                           "--stats", stats, "--stats-interval", "200", *extra])
    p.port = bt.port_of(procs.wait_stderr(p, r"listening on (\S+),").group(1))
    p.stats_path = stats
    return p


def restart(braid, work, label, extra, c):
    data = make_stream()
    src = os.path.join(work, f"in-{label}.ts")
    out = os.path.join(work, f"rec-{label}.ts")
    with open(src, "wb") as f:
        f.write(data)
    procs = bt.Procs(work)
    try:
        recv = start_recv(procs, braid, work, f"recv1-{label}", "127.0.0.1:0", out, extra)
        send = bt.start_send(procs, braid, work, recv.port, LINKS, extra=extra)
        time.sleep(0.3)
        crash = {}

        def kill_and_restart():
            crash["killed_at"] = time.monotonic()
            recv.send_signal(signal.SIGKILL)
            recv.wait()
            crash["before"] = os.path.getsize(out)
            with open(out, "rb") as f:
                crash["before_bytes"] = f.read()
            time.sleep(DOWNTIME_S)
            crash["recv"] = start_recv(procs, braid, work, f"recv2-{label}",
                                       f"127.0.0.1:{recv.port}", out, extra)
            crash["started_at"] = time.monotonic()
            crash["size_at_restart"] = os.path.getsize(out)

        state = {}

        def progress(fraction):
            if "thread" not in state and fraction >= KILL_AT:
                state["thread"] = threading.Thread(target=kill_and_restart)
                state["thread"].start()

        bt.pace_file(src, send.port, BITRATE, on_progress=progress)
        state["thread"].join()
        time.sleep(LATENCY_MS / 1000 + 0.6)
        c.check(procs.stop(send) == 0, f"{label}: braid send kept running and exits cleanly")
        c.check(procs.stop(crash["recv"]) == 0, f"{label}: the new braid recv exits cleanly")
        with open(out, "rb") as f:
            after = f.read()
        before = crash["before_bytes"]
        c.check(len(before) > 0 and len(before) % CHUNK == 0 and data.startswith(before),
                f"{label}: {len(before)} B in order before the SIGKILL")
        c.check(crash["size_at_restart"] == len(before) and after.startswith(before),
                f"{label}: every byte written before the kill kept, the file only grew "
                f"({len(before)} B, then {len(after)} B)")

        events = bt.events(send.stats_path, "link_state")
        downs = [e["clock_us"] / 1e6 for e in events if e["to"] == "down"
                 and e["clock_us"] / 1e6 > crash["killed_at"]]
        ups = [e["clock_us"] / 1e6 for e in events if e["to"] in ("healthy", "degraded")
               and e["clock_us"] / 1e6 > crash["started_at"]]
        detect_ms = (min(downs) - crash["killed_at"]) * 1000 if downs else float("inf")
        back_ms = (min(ups) - crash["started_at"]) * 1000 if ups else float("inf")
        # every link usable again: the sender resends what it holds (or a probe interval
        # after the first, whichever is sooner)
        links_up = {}
        for e in events:
            t = e["clock_us"] / 1e6
            if e["to"] in ("healthy", "degraded") and t > crash["started_at"]:
                links_up.setdefault(e["link"], t)
        resend_at = max(links_up.values()) if len(links_up) == len(LINKS) else float("inf")
        resend_at = min(resend_at, min(ups) + 0.05) if ups else resend_at
        c.check(detect_ms <= DETECT_MAX_MS,
                f"{label}: the sender saw its links go down {detect_ms:.0f} ms after the kill")
        c.check(back_ms <= DETECT_MAX_MS,
                f"{label}: and up again {back_ms:.0f} ms after the new receiver started")

        chunks = [after[i:i + CHUNK] for i in range(0, len(after), CHUNK)]
        index = [int.from_bytes(ch[:4], "big") for ch in chunks]
        intact = all(ch == data[i * CHUNK:(i + 1) * CHUNK] for i, ch in zip(index, chunks))
        c.check(intact and index == sorted(set(index)),
                f"{label}: every datagram in the recording intact, in order, once")
        missing = sorted(set(range(DATAGRAMS)) - set(index))
        gap_ms = len(missing) * INTERVAL_MS
        downtime_ms = (crash["started_at"] - crash["killed_at"]) * 1000
        unheld_ms = (resend_at - crash["killed_at"]) * 1000
        bound_ms = unheld_ms + DELIVERY_MARGIN_MS
        span = f"{missing[0]}..{missing[-1]}" if missing else "none"
        print(f"figure: {label}: {len(missing)} datagrams missing ({span}): {gap_ms:.0f} ms "
              f"of stream; receiver down {downtime_ms:.0f} ms, detection {detect_ms:.0f} ms, "
              f"latency {LATENCY_MS} ms; sender back {back_ms:.0f} ms after the restart, "
              f"resending {unheld_ms:.0f} ms after the kill", flush=True)
        c.check(gap_ms <= bound_ms,
                f"{label}: the gap ({gap_ms:.0f} ms) within what the sender no longer held "
                f"at its resend ({unheld_ms:.0f} ms) + {DELIVERY_MARGIN_MS} ms")
        span_ms = (missing[-1] - missing[0] + 1) * INTERVAL_MS if missing else 0
        c.check(span_ms <= bound_ms and index and index[-1] == DATAGRAMS - 1,
                f"{label}: the losses within one span of {span_ms:.0f} ms, and the stream "
                f"to its end after it")
        stats = bt.final_stats(send.stats_path) or {}
        resent = stats.get("totals", {}).get("resent", {}).get("failover", 0)
        print(f"figure: {label}: sender resent {resent} datagrams (failover and restart)",
              flush=True)
    finally:
        procs.stop_all()


def main(braid):
    c = bt.Checks("restart")
    with bt.tempdir() as work:
        key = os.path.join(work, "psk")
        with open(key, "w") as f:
            f.write("restart me\n")
        for label, extra in (("keyed", ["--psk", key]), ("unkeyed", [])):
            print(f"-- {label}", flush=True)
            restart(braid, work, label, extra, c)
    return c.finish()


if __name__ == "__main__":
    bt.main_guard(main)
