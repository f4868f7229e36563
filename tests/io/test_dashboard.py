#!/usr/bin/python3
"""braid send --http and braid recv --http during a bonded stream through two `braid emu`
links: the page and the JSON it polls (the very lines --stats writes), Prometheus text at
/metrics read by python3-prometheus-client's parser with counters that move with the
traffic, bad --http arguments (exit 2) and a port in use (exit 1), and hostile HTTP
(unknown paths, other methods, huge and malformed requests, idle connections beyond the
limit) that must neither crash the programs nor disturb the stream, which arrives byte for
byte."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import dashtest as dt  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def run_args(braid, args):
    p = subprocess.run([braid, *args], capture_output=True, text=True, timeout=10)
    return p.returncode, p.stderr.strip().splitlines()


def check_bad_arguments(braid, checks):
    for role, base in (("recv", ["recv", "--listen", "127.0.0.1:0", "--output", "-"]),
                       ("send", ["send", "--input", "udp://127.0.0.1:0", "--to",
                                 "127.0.0.1:9", "--link", "name=a"])):
        for bad in ("nonsense", "8080", "127.0.0.1:99999", "[::1", ""):
            rc, lines = run_args(braid, [*base, "--http", bad])
            checks.check(rc == 2 and len(lines) == 1 and "--http" in lines[0],
                         f"{role} --http '{bad}': exit 2, one line naming --http "
                         f"(exit {rc}: {lines})")
        rc, lines = run_args(braid, [*base, "--http"])
        checks.check(rc == 2 and len(lines) == 1 and "--http" in lines[0],
                     f"{role} --http without a value: exit 2 ({rc}: {lines})")


def check_port_in_use(braid, checks):
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        rc, lines = run_args(braid, ["recv", "--listen", "127.0.0.1:0", "--output", "-",
                                     "--http", f"127.0.0.1:{port}"])
        checks.check(rc == 1 and lines and "--http" in lines[-1] and "in use" in lines[-1],
                     f"recv --http on a port in use: exit 1 with a clear error ({rc}: {lines})")
    finally:
        held.close()


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample_values(fam, **labels):
    """The values of a family's samples with these labels (a counter's _total ones)."""
    return [s.value for s in fam.samples
            if (s.name.endswith("_total") or fam.type != "counter")
            and all(s.labels.get(k) == v for k, v in labels.items())]


def read_metrics(port):
    status, body = dt.get(port, "/metrics")
    return status, body.decode()


def check_metrics(checks, role, before, after, link_counter):
    """Every family documented and typed; the given counters grew between two scrapes."""
    fa, fb = families(before), families(after)
    checks.check(all(f.documentation and f.type in ("counter", "gauge") for f in fb.values()),
                 f"{role} /metrics: every family has HELP and TYPE ({len(fb)} families)")
    lines = after.splitlines()
    helps = sum(1 for l in lines if l.startswith("# HELP "))
    types = sum(1 for l in lines if l.startswith("# TYPE "))
    checks.check(helps == types == len(fb), f"{role} /metrics: one HELP and one TYPE per "
                                            f"family ({helps}, {types}, {len(fb)})")
    total = f"braid_{role}_packets_out"
    grew = (sample_values(fb[total])[0] > sample_values(fa[total])[0]) if total in fa else False
    checks.check(grew, f"{role} /metrics: {total}_total moves with the stream "
                       f"({sample_values(fa[total])} -> {sample_values(fb[total])})")
    for link in ("wired", "lte"):
        va = sample_values(fa[link_counter], link=link)
        vb = sample_values(fb[link_counter], link=link)
        checks.check(len(va) == 1 and len(vb) == 1 and vb[0] > va[0],
                     f"{role} /metrics: {link_counter}{{link={link}}} moves ({va} -> {vb})")
    states = [s for s in fb[f"braid_{role}_link_state"].samples if s.value == 1]
    checks.check(len(states) == 2 and all(s.labels["state"] == "healthy" for s in states),
                 f"{role} /metrics: each link in exactly one state, healthy "
                 f"({[(s.labels['link'], s.labels['state']) for s in states]})")


def raw_exchange(port, data, timeout=3):
    """Sends raw bytes, returns what came back before the server closed or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and data.startswith(b"HEAD"):
                break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return got


def status_of(reply):
    first = reply.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


def check_hostile(port, checks, role):
    for path in ("/nope", "/../../etc/passwd", "/metrics/extra", "/%2e%2e/%2e%2e/etc/passwd",
                 "/stats.json/"):
        status, _ = dt.get(port, path)
        checks.check(status == 404, f"{role}: GET {path} answers 404 ({status})")
    post = raw_exchange(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                              b"Connection: close\r\n\r\nhello")
    checks.check(status_of(post) == 405, f"{role}: POST answers 405 ({status_of(post)})")
    huge = raw_exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                        b"a" * 200_000 + b"\r\nConnection: close\r\n\r\n")
    checks.check(status_of(huge) in (None, 400, 413, 414, 431),
                 f"{role}: a 200 kB header is refused ({status_of(huge)})")
    long_url = raw_exchange(port, b"GET /" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")
    checks.check(status_of(long_url) in (None, 400, 404, 414, 431),
                 f"{role}: a 100 kB path is refused ({status_of(long_url)})")
    garbage = raw_exchange(port, bytes(range(256)) * 4 + b"\r\n\r\n")
    checks.check(status_of(garbage) in (None, 400),
                 f"{role}: binary garbage is refused ({status_of(garbage)})")


def check_connection_flood(port, checks, role, rounds=3):
    """More connections than the server takes (32), one of them with a request left
    half-sent, all closed: the next client must be served at once, every time."""
    served = []
    for _ in range(rounds):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(40)]
        idle[0].sendall(b"GET /metr")
        for s in idle:
            s.close()
        time.sleep(0.3)
        try:
            status, body = dt.get(port, "/stats.json", timeout=3)
            served.append(status == 200 and json.loads(body)["role"] == role)
        except OSError:
            served.append(False)
    checks.check(all(served), f"{role}: served right after 40 connections came and went, "
                              f"{rounds} times ({served})")


def check_json_matches_stats(stream, checks):
    """/history.json and /events.json are the lines --stats wrote, value for value."""
    for role, port, p in (("recv", stream.recv_http, stream.recv),
                          ("send", stream.send_http, stream.send)):
        _, body = dt.get(port, "/history.json")
        history = json.loads(body)
        recorded = [l for l in bt.json_lines(p.stats_path) if "event" not in l]
        checks.check(len(history) >= 3 and all(h in recorded for h in history),
                     f"{role}: /history.json holds {len(history)} lines, each one "
                     f"written to --stats")
        _, latest = dt.get(port, "/stats.json")
        checks.check(json.loads(latest) == history[-1] or json.loads(latest) in recorded,
                     f"{role}: /stats.json is the latest stats line")
        _, body = dt.get(port, "/events.json")
        served = json.loads(body)
        written = bt.events(p.stats_path)
        checks.check(served and all(e in written for e in served),
                     f"{role}: /events.json holds {len(served)} events, each one written "
                     f"to --stats")
        status, page = dt.get(port, "/")
        checks.check(status == 200 and b"<svg id=\"chart-rtt\"" in page and
                     b"src=" not in page and b"http://" not in page.replace(
                         b"http://www.w3.org/2000/svg", b""),
                     f"{role}: / serves the page with its charts, nothing from elsewhere")


def check_stream(braid, work, checks):
    procs = bt.Procs(work)
    try:
        s = dt.Stream(procs, braid, work, seconds=9)
        time.sleep(0.3)
        s.start_pacing()
        time.sleep(2.5)
        before = {role: read_metrics(port)[1] for role, port in
                  (("recv", s.recv_http), ("send", s.send_http))}
        for role, port in (("recv", s.recv_http), ("send", s.send_http)):
            check_connection_flood(port, checks, role)
            check_hostile(port, checks, role)
        time.sleep(2.0)
        after = {role: read_metrics(port)[1] for role, port in
                 (("recv", s.recv_http), ("send", s.send_http))}
        check_metrics(checks, "recv", before["recv"], after["recv"],
                      "braid_recv_link_packets_received")
        check_metrics(checks, "send", before["send"], after["send"],
                      "braid_send_link_packets_sent")
        check_json_matches_stats(s, checks)
        s.wait_paced()
        time.sleep(1.8)
        checks.check(procs.stop(s.send) == 0, "braid send exits cleanly")
        checks.check(procs.stop(s.recv) == 0, "braid recv exits cleanly")
        checks.check(bt.files_identical(s.input, s.output),
                     f"the stream arrives byte for byte through it all "
                     f"({os.path.getsize(s.output)} of {os.path.getsize(s.input)} bytes)")
    finally:
        procs.stop_all()


def main(braid):
    checks = bt.Checks("dashboard")
    check_bad_arguments(braid, checks)
    check_port_in_use(braid, checks)
    with bt.tempdir() as work:
        check_stream(braid, work, checks)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
