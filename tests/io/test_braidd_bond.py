#!/usr/bin/python3
"""A bond-receive session made over braidd's gRPC API takes a `braid send` stream over three
links (with a pre-shared key) and writes it byte-identical to its output; its links show
through the API; /metrics, parsed with python3-prometheus-client, has the session's and the
links' families, and its counters move with the traffic."""

import os

import grpc
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

PSK = b"a key both ends share"


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s)
    return ctype, samples


def value(samples, name, **labels):
    for s in samples.get(name, []):
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def main():
    braidd, braid = sys.argv[1], sys.argv[2]
    c = bt.Checks("braidd_bond")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            ts = os.path.join(workdir, "in.ts")
            bitrate = bt.make_ts(ts, seconds=4, video_kbit=2000)
            out = os.path.join(workdir, "out.ts")
            d = bd.start_braidd(procs, braidd, extra=["--metrics", "127.0.0.1:0",
                                                      "--output-dir", workdir])
            mport = int(procs.wait_stderr(d, r"metrics on http://\S+:(\d+)/metrics").group(1))
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
            s = cl.call("CreateSession", pb.CreateSessionRequest(
                kind=pb.KIND_BOND_RECEIVE, listen=pb.Endpoint(address="127.0.0.1"),
                output=f"file://{out}", psk=PSK, latency_ms=400))
            escape = pb.CreateSessionRequest(
                kind=pb.KIND_BOND_RECEIVE, listen=pb.Endpoint(address="127.0.0.1"),
                output=f"file://{workdir}/../escape.ts", psk=PSK, latency_ms=400)
            c.check(cl.code_of("CreateSession", escape) == grpc.StatusCode.PERMISSION_DENIED,
                    "a file output climbing out of --output-dir: PERMISSION_DENIED")
            ctype, before = scrape(mport)
            c.check(ctype.startswith("text/plain") and "version=0.0.4" in ctype,
                    f"/metrics: the Prometheus text format ({ctype})")
            c.check(value(before, "braidd_sessions") == 1 and
                    value(before, "braidd_session_packets_received_total",
                          session=s.session_id) == 0 and
                    value(before, "braidd_session_state", session=s.session_id,
                          state="connecting") == 1,
                    "/metrics parsed: one session, nothing received, state connecting")
            psk_file = os.path.join(workdir, "psk")
            with open(psk_file, "wb") as f:
                f.write(PSK)
            links = [f"name=l{i},addr=127.0.0.{i}" for i in (1, 2, 3)]
            send = bt.start_send(procs, braid, workdir, s.listen.port, links,
                                 extra=["--psk", psk_file, "--latency", "400ms"])
            time.sleep(0.3)
            mid = {}

            def progress(fraction):
                if not mid and fraction >= 0.5:
                    mid.update(scrape(mport)[1])

            bt.pace_file(ts, send.port, bitrate, on_progress=progress)
            time.sleep(1.0)
            st = cl.status(s.session_id)
            _, after = scrape(mport)
            c.check(procs.stop(send) == 0, "braid send exits cleanly")
            time.sleep(0.3)
            c.check(bt.files_identical(ts, out), f"the output is byte-identical "
                    f"({os.path.getsize(out)} of {os.path.getsize(ts)} bytes)")
            c.check(st.state == pb.STATE_ACTIVE, "the session went ACTIVE")
            names = sorted(l.name for l in st.links)
            c.check(names == ["l1", "l2", "l3"] and all(l.packets_received > 0 for l in st.links),
                    f"GetSessionStatus shows the three links, each carrying ({names})")
            c.check(st.stats.packets_lost == 0 and st.stats.packets_sent > 0,
                    f"stats: {st.stats.packets_sent} released, none lost")
            key = dict(session=s.session_id)
            counts = [value(x, "braidd_session_packets_received_total", **key)
                      for x in (before, mid, after)]
            c.check(counts[0] == 0 < counts[1] < counts[2],
                    f"the received counter moves with the traffic ({counts})")
            sent = [value(x, "braidd_session_bytes_sent_total", **key) for x in (mid, after)]
            c.check(0 < sent[0] < sent[1], f"and the bytes sent ({sent})")
            link_counts = [value(after, "braidd_link_packets_received_total", link=n, **key)
                           for n in ("l1", "l2", "l3")]
            c.check(all(v and v > 0 for v in link_counts),
                    f"per-link packets for l1, l2, l3 ({link_counts})")
            c.check(value(after, "braidd_link_state", link="l1", state="healthy", **key) == 1,
                    "link l1 healthy in /metrics")
            c.check(value(after, "braidd_session_latency_seconds", **key) == 0.4,
                    "the latency budget as the session's latency (0.4 s)")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{mport}/nope", timeout=5)
                code = 200
            except urllib.error.HTTPError as e:
                code = e.code
            c.check(code == 404, "another path: 404")
            cl.call("DestroySession", pb.DestroySessionRequest(session_id=s.session_id))
            _, gone = scrape(mport)
            c.check(value(gone, "braidd_sessions") == 0 and
                    value(gone, "braidd_session_packets_received_total", **key) is None,
                    "a destroyed session leaves /metrics")
            cl.close()
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
