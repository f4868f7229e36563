#!/usr/bin/python3
"""braidd as a daemon:
- TLS: with --tls-cert/--tls-key (a self-signed EC pair made here with openssl), an RPC
  over grpc.secure_channel trusting that certificate works, and a plaintext client
  against the same port gets no answer (UNAVAILABLE);
- SIGTERM sent from outside, while gRPC's threads are busy (an event stream open, calls
  coming), reaches the event loop: braidd exits 0 within a few seconds, and the sessions
  and their counters are in the database when it starts again."""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402


def make_cert(workdir):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def check_tls(c, procs, braidd, workdir, pb, pbg, hpb, hpbg):
    cert, key = make_cert(workdir)
    d = bd.start_braidd(procs, braidd, "braidd-tls", ["--tls-cert", cert, "--tls-key", key])
    c.check("(TLS)" in procs.stderr(d), "braidd says it serves the API over TLS")
    with open(cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    secure = grpc.secure_channel(f"127.0.0.1:{d.grpc_port}", creds,
                                 options=[("grpc.ssl_target_name_override", "localhost")])
    control = pbg.ControlStub(secure)
    listed = control.ListSessions(pb.ListSessionsRequest(), timeout=5)
    created = control.CreateSession(pb.CreateSessionRequest(
        kind=pb.KIND_RTP_PROXY, listen=pb.Endpoint(address="127.0.0.1"),
        destination=pb.Endpoint(address="127.0.0.1", port=40000)), timeout=5)
    c.check(len(listed.sessions) == 0 and len(created.session_id) == 16,
            "over TLS trusting the self-signed certificate: ListSessions and CreateSession "
            "answer")
    health = hpbg.HealthStub(secure).Check(hpb.HealthCheckRequest(), timeout=5)
    c.check(health.status == hpb.HealthCheckResponse.SERVING, "Health over TLS: SERVING")
    secure.close()

    plain = grpc.insecure_channel(f"127.0.0.1:{d.grpc_port}")
    try:
        pbg.ControlStub(plain).ListSessions(pb.ListSessionsRequest(), timeout=3)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    plain.close()
    c.check(code == grpc.StatusCode.UNAVAILABLE,
            f"a plaintext client on the TLS port is refused ({code})")

    untrusting = grpc.secure_channel(f"127.0.0.1:{d.grpc_port}",
                                     grpc.ssl_channel_credentials(),
                                     options=[("grpc.ssl_target_name_override", "localhost")])
    try:
        pbg.ControlStub(untrusting).ListSessions(pb.ListSessionsRequest(), timeout=3)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    untrusting.close()
    c.check(code == grpc.StatusCode.UNAVAILABLE,
            f"a TLS client that does not trust the certificate is refused ({code})")
    c.check(procs.stop(d) == 0, "braidd with TLS exits 0 on SIGTERM")


def rtp_packet(seq):
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0xFEED) + b"\x00" * 100


def check_sigterm(c, procs, braidd, workdir, pb, pbg, hpb, hpbg):
    db = os.path.join(workdir, "sessions.db")
    d = bd.start_braidd(procs, braidd, "braidd-term", ["--db", db, "--create-db"])
    cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port)
    sids = [cl.proxy(40000 + 2 * i).session_id for i in range(3)]
    src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    first = cl.status(sids[0]).listen.port
    for seq in range(50):
        src.sendto(rtp_packet(seq), ("127.0.0.1", first))
    src.close()
    bd_wait = time.monotonic() + 5
    while cl.status(sids[0]).stats.packets_received < 50 and time.monotonic() < bd_wait:
        time.sleep(0.02)
    # gRPC's threads busy: an open event stream, and calls coming from another thread
    events = cl.call("StreamSessionEvents", pb.StreamSessionEventsRequest(
        stats_interval_ms=100), timeout=30)
    first_event = next(events)
    stop = threading.Event()

    def keep_calling():
        while not stop.is_set():
            try:
                cl.call("ListSessions", pb.ListSessionsRequest(), timeout=1)
            except grpc.RpcError:
                pass

    caller = threading.Thread(target=keep_calling, daemon=True)
    caller.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(d.pid, signal.SIGTERM)
    try:
        rc = d.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    stop.set()
    caller.join(5)
    try:
        for _ in events:
            pass
        stream_end = "ended"
    except grpc.RpcError as e:
        stream_end = e.code().name
    cl.close()
    c.check(first_event.session_id in sids, "the event stream was open (an event came)")
    c.check(rc == 0 and took < 5, f"SIGTERM during gRPC traffic: exit {rc} after "
            f"{took:.2f} s; the open stream {stream_end}")

    d2 = bd.start_braidd(procs, braidd, "braidd-again", ["--db", db])
    cl2 = bd.Client(pb, pbg, hpb, hpbg, d2.grpc_port)
    listed = {s.session_id for s in cl2.call("ListSessions", pb.ListSessionsRequest()).sessions}
    kept = cl2.status(sids[0]).stats.packets_received
    cl2.close()
    c.check(listed == set(sids), f"the {len(sids)} sessions were persisted "
            f"({len(listed)} back)")
    c.check(kept == 50, f"with their counters ({kept} packets received)")
    c.check(procs.stop(d2) == 0, "the second braidd exits 0 too")


def main():
    braidd = sys.argv[1]
    c = bt.Checks("braidd_daemon")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            check_tls(c, procs, braidd, workdir, pb, pbg, hpb, hpbg)
            check_sigterm(c, procs, braidd, workdir, pb, pbg, hpb, hpbg)
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
