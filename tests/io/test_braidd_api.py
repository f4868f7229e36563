#!/usr/bin/python3
"""braidd's gRPC API from Debian's python3-grpcio, with stubs made from the project's proto:
- every RPC's success path: CreateSession (the bound port), GetSessionStatus,
  ListSessions with kind and state filters, DestroySession, StreamSessionEvents;
- every error status: INVALID_ARGUMENT (bad endpoint), NOT_FOUND, ALREADY_EXISTS (port in
  use), RESOURCE_EXHAUSTED (the session cap), UNAUTHENTICATED (token missing or wrong),
  PERMISSION_DENIED (destination outside the allowlist), UNIMPLEMENTED (unknown method);
- an event stream seen live while another client creates and destroys sessions, in order,
  and a stream filtered by session with periodic STATS;
- Health/Check SERVING without a token;
- `braid ctl` (create, list, show, watch, destroy) speaks the same API, with the token;
- SIGTERM: exit 0; a bad flag or config: exit 2 with one line."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import braiddtest as bd  # noqa: E402

import grpc  # noqa: E402

TOKEN = "s3cret-token-for-tests"


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class EventCollector:
    """Reads a StreamSessionEvents stream on a thread until cancelled."""

    def __init__(self, client, request):
        self.events = []
        self.error = None
        self.stream = client.call("StreamSessionEvents", request, timeout=60)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for ev in self.stream:
                self.events.append(ev)
        except grpc.RpcError as e:
            self.error = e.code()

    def wait_for(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(e) for e in list(self.events)):
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        self.stream.cancel()
        self.thread.join(5)


def check_exit_codes(c, braidd, workdir):
    bad = os.path.join(workdir, "bad.conf")
    with open(bad, "w") as f:
        f.write("grpc = 127.0.0.1:0\nmax_sessions = lots\n")
    cases = [
        (["--no-such-flag"], "unknown flag"),
        (["--config", bad], "line 2"),
        (["--config", os.path.join(workdir, "missing.conf")], "cannot read"),
        (["--allow", "10.1.0.0/8"], "allow"),
        (["--grpc", "0.0.0.0:0"], "token_file is required"),
        (["--tls-cert", bad], "tls_key go together"),
    ]
    for argv, words in cases:
        r = subprocess.run([braidd, *argv], capture_output=True, text=True, timeout=10)
        lines = r.stderr.strip().splitlines()
        c.check(r.returncode == 2 and len(lines) == 1 and words in lines[0],
                f"braidd {' '.join(argv)}: exit 2, one line naming '{words}' "
                f"({r.returncode}: {r.stderr.strip()!r})")


def check_auth_and_health(c, pb, pbg, hpb, hpbg, port):
    anon = bd.Client(pb, pbg, hpb, hpbg, port)
    wrong = bd.Client(pb, pbg, hpb, hpbg, port, token="not-the-token")
    req = pb.ListSessionsRequest()
    c.check(anon.code_of("ListSessions", req) == grpc.StatusCode.UNAUTHENTICATED,
            "no token: UNAUTHENTICATED")
    c.check(wrong.code_of("ListSessions", req) == grpc.StatusCode.UNAUTHENTICATED,
            "wrong token: UNAUTHENTICATED")
    c.check(anon.code_of("CreateSession", pb.CreateSessionRequest(
        kind=pb.KIND_RTP_PROXY)) == grpc.StatusCode.UNAUTHENTICATED,
        "no token, CreateSession: UNAUTHENTICATED before anything is checked")
    h = anon.health.Check(hpb.HealthCheckRequest(), timeout=5)
    c.check(h.status == hpb.HealthCheckResponse.SERVING, "Health/Check: SERVING, no token")
    h = anon.health.Check(hpb.HealthCheckRequest(service="braid.v1.Control"), timeout=5)
    c.check(h.status == hpb.HealthCheckResponse.SERVING, "Health/Check braid.v1.Control: SERVING")
    try:
        anon.health.Check(hpb.HealthCheckRequest(service="nope"), timeout=5)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    c.check(code == grpc.StatusCode.NOT_FOUND, "Health/Check of an unknown service: NOT_FOUND")
    unknown = anon.channel.unary_unary("/braid.v1.Control/NoSuchMethod")
    try:
        unknown(b"", timeout=5)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    c.check(code == grpc.StatusCode.UNIMPLEMENTED, "an unknown method: UNIMPLEMENTED at once")
    anon.close()
    wrong.close()


def check_errors(c, cl, pb):
    ok = cl.proxy(free_udp_port())
    c.check(ok.listen.port > 0, f"CreateSession: a bound port ({ok.listen.port})")
    ep = pb.Endpoint
    bad = [
        (pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY,
                                 destination=ep(address="not-an-address", port=5000)),
         "destination not an address"),
        (pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY,
                                 destination=ep(address="127.0.0.1", port=70000)),
         "destination port 70000"),
        (pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY,
                                 destination=ep(address="127.0.0.1", port=0)),
         "destination port 0"),
        (pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY, listen=ep(address="127.0.0.1x"),
                                 destination=ep(address="127.0.0.1", port=5000)),
         "listen address garbled"),
        (pb.CreateSessionRequest(destination=ep(address="127.0.0.1", port=5000)),
         "no kind"),
        (pb.CreateSessionRequest(kind=pb.KIND_BOND_RECEIVE, output="ftp://x"),
         "bond output not a URL braidd knows"),
    ]
    for req, what in bad:
        c.check(cl.code_of("CreateSession", req) == grpc.StatusCode.INVALID_ARGUMENT,
                f"{what}: INVALID_ARGUMENT")
    taken = pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY,
                                    listen=ep(address="127.0.0.1", port=ok.listen.port),
                                    destination=ep(address="127.0.0.1", port=free_udp_port()))
    c.check(cl.code_of("CreateSession", taken) == grpc.StatusCode.ALREADY_EXISTS,
            "a listen port in use: ALREADY_EXISTS")
    denied = pb.CreateSessionRequest(kind=pb.KIND_RTP_PROXY,
                                     destination=ep(address="10.9.8.7", port=5000))
    c.check(cl.code_of("CreateSession", denied) == grpc.StatusCode.PERMISSION_DENIED,
            "a destination outside the allowlist: PERMISSION_DENIED")
    denied_bond = pb.CreateSessionRequest(kind=pb.KIND_BOND_RECEIVE,
                                          output="udp://192.0.2.1:5000")
    c.check(cl.code_of("CreateSession", denied_bond) == grpc.StatusCode.PERMISSION_DENIED,
            "a bond output outside the allowlist: PERMISSION_DENIED")
    # this braidd has no --output-dir: no file output at all, and never one outside it
    for path in ("/tmp/anywhere.ts", "/etc/../tmp/x.ts"):
        denied_file = pb.CreateSessionRequest(kind=pb.KIND_BOND_RECEIVE,
                                              output=f"file://{path}")
        c.check(cl.code_of("CreateSession", denied_file) == grpc.StatusCode.PERMISSION_DENIED,
                f"a file output ({path}) without --output-dir: PERMISSION_DENIED")
    missing = pb.GetSessionStatusRequest(session_id="0123456789abcdef")
    c.check(cl.code_of("GetSessionStatus", missing) == grpc.StatusCode.NOT_FOUND,
            "GetSessionStatus of an unknown id: NOT_FOUND")
    c.check(cl.code_of("DestroySession", pb.DestroySessionRequest(session_id="nope")) ==
            grpc.StatusCode.NOT_FOUND, "DestroySession of an unknown id: NOT_FOUND")
    return ok


def check_lifecycle_and_events(c, cl, watcher, pb, first):
    all_events = EventCollector(watcher, pb.StreamSessionEventsRequest())
    time.sleep(0.3)  # the stream is set up before the other client acts
    bond = cl.call("CreateSession", pb.CreateSessionRequest(
        kind=pb.KIND_BOND_RECEIVE, listen=pb.Endpoint(address="127.0.0.1"),
        output=f"udp://127.0.0.1:{free_udp_port()}", latency_ms=200))
    c.check(bond.listen.port > 0, "CreateSession bond receive: a bound port")
    st = cl.status(bond.session_id)
    c.check(st.kind == pb.KIND_BOND_RECEIVE and st.state == pb.STATE_CONNECTING and
            st.spec.latency_ms == 200 and st.listen.port == bond.listen.port,
            "GetSessionStatus: kind, CONNECTING, the spec and the bound port")
    filtered = EventCollector(watcher, pb.StreamSessionEventsRequest(
        session_id=bond.session_id, stats_interval_ms=200))
    c.check(filtered.wait_for(lambda e: e.type == pb.EVENT_STATS), "STATS events every 200 ms")
    every = cl.call("ListSessions", pb.ListSessionsRequest())
    bonds = cl.call("ListSessions", pb.ListSessionsRequest(kind=pb.KIND_BOND_RECEIVE))
    proxies = cl.call("ListSessions", pb.ListSessionsRequest(kind=pb.KIND_RTP_PROXY,
                                                             state=pb.STATE_CONNECTING))
    active = cl.call("ListSessions", pb.ListSessionsRequest(state=pb.STATE_ACTIVE))
    c.check(len(every.sessions) == 2, f"ListSessions: both ({len(every.sessions)})")
    c.check([s.session_id for s in bonds.sessions] == [bond.session_id],
            "ListSessions kind=BOND_RECEIVE: the bond session alone")
    c.check([s.session_id for s in proxies.sessions] == [first.session_id],
            "ListSessions kind=RTP_PROXY state=CONNECTING: the proxy alone")
    c.check(len(active.sessions) == 0, "ListSessions state=ACTIVE: none yet")
    third = cl.proxy(free_udp_port())
    c.check(cl.code_of("CreateSession", pb.CreateSessionRequest(
        kind=pb.KIND_RTP_PROXY, destination=pb.Endpoint(address="127.0.0.1", port=5000))) ==
        grpc.StatusCode.RESOURCE_EXHAUSTED, "a fourth session over --max-sessions 3: "
        "RESOURCE_EXHAUSTED")
    cl.call("DestroySession", pb.DestroySessionRequest(session_id=bond.session_id))
    c.check(cl.code_of("GetSessionStatus", pb.GetSessionStatusRequest(
        session_id=bond.session_id)) == grpc.StatusCode.NOT_FOUND,
        "DestroySession: then GetSessionStatus says NOT_FOUND")
    c.check(all_events.wait_for(lambda e: e.session_id == bond.session_id and
                                e.type == pb.EVENT_CLOSED), "the stream sees CLOSED live")
    mine = [(e.type, e.status.state) for e in all_events.events
            if e.session_id == bond.session_id]
    c.check(mine[:2] == [(pb.EVENT_CREATED, pb.STATE_CREATED),
                         (pb.EVENT_STATE_CHANGED, pb.STATE_CONNECTING)] and
            mine[-1] == (pb.EVENT_CLOSED, pb.STATE_CLOSED),
            f"events of the bond session in order: CREATED, CONNECTING ... CLOSED ({mine})")
    c.check(any(e.session_id == third.session_id and e.type == pb.EVENT_CREATED
                for e in all_events.events), "the unfiltered stream saw the third session too")
    c.check(filtered.wait_for(lambda e: e.type == pb.EVENT_CLOSED) and
            all(e.session_id == bond.session_id for e in filtered.events),
            "the filtered stream: only its session's events, CLOSED included")
    all_events.stop()
    filtered.stop()
    cl.call("DestroySession", pb.DestroySessionRequest(session_id=third.session_id))


def check_braid_ctl(c, braid, port, token_file, procs):
    base = [braid, "ctl", "--server", f"127.0.0.1:{port}", "--token-file", token_file]

    def ctl(*args):
        r = subprocess.run(base + list(args), capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout, r.stderr.strip()

    watch_out = os.path.join(os.path.dirname(token_file), "watch.out")
    with open(watch_out, "w") as f:
        watch = procs.start("ctl-watch", base + ["watch"], stdout=f)
    time.sleep(0.5)
    code, out, _ = ctl("create", "rtp_proxy", "--listen", "127.0.0.1:0", "--destination",
                       "127.0.0.1:45000", "--rtcp", "--max-packet-rate", "1000")
    sid = out.split()[0] if out else ""
    c.check(code == 0 and len(sid) == 16 and "listening on 127.0.0.1:" in out,
            f"braid ctl create: the id and the bound port ({out.strip()})")
    code, out, _ = ctl("list", "--kind", "rtp_proxy")
    c.check(code == 0 and sid in out and "connecting" in out, "braid ctl list --kind")
    code, out, _ = ctl("show", sid)
    c.check(code == 0 and "destination  127.0.0.1:45000" in out and "rtp_proxy" in out,
            "braid ctl show: kind and destination")
    code, out, _ = ctl("destroy", sid)
    c.check(code == 0 and "destroyed" in out, "braid ctl destroy")
    code, _, err = ctl("destroy", sid)
    c.check(code == 1 and err.startswith("braid ctl: NOT_FOUND"),
            f"braid ctl destroy again: exit 1, NOT_FOUND ({err})")
    code, _, err = ctl("create", "rtp_proxy", "--destination", "10.0.0.1:5000")
    c.check(code == 1 and "PERMISSION_DENIED" in err, "braid ctl create outside the allowlist")
    r = subprocess.run([braid, "ctl", "--server", f"127.0.0.1:{port}", "list"],
                       capture_output=True, text=True, timeout=20)
    c.check(r.returncode == 1 and "UNAUTHENTICATED" in r.stderr,
            "braid ctl without the token: UNAUTHENTICATED")
    r = subprocess.run(base + ["create", "teleport"], capture_output=True, text=True)
    c.check(r.returncode == 2, "braid ctl create of an unknown kind: exit 2")
    time.sleep(0.3)
    procs.stop(watch)
    with open(watch_out) as f:
        seen = [line.split()[:2] for line in f if line.strip()]
    c.check(["created", sid] in seen and ["closed", sid] in seen,
            f"braid ctl watch printed created and closed ({len(seen)} lines)")


def main():
    braidd = sys.argv[1]
    braid = sys.argv[2]
    c = bt.Checks("braidd_api")
    with tempfile.TemporaryDirectory() as workdir:
        procs = bt.Procs(workdir)
        try:
            pb, pbg, hpb, hpbg = bd.make_stubs(workdir)
            check_exit_codes(c, braidd, workdir)
            token = os.path.join(workdir, "token")
            with open(token, "w") as f:
                f.write(TOKEN + "\n")
            d = bd.start_braidd(procs, braidd, extra=["--token-file", token, "--max-sessions",
                                                      "3", "--allow", "127.0.0.0/8"])
            check_auth_and_health(c, pb, pbg, hpb, hpbg, d.grpc_port)
            cl = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port, token=TOKEN)
            watcher = bd.Client(pb, pbg, hpb, hpbg, d.grpc_port, token=TOKEN)
            first = check_errors(c, cl, pb)
            check_lifecycle_and_events(c, cl, watcher, pb, first)
            check_braid_ctl(c, braid, d.grpc_port, token, procs)
            cl.close()
            watcher.close()
            code = procs.stop(d, signal.SIGTERM)
            c.check(code == 0, f"SIGTERM: braidd exits 0 ({code})")
        finally:
            procs.stop_all()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
