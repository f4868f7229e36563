#!/usr/bin/python3
"""braidd's benchmark (docs/bench.md, "braidd"), run by `make bench`:
1. sessions created and destroyed per second through the gRPC API: N RTP proxy sessions
   created one call after another by a python3-grpcio client, then destroyed;
2. CPU per packet of one RTP proxy session against bench/udp_forward, the plain
   forwarder, in the same run: udp_blast sends RTP-formatted datagrams at a fixed rate
   through each to a udp_blast sink; the relay's CPU time (all its threads, from
   bench/cpu_ns) over the trial, divided by the packets, and the packets per second one
   core would carry at that cost.
Everything runs on loopback; every process is ended by its PID."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402


def sessions_per_second(cl, n):
    pb = cl.pb
    t0 = time.monotonic()
    ids = [cl.proxy(40000).session_id for _ in range(n)]
    t1 = time.monotonic()
    for sid in ids:
        cl.call("DestroySession", pb.DestroySessionRequest(session_id=sid))
    t2 = time.monotonic()
    left = len(cl.call("ListSessions", pb.ListSessionsRequest()).sessions)
    if left:
        raise RuntimeError(f"{left} sessions left after destroying them all")
    return n / (t1 - t0), n / (t2 - t1)


def cpu_ns(build, pid):
    out = subprocess.run([os.path.join(build, "bench", "cpu_ns"), str(pid)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def trial(procs, build, relay_pid, in_port, sink, sink_port_rate):
    """Blasts `count` packets at `rate` into in_port; returns (cpu ns, delivered)."""
    rate, count, size = sink_port_rate
    before = cpu_ns(build, relay_pid)
    subprocess.run([os.path.join(build, "bench", "udp_blast"), "send", "--to",
                    f"127.0.0.1:{in_port}", "--count", str(count), "--rate", str(rate),
                    "--size", str(size), "--format", "rtp"], check=True,
                   stdout=subprocess.DEVNULL)
    sink.wait(30)
    after = cpu_ns(build, relay_pid)
    unique = int(re.search(r"unique=(\d+)", open(sink.stdout_path).read()).group(1))
    return after - before, unique


def start_sink(procs, build, name, count, workdir):
    out_path = os.path.join(workdir, f"{name}.out")
    out = open(out_path, "wb")
    p = procs.start(name, [os.path.join(build, "bench", "udp_blast"), "sink", "--listen",
                           "127.0.0.1:0", "--count", str(count), "--idle-ms", "500",
                           "--format", "rtp"], stdout=out)
    out.close()
    p.stdout_path = out_path
    port = int(procs.wait_stderr(p, r"sink on \S+:(\d+)").group(1))
    return p, port


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--size", type=int, default=1200)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    braidd = os.path.join(build, "src", "braidd")
    count = int(a.rate * a.seconds)
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            d = bd.start_braidd(procs, braidd, extra=["--max-sessions", str(a.sessions)])
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
            created, destroyed = sessions_per_second(cl, a.sessions)
            print(f"braidd: {a.sessions} sessions: {created:.0f} created/s, "
                  f"{destroyed:.0f} destroyed/s (gRPC, one client, one call at a time)")

            results = {}
            sink, sink_port = start_sink(procs, build, "sink-braidd", count, workdir)
            s = cl.proxy(sink_port)
            results["braidd"] = trial(procs, build, d.pid, s.listen.port, sink,
                                      (a.rate, count, a.size))
            st = cl.status(s.session_id).stats
            if st.packets_invalid:
                raise RuntimeError(f"braidd counted {st.packets_invalid} invalid packets")
            cl.close()

            sink, sink_port = start_sink(procs, build, "sink-fwd", count, workdir)
            fwd = procs.start("udp_forward", [os.path.join(build, "bench", "udp_forward"),
                                              "--listen", "127.0.0.1:0", "--to",
                                              f"127.0.0.1:{sink_port}"])
            fwd_port = int(procs.wait_stderr(fwd, r"listening on \S+:(\d+)").group(1))
            results["udp_forward"] = trial(procs, build, fwd.pid, fwd_port, sink,
                                           (a.rate, count, a.size))
            print(f"one RTP proxy session vs the plain forwarder: {count} RTP datagrams of "
                  f"{a.size} bytes at {a.rate} pkt/s")
            per_packet = {}
            for name, (ns, delivered) in results.items():
                per_packet[name] = ns / 1000 / count
                print(f"  {name:12s} {per_packet[name]:6.2f} us CPU per packet, "
                      f"{1e6 / per_packet[name]:9.0f} pkt/s per core, "
                      f"{delivered} of {count} delivered")
            print(f"  ratio braidd / udp_forward: "
                  f"{per_packet['braidd'] / per_packet['udp_forward']:.2f}")
            for p in list(procs.procs):
                procs.stop(p)
        finally:
            procs.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
