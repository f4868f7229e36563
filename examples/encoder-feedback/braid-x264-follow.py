#!/usr/bin/python3
"""An x264 encoder that follows the bond: runs a live GStreamer pipeline into braid send's
input and sets x264enc's bitrate from the datagrams `braid send --bitrate-out` sends once a
second ({"available_bitrate":BIT_PER_S,"live_links":N,"operational":BOOL}).

    braid send --input udp://127.0.0.1:6000 --to gw:7000 --link wwan0 --link wwan1 \\
        --bitrate-out udp://127.0.0.1:6100 &
    ./braid-x264-follow.py --feedback 127.0.0.1:6100 --to 127.0.0.1:6000

The announced rate is what the links have carried lately (less a tenth kept for resends),
not what they could carry: with the encoder below the links' capacity it runs 15-25 %
above the encoder's bitrate, and it grows only when the encoder offers more. So the policy:
step down at once when the announced rate falls below 95 % of the bitrate (the links queue,
then drop, what exceeds them), to --share of it (the rest is room for resends and the
estimate's swing); step up slowly while the links carry all of it: after a smoothed headroom
has lasted --up-after seconds, by at most --up-step per second and never above the announced
rate. Each step up is the probe that lets the bond find more. Always within
--min-kbps..--max-kbps; a bond that is not operational, or silent for 3 s, gets the minimum.
Each change is logged on stdout as one line of JSON.

Needs python3-gi, gir1.2-gstreamer-1.0, gstreamer1.0-plugins-base/good/bad (mpegtsmux) and
gstreamer1.0-plugins-ugly (x264enc)."""

import argparse
import json
import signal
import socket
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

SILENCE_S = 3.0  # no datagram for this long: braid send is gone or the bond is down
# The announced rate is what the links carried lately, less a tenth kept for resends: with
# the encoder below the links' capacity it sits about 15-25 % above the encoder's bitrate
# (its datagrams, the mux's and braid's overhead, the bursts of each frame), and it grows
# only when the encoder offers more. With the bond full it is at or below the bitrate.
UP_HEADROOM = 1.08  # announced / bitrate above this: the links carry all of it, probe up
OVERLOAD = 0.95  # below this: the links carry less than the encoder makes, step down


class Policy:
    """Turns each announced bitrate into the encoder's next bitrate (kbit/s)."""

    def __init__(self, args):
        self.share = args.share
        self.min_kbps = args.min_kbps
        self.max_kbps = args.max_kbps
        self.up_step = args.up_step
        self.up_after = args.up_after
        self.alpha = args.smoothing
        self.current = args.start_kbps
        self.headroom = None
        self.roomy_since = None
        self.last_at = None

    def clamp(self, kbps):
        return max(self.min_kbps, min(self.max_kbps, kbps))

    def on_report(self, report, now):
        """Returns (new kbit/s, reason) or None to keep the current bitrate."""
        elapsed = now - self.last_at if self.last_at is not None else 1.0
        self.last_at = now
        if not report.get("operational", True) or report.get("live_links", 1) == 0:
            self.roomy_since = self.headroom = None
            return self.change(self.min_kbps, "not operational")
        available = report["available_bitrate"] / 1000.0
        ratio = available / self.current
        # Down at once, on the raw report: the links already queue or drop what exceeds them.
        if ratio < OVERLOAD:
            self.roomy_since = self.headroom = None
            return self.change(available * self.share, "down")
        # Up only on a smoothed headroom that has lasted, a step at a time: each step is
        # the probe that lets the bond find out whether its links carry more.
        if self.headroom is None:
            self.headroom = ratio
        self.headroom += self.alpha * (ratio - self.headroom)
        if self.headroom < UP_HEADROOM or ratio < 1.0 or self.current >= self.max_kbps:
            self.roomy_since = None
            return None
        if self.roomy_since is None:
            self.roomy_since = now
        if now - self.roomy_since < self.up_after:
            return None
        # never above what the bond just announced: that much it has carried
        step_to = self.current * (1 + self.up_step * min(elapsed, 2.0))
        return self.change(min(step_to, available), "up")

    def on_silence(self):
        self.roomy_since = self.headroom = None
        return self.change(self.min_kbps, "no report")

    def change(self, kbps, reason):
        kbps = int(round(self.clamp(kbps)))
        if kbps == self.current:
            return None
        self.current = kbps
        return kbps, reason


def host_port(text):
    text = text.removeprefix("udp://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not [udp://]HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class Parser(argparse.ArgumentParser):
    """A bad argument: one line naming it, exit status 2."""

    def error(self, message):
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    p = Parser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feedback", type=host_port, required=True, metavar="[udp://]ADDR:PORT",
                   help="where braid send --bitrate-out sends its datagrams (bound here)")
    p.add_argument("--to", type=host_port, required=True, metavar="HOST:PORT",
                   help="braid send's --input")
    p.add_argument("--share", type=float, default=0.8,
                   help="on a step down, the share of the announced bitrate to encode at "
                        "(default 0.8)")
    p.add_argument("--min-kbps", type=int, default=500, help="floor (default 500)")
    p.add_argument("--max-kbps", type=int, default=6000, help="ceiling (default 6000)")
    p.add_argument("--start-kbps", type=int, default=None,
                   help="bitrate before the first report (default --min-kbps)")
    p.add_argument("--up-after", type=float, default=2.0,
                   help="seconds the links must carry all of it before a step up "
                        "(default 2)")
    p.add_argument("--up-step", type=float, default=0.1,
                   help="largest step up per second, a share of the bitrate (default 0.1)")
    p.add_argument("--smoothing", type=float, default=0.3,
                   help="weight of each new report in the smoothed headroom for steps up, "
                        "0..1 (default 0.3)")
    p.add_argument("--source", default="videotestsrc is-live=true pattern=ball",
                   help="a GStreamer source description producing raw video "
                        "(default: a test pattern; e.g. 'v4l2src device=/dev/video0')")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    p.add_argument("--preset", default="veryfast", help="x264 speed-preset (default veryfast)")
    p.add_argument("--duration", type=float, default=0,
                   help="stop after this many seconds (default: run until interrupted)")
    args = p.parse_args(argv)
    if not 0 < args.share <= 1:
        p.error(f"--share: '{args.share}' is not in (0, 1]")
    if not 1 <= args.min_kbps <= args.max_kbps:
        p.error("--min-kbps and --max-kbps: need 1 <= min <= max")
    if not 0 < args.smoothing <= 1:
        p.error(f"--smoothing: '{args.smoothing}' is not in (0, 1]")
    if args.up_step <= 0 or args.up_after < 0:
        p.error("--up-step must be above 0 and --up-after not below 0")
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        p.error(f"--size: '{args.size}' is not WIDTHxHEIGHT")
    args.width, args.height = int(width), int(height)
    if args.start_kbps is None:
        args.start_kbps = args.min_kbps
    args.start_kbps = max(args.min_kbps, min(args.max_kbps, args.start_kbps))
    return args


def build_pipeline(args):
    host, port = args.to
    # vbv-buf-capacity: a short buffer keeps the output near the set rate second by second
    # (the links see bursts, not averages); key-int-max: a keyframe every 2 s, so a viewer
    # joining or a receiver recovering from loss waits little. alignment=7: 1316-byte
    # datagrams, seven TS packets, what braid send expects from an encoder.
    desc = (f"{args.source} ! videoconvert ! videoscale ! "
            f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 ! "
            f"x264enc name=enc tune=zerolatency speed-preset={args.preset} "
            f"bitrate={args.start_kbps} vbv-buf-capacity=500 key-int-max={2 * args.fps} ! "
            f"h264parse ! mpegtsmux alignment=7 ! "
            f"udpsink host={host} port={port} sync=false")
    return Gst.parse_launch(desc)


def log(**fields):
    fields = {"time": round(time.time(), 3), **fields}
    print(json.dumps(fields), flush=True)


class Follower:
    """The pipeline, the feedback socket and the policy on one GLib main loop."""

    def __init__(self, args, pipeline):
        self.pipeline = pipeline
        self.encoder = pipeline.get_by_name("enc")
        self.policy = Policy(args)
        family = socket.AF_INET6 if ":" in args.feedback[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(args.feedback)
        self.sock.setblocking(False)
        self.loop = GLib.MainLoop()
        self.heard = time.monotonic()
        self.status = 0

    def apply(self, result, report):
        if result is None:
            return
        kbps, reason = result
        before = self.encoder.get_property("bitrate")
        self.encoder.set_property("bitrate", kbps)
        log(event="bitrate", kbps=kbps, was_kbps=before, reason=reason,
            available_kbps=round(report.get("available_bitrate", 0) / 1000.0),
            live_links=report.get("live_links"))

    def on_datagram(self, _fd, _cond):
        while True:
            try:
                data = self.sock.recv(2048)
            except BlockingIOError:
                return True
            try:
                report = json.loads(data)
                float(report["available_bitrate"])
            except (ValueError, KeyError, TypeError):
                log(event="ignored", datagram=data[:80].decode("utf-8", "replace"))
                continue
            self.heard = time.monotonic()
            self.apply(self.policy.on_report(report, self.heard), report)

    def on_tick(self):
        if time.monotonic() - self.heard > SILENCE_S:
            self.heard = time.monotonic()
            self.apply(self.policy.on_silence(), {})
        return True

    def on_bus(self, _bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            log(event="error", message=err.message, debug=debug)
            self.status = 1
            self.loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            self.loop.quit()

    def run(self, args):
        GLib.io_add_watch(self.sock.fileno(), GLib.IO_IN, self.on_datagram)
        GLib.timeout_add(500, self.on_tick)
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop cleanly, the mux's end written
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.loop.quit)
        if args.duration > 0:
            GLib.timeout_add(int(args.duration * 1000), self.loop.quit)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_bus)
        self.pipeline.set_state(Gst.State.PLAYING)
        bound = self.sock.getsockname()
        log(event="start", kbps=args.start_kbps, to=f"{args.to[0]}:{args.to[1]}",
            feedback=f"{bound[0]}:{bound[1]}")
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        self.sock.close()
        return self.status


def main(argv):
    args = parse_args(argv)
    Gst.init(None)
    try:
        pipeline = build_pipeline(args)
    except GLib.Error as e:
        print(f"braid-x264-follow.py: --source: {e.message}", file=sys.stderr)
        return 2
    try:
        follower = Follower(args, pipeline)
    except OSError as e:
        print(f"braid-x264-follow.py: --feedback: {e.strerror}", file=sys.stderr)
        return 2
    return follower.run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
