#!/usr/bin/python3
"""examples/encoder-feedback/braid-x264-follow.py driving a real GStreamer x264 encoder from
braid send --bitrate-out, over two braid emu links into braid recv --output file://. The
links' rate is cut to a fifth mid-run and given back: the encoder's bitrate must fall below
what the cut links carry within a few seconds, and climb back well above it once the rate
returns; the recording must decode (ffprobe), and the video it holds from the cut on must
fit in the cut links.

The test pattern is noise, which x264 cannot compress: the encoder's output is its bitrate
property, so what the recording measures is what the policy set."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                       "encoder-feedback", "braid-x264-follow.py")
LINK_KBPS = 2500       # each of the two links, before the cut and after it
CUT_KBPS = 500         # each link during the cut
BEFORE_CUT_S = 8
CUT_S = 10
AFTER_S = 14
FOLLOW_DOWN_S = 5      # the encoder must be below the cut links' capacity by then
FPS = 25


def start_emu(procs, braid, target_port):
    argv = [braid, "emu", "--control", "127.0.0.1:0"]
    for name, delay in (("a", "20ms"), ("b", "35ms")):
        argv += ["--link", f"name={name},listen=127.0.0.1:0,to=127.0.0.1:{target_port},"
                           f"rate={LINK_KBPS}kbit,delay={delay}"]
    p = procs.start("emu", argv)
    p.ports = {n: bt.port_of(procs.wait_stderr(p, rf"link {n} listening on (\S+)").group(1))
               for n in ("a", "b")}
    control = procs.wait_stderr(p, r"control on (\S+)").group(1)
    p.control = ("127.0.0.1", bt.port_of(control))
    return p


def set_rate(emu, kbps):
    """Changes both links' rate through the emulator's control socket; returns when done."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(f"* rate={kbps}kbit".encode(), emu.control)
        answer = s.recv(200).decode()
    if not answer.startswith("ok 2"):
        raise RuntimeError(f"braid emu control: {answer}")
    return time.time()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encoder_log(path):
    """The example's JSON lines: [(wall time, event dict)]."""
    return [(e["time"], e) for e in bt.json_lines(path)]


def bitrate_at(log, t):
    """The encoder's bitrate property in force at wall time t (kbit/s)."""
    kbps = None
    for at, e in log:
        if at > t:
            break
        if "kbps" in e:
            kbps = e["kbps"]
    return kbps


def first_change(log, since, until, cond):
    for at, e in log:
        if since <= at <= until and e["event"] == "bitrate" and cond(e["kbps"]):
            return at
    return None


def video_packets(path):
    """(pts seconds, bytes) of each video packet in the recording, by ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,size", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return [(float(p["pts_time"]), int(p["size"])) for p in json.loads(out).get("packets", [])
            if "pts_time" in p]


def decoded_frames(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=codec_name,nb_read_frames", "-of", "json",
                        path], capture_output=True, text=True, check=True)
    stream = json.loads(r.stdout)["streams"][0]
    return stream["codec_name"], int(stream["nb_read_frames"])


def run(braid):
    c = bt.Checks("bitrate_feedback")
    with tempfile.TemporaryDirectory(prefix="braid-test-") as wd:
        procs = bt.Procs(wd)
        try:
            out = os.path.join(wd, "out.ts")
            enc_log_path = os.path.join(wd, "encoder.jsonl")
            recv = bt.start_recv(procs, braid, wd, "file://" + out)
            emu = start_emu(procs, braid, recv.port)
            feedback = free_udp_port()
            send = bt.start_send(procs, braid, wd, recv.port,
                                 [f"name=a,to=127.0.0.1:{emu.ports['a']}",
                                  f"name=b,to=127.0.0.1:{emu.ports['b']}"],
                                 extra=("--bitrate-out", f"udp://127.0.0.1:{feedback}"))
            with open(enc_log_path, "w") as enc_log:
                encoder = procs.start("encoder", [
                    "/usr/bin/python3", EXAMPLE, "--feedback", f"127.0.0.1:{feedback}",
                    "--to", f"127.0.0.1:{send.port}", "--source",
                    "videotestsrc is-live=true pattern=snow", "--size", "480x270",
                    "--fps", str(FPS), "--preset", "ultrafast", "--start-kbps", "2000",
                    "--min-kbps", "200", "--max-kbps", "3000", "--up-after", "1",
                    "--up-step", "0.3"], stdout=enc_log)
            deadline = time.monotonic() + 10
            while not encoder_log(enc_log_path) and time.monotonic() < deadline:
                time.sleep(0.05)
            log = encoder_log(enc_log_path)
            if not log or log[0][1]["event"] != "start":
                raise RuntimeError("the example did not start:\n" + procs.stderr(encoder))
            started = log[0][0]
            time.sleep(BEFORE_CUT_S)
            cut = set_rate(emu, CUT_KBPS)
            time.sleep(CUT_S)
            restored = set_rate(emu, LINK_KBPS)
            time.sleep(AFTER_S)
            c.check(encoder.poll() is None, "the example ran throughout")
            c.check(procs.stop(encoder) == 0, "the example exits 0 on SIGTERM")
            procs.stop(send)
            time.sleep(1.5)  # the receiver releases what its latency budget holds
            c.check(procs.stop(recv) == 0, "braid recv exited cleanly")
            procs.stop(emu)
            log = encoder_log(enc_log_path)
            for at, e in log:
                print(f"  {at - started:6.1f} s  {json.dumps(e)}")
            check_follows(c, log, cut, restored)
            check_recording(c, out, started, cut, restored)
        finally:
            procs.stop_all()
    return c.finish()


def check_follows(c, log, cut, restored):
    cut_capacity = 2 * CUT_KBPS
    before = bitrate_at(log, cut)
    c.check(before is not None and before > cut_capacity,
            f"before the cut the encoder runs above the cut links' {cut_capacity} kbit/s "
            f"({before})")
    down = first_change(log, cut, restored, lambda k: k <= cut_capacity)
    c.check(down is not None and down - cut <= FOLLOW_DOWN_S,
            f"after the cut the bitrate falls to <= {cut_capacity} kbit/s within "
            f"{FOLLOW_DOWN_S} s ({'never' if down is None else f'{down - cut:.1f} s'})")
    during = [e["kbps"] for at, e in log if cut + FOLLOW_DOWN_S <= at <= restored and "kbps" in e]
    settled = [bitrate_at(log, cut + FOLLOW_DOWN_S)] + during
    c.check(max(settled) <= cut_capacity,
            f"during the cut it stays within the links' capacity (max {max(settled)})")
    up = first_change(log, restored, restored + AFTER_S, lambda k: k >= 2 * cut_capacity)
    c.check(up is not None,
            f"after the rate returns it climbs to >= {2 * cut_capacity} kbit/s within "
            f"{AFTER_S} s ({'never' if up is None else f'{up - restored:.1f} s'})")


def check_recording(c, out, started, cut, restored):
    codec, frames = decoded_frames(out)
    expected = (restored + AFTER_S - started) * FPS
    c.check(codec == "h264" and frames >= 0.8 * expected,
            f"the recording decodes: {codec}, {frames} frames of about {expected:.0f}")
    packets = video_packets(out)
    c.check(len(packets) > 0, f"ffprobe lists {len(packets)} video packets")
    if not packets:
        return
    # The first frame left the encoder about when it started: pts from there is wall time
    # from `started`, give or take the pipeline's start.
    pts0 = packets[0][0]
    lo, hi = cut - started + FOLLOW_DOWN_S, restored - started - 0.5
    size = sum(b for pts, b in packets if lo <= pts - pts0 < hi)
    kbps = size * 8 / (hi - lo) / 1000
    c.check(0 < kbps <= 2 * CUT_KBPS,
            f"the video recorded during the cut fits the links: {kbps:.0f} kbit/s <= "
            f"{2 * CUT_KBPS}")
    lo, hi = restored - started + AFTER_S - 4, restored - started + AFTER_S - 1
    size = sum(b for pts, b in packets if lo <= pts - pts0 < hi)
    after = size * 8 / (hi - lo) / 1000
    c.check(after > 2 * CUT_KBPS,
            f"the video recorded after the rate returned exceeds the cut's capacity: "
            f"{after:.0f} kbit/s")


if __name__ == "__main__":
    bt.main_guard(run)
