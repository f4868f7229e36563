"""Helpers for braidd's tests: Python stubs made from the project's proto at test time,
braidd started on loopback with its gRPC port read from stderr, and a client carrying the
bearer token. Every file lives in the caller's temporary directory."""

import importlib
import os
import subprocess
import sys

import grpc

SOURCE = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROTO = os.path.join(SOURCE, "proto")


def make_stubs(workdir):
    """Generates control_pb2(_grpc) and health_pb2(_grpc) into workdir/stubs; returns the
    modules (pb, pbg, hpb, hpbg). grpc_tools when Debian's python3-grpc-tools is there,
    else protoc with grpc_python_plugin."""
    out = os.path.join(workdir, "stubs")
    os.makedirs(out, exist_ok=True)
    for folder, name in (("braid/v1", "control"), ("grpc/health/v1", "health")):
        src = os.path.join(PROTO, folder)
        try:
            import grpc_tools.protoc  # noqa: F401
            cmd = [sys.executable, "-m", "grpc_tools.protoc"]
            plugin = []
        except ImportError:
            cmd = ["protoc"]
            plugin = ["--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"]
        subprocess.run(cmd + plugin + [f"--proto_path={src}", f"--python_out={out}",
                                       f"--grpc_python_out={out}", f"{name}.proto"],
                       check=True)
    sys.path.insert(0, out)
    return tuple(importlib.import_module(m) for m in
                 ("control_pb2", "control_pb2_grpc", "health_pb2", "health_pb2_grpc"))


def start_braidd(procs, braidd, name="braidd", extra=(), grpc_addr="127.0.0.1:0"):
    p = procs.start(name, [braidd, "--grpc", grpc_addr, *extra])
    m = procs.wait_stderr(p, r"gRPC on (\S+):(\d+)")
    p.grpc_port = int(m.group(2))
    return p


class Client:
    """The Control and Health stubs on one channel, with the token on every call."""

    def __init__(self, pb, pbg, hpb, hpbg, port, token=None, timeout=5):
        self.pb, self.hpb = pb, hpb
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.control = pbg.ControlStub(self.channel)
        self.health = hpbg.HealthStub(self.channel)
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        self.timeout = timeout

    def call(self, method, request, **kw):
        kw.setdefault("timeout", self.timeout)
        kw.setdefault("metadata", self.metadata)
        return getattr(self.control, method)(request, **kw)

    def code_of(self, method, request, **kw):
        """The status code a call ends with (OK when it succeeds)."""
        try:
            self.call(method, request, **kw)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()

    def proxy(self, dest_port, **kw):
        pb = self.pb
        req = pb.CreateSessionRequest(
            kind=pb.KIND_RTP_PROXY, listen=pb.Endpoint(address="127.0.0.1"),
            destination=pb.Endpoint(address="127.0.0.1", port=dest_port), **kw)
        return self.call("CreateSession", req)

    def status(self, sid):
        return self.call("GetSessionStatus", self.pb.GetSessionStatusRequest(session_id=sid))

    def close(self):
        self.channel.close()
