#!/usr/bin/python3
"""A gateway on the public Internet under a HELLO flood, while a real stream runs through it.

1. keyed: 1 000 000 forged HELLOs (random session ids and ephemeral keys, a MAC under a
   wrong key) from 256 source ports, 80 000 a second, hit `braid recv --psk` while `braid send --psk` streams
   an ffmpeg MPEG-TS over three links (from 127.0.0.2-4). The receiver's peak RSS must not
   grow, its CPU per million HELLOs is reported, every forged HELLO that reached its socket
   is counted (auth or rate_limited), nothing goes back to the flood, and the stream's
   output is byte-identical.
2. unkeyed: the same flood of plain HELLOs (wrong cookies) against an unkeyed receiver: the
   flood gets nothing but COOKIEs, within the COOKIE budget and never more bytes than it
   sent; the stream byte-identical.
3. the keyless session-table lockout: an attacker at 127.0.0.1 that answers COOKIEs like a
   real sender tries to open 64 sessions; it gets its address's share and no more (the rest
   counted source_full), and a genuine `braid send` from 127.0.0.2 and 127.0.0.3 started
   during the attack gets its stream through byte-identical."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

FLOOD = 1_000_000
FLOOD_SOCKETS = 256
# HELLOs a second. Unpaced, the flooder outruns the receiver on a small shared machine: the
# kernel then drops datagrams at the full socket, the stream's with the flood's, faster than
# NACKs repair them. 80 000 a second is a flood far past any rate limit that still leaves
# the receiver's socket room.
FLOOD_RATE = 80_000
LOCKOUT_SESSIONS = 64
SESSIONS_PER_SOURCE = 8        # the receiver's cap (docs/protocol.md, Strangers)
COOKIES_PER_SECOND = 2000      # the shared COOKIE budget: this rate,
COOKIE_BURST_S = 2             # bursts of this many seconds
RSS_GROWTH_MAX_MB = 4.0        # the gate's tables are fixed: a flood must not grow the heap
CPU_PER_MILLION_MAX_S = 10.0   # 10 µs per forged HELLO would make a cheap DoS
LEGIT_LINKS = ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3", "name=c,addr=127.0.0.4"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def kernel_drops(port):
    """Datagrams the kernel dropped for the UDP socket bound to this port (full buffer)."""
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == port:
                return int(cols[-1])
    return 0


def run_tool(procs, work, name, argv, timeout=60):
    """Runs the flooder to its end (by PID, like every process here); its JSON line."""
    out_path = os.path.join(work, f"{name}.out")
    with open(out_path, "wb") as out:
        p = procs.start(name, argv, stdout=out)
    p.wait(timeout=timeout)
    with open(out_path) as f:
        text = f.read()
    if p.returncode != 0 or not text.strip():
        raise RuntimeError(f"{name} failed ({p.returncode}): {procs.stderr(p)}")
    return json.loads(text)


def drops(stats_path):
    live = [line for line in bt.json_lines(stats_path) if "totals" in line]
    return live[-1]["totals"]["dropped"] if live else {}


def stream_with(braid, work, ts, bitrate, label, recv_extra, send_extra, links, attack,
                start_at=0.05):
    """Streams ts through recv and send; attack(recv) runs in a thread once the stream is
    under way. Returns (identical, recv, attack's result)."""
    procs = bt.Procs(work)
    out = os.path.join(work, f"out-{label}.ts")
    result = {}
    try:
        recv = bt.start_recv(procs, braid, work, f"file://{out}", extra=recv_extra)
        send = bt.start_send(procs, braid, work, recv.port, links, extra=send_extra)
        time.sleep(0.3)
        state = {}

        def progress(fraction):
            if "thread" not in state and fraction >= start_at:
                state["thread"] = threading.Thread(
                    target=lambda: result.update(attack(procs, recv)))
                state["thread"].start()

        procs.streamed = False
        bt.pace_file(ts, send.port, bitrate, on_progress=progress)
        procs.streamed = True
        state["thread"].join()
        time.sleep(1.6)  # the latency budget: the last packets are released
        result["send_rc"] = procs.stop(send)
        result["recv_alive"] = recv.poll() is None
        result["recv_rc"] = procs.stop(recv)
        result["stats"] = bt.final_stats(recv.stats_path)
        result["send_stats"] = bt.final_stats(send.stats_path)
        identical = bt.files_identical(ts, out)
        result["out_bytes"] = os.path.getsize(out) if os.path.exists(out) else 0
        return identical, result
    finally:
        procs.stop_all()


def flood_attack(braid_tools, work, keyed):
    hello_flood = braid_tools

    def attack(procs, recv):
        rss0, cpu0 = peak_rss_mb(recv.pid), cpu_seconds(recv.pid)
        kdrops0 = kernel_drops(recv.port)
        before = drops(recv.stats_path)
        flood = run_tool(procs, work, f"flood-{'keyed' if keyed else 'plain'}",
                         [hello_flood, "flood", f"127.0.0.1:{recv.port}", str(FLOOD),
                          str(FLOOD_SOCKETS), "keyed" if keyed else "plain",
                          str(FLOOD_RATE)])
        cpu1, rss1 = cpu_seconds(recv.pid), peak_rss_mb(recv.pid)
        during = not procs.streamed
        time.sleep(0.5)  # two stats intervals: the counts include the last HELLOs
        return {"flood": flood, "rss": (rss0, rss1), "cpu": cpu1 - cpu0, "during_stream": during,
                "kernel_drops": kernel_drops(recv.port) - kdrops0, "before": before,
                "after": drops(recv.stats_path)}
    return attack


def counted(res, reasons):
    return sum(res["after"].get(k, 0) - res["before"].get(k, 0) for k in reasons)


def check_common(c, label, identical, res):
    c.check(res["recv_alive"] and res["recv_rc"] == 0, f"{label}: braid recv survived and "
                                                       "exits cleanly")
    c.check(res["send_rc"] == 0, f"{label}: braid send exits cleanly")
    c.check(identical, f"{label}: the stream's output byte-identical ({res['out_bytes']} B)")
    rt = res["stats"]["totals"] if res["stats"] else {}
    st = (res["send_stats"] or {}).get("totals", {})
    print(f"figure: {label}: receiver lost {rt.get('lost')}, retransmitted "
          f"{rt.get('retransmitted')}; sender {json.dumps({k: v for k, v in st.items() if 'resen' in k or 'nack' in k or k in ('expired', 'undeliverable', 'failovers')})}",
          flush=True)
    c.check(rt.get("lost") == 0, f"{label}: the stream lost nothing ({rt.get('lost')})")


def check_flood(c, label, res, reasons):
    flood = res["flood"]
    rss0, rss1 = res["rss"]
    per_million = res["cpu"] / (flood["sent"] / 1e6)
    print(f"figure: {label}: {flood['sent']} HELLOs in {flood['seconds']:.1f} s; receiver "
          f"peak RSS {rss0:.1f} MB before, {rss1:.1f} MB after; CPU {res['cpu']:.2f} s "
          f"({per_million:.2f} s per million HELLOs); kernel dropped "
          f"{res['kernel_drops']}; counted {counted(res, reasons)} as {reasons}; "
          f"{flood['received']} datagrams ({flood['received_bytes']} B) came back, "
          f"{flood['cookies']} COOKIEs", flush=True)
    c.check(flood["sent"] == FLOOD and flood["send_errors"] == 0,
            f"{label}: {flood['sent']} forged HELLOs sent from {FLOOD_SOCKETS} ports")
    c.check(res["during_stream"],
            f"{label}: the flood ended while the stream still ran")
    c.check(rss1 - rss0 <= RSS_GROWTH_MAX_MB,
            f"{label}: peak RSS grew by {rss1 - rss0:.2f} MB (at most {RSS_GROWTH_MAX_MB})")
    c.check(per_million <= CPU_PER_MILLION_MAX_S,
            f"{label}: {per_million:.2f} s of CPU per million HELLOs "
            f"(at most {CPU_PER_MILLION_MAX_S})")
    n = counted(res, reasons)
    reached = flood["sent"] - res["kernel_drops"]
    c.check(reached <= n <= flood["sent"],
            f"{label}: every forged HELLO that reached the socket counted: {n} "
            f"(sent {flood['sent']}, {res['kernel_drops']} dropped by the kernel)")
    c.check(flood["hello_acks"] == 0, f"{label}: no forged HELLO answered with a HELLO_ACK")


def keyed_flood(braid, hello_flood, work, ts, bitrate, c):
    key = os.path.join(work, "psk")
    with open(key, "w") as f:
        f.write("a gateway on the public internet\n")
    psk = ["--psk", key]
    identical, res = stream_with(braid, work, ts, bitrate, "keyed", psk, psk, LEGIT_LINKS,
                                 flood_attack(hello_flood, work, True))
    check_common(c, "keyed", identical, res)
    check_flood(c, "keyed", res, ("auth", "rate_limited"))
    c.check(res["flood"]["received"] == 0,
            f"keyed: not one byte back to the flood ({res['flood']['received_bytes']} B)")
    c.check(counted(res, ("rate_limited",)) > 0 and counted(res, ("auth",)) > 0,
            "keyed: both the source's rate and the MAC stopped some")


def unkeyed_flood(braid, hello_flood, work, ts, bitrate, c):
    identical, res = stream_with(braid, work, ts, bitrate, "unkeyed", [], [], LEGIT_LINKS,
                                 flood_attack(hello_flood, work, False))
    check_common(c, "unkeyed", identical, res)
    check_flood(c, "unkeyed", res, ("rate_limited", "unproven"))
    flood = res["flood"]
    # The budget over the flood and its settling time, plus one burst.
    budget = COOKIES_PER_SECOND * (flood["seconds"] + 1.0 + COOKIE_BURST_S)
    c.check(flood["received"] == flood["cookies"],
            f"unkeyed: the flood got only COOKIEs ({flood['cookies']} of {flood['received']})")
    c.check(0 < flood["cookies"] <= budget,
            f"unkeyed: {flood['cookies']} COOKIEs, within the budget ({budget:.0f})")
    c.check(flood["received_bytes"] <= flood["sent_bytes"],
            f"unkeyed: {flood['received_bytes']} B back for {flood['sent_bytes']} B sent")


def lockout(braid, hello_flood, work, ts, bitrate, c):
    procs = bt.Procs(work)
    out = os.path.join(work, "out-lockout.ts")
    try:
        recv = bt.start_recv(procs, braid, work, f"file://{out}")
        result = {}
        attacker = threading.Thread(target=lambda: result.update(
            run_tool(procs, work, "lockout", [hello_flood, "lockout",
                                              f"127.0.0.1:{recv.port}",
                                              str(LOCKOUT_SESSIONS)])))
        attacker.start()
        time.sleep(0.4)  # its first sessions are open; the rest are still being tried
        send = bt.start_send(procs, braid, work, recv.port,
                             ["name=a,addr=127.0.0.2", "name=b,addr=127.0.0.3"])
        time.sleep(0.3)
        bt.pace_file(ts, send.port, bitrate)
        attacker.join()
        time.sleep(1.6)
        live = [line for line in bt.json_lines(recv.stats_path) if "sessions" in line]
        sessions = len(live[-1]["sessions"]) if live else -1
        refused = drops(recv.stats_path).get("source_full", 0)
        c.check(procs.stop(send) == 0, "lockout: braid send exits cleanly")
        c.check(procs.stop(recv) == 0, "lockout: braid recv exits cleanly")
        print(f"figure: lockout: the attacker opened {result.get('opened')} of "
              f"{LOCKOUT_SESSIONS} sessions, {result.get('cookies')} COOKIEs; HELLOs refused "
              f"as source_full: {refused}; sessions at the receiver: {sessions}", flush=True)
        c.check(result.get("opened") == SESSIONS_PER_SOURCE,
                f"lockout: the attacker's address got its share, {result.get('opened')} "
                f"sessions of {LOCKOUT_SESSIONS} tried")
        c.check(refused >= LOCKOUT_SESSIONS - SESSIONS_PER_SOURCE,
                f"lockout: the others refused as source_full ({refused} HELLOs)")
        c.check(sessions == SESSIONS_PER_SOURCE + 1,
                f"lockout: the genuine sender's session held beside them ({sessions} in all)")
        c.check(bt.files_identical(ts, out),
                f"lockout: the genuine stream byte-identical ({os.path.getsize(out)} B)")
    finally:
        procs.stop_all()


def main(braid):
    if len(sys.argv) < 3:
        print("usage: test_flood.py BRAID HELLO_FLOOD", file=sys.stderr)
        return 2
    hello_flood = os.path.abspath(sys.argv[2])
    c = bt.Checks("flood")
    with bt.tempdir() as work:
        ts = os.path.join(work, "in.ts")
        bitrate = bt.make_ts(ts, seconds=14, video_kbit=3000)
        short = os.path.join(work, "short.ts")
        with open(ts, "rb") as f, open(short, "wb") as g:
            g.write(f.read()[:bt.TS_CHUNK * (bitrate * 3 // (8 * bt.TS_CHUNK))])  # 3 s
        for phase in (keyed_flood, unkeyed_flood):
            print(f"-- {phase.__name__}", flush=True)
            phase(braid, hello_flood, work, ts, bitrate, c)
        print("-- lockout", flush=True)
        lockout(braid, hello_flood, work, short, bitrate, c)
    return c.finish()


if __name__ == "__main__":
    bt.main_guard(main)
