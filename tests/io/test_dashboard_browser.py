#!/usr/bin/python3
"""The dashboard in a real browser: headless Chromium, driven over the DevTools protocol
(python3-websocket), loads braid recv's and braid send's pages during a bonded stream
through two `braid emu` links, one of which goes dark mid-stream. Checked: the charts move
from one second to the next; every figure the page shows (totals, each link's state, rate,
RTT, loss, jitter, packets) is the value of the stats line the page says it shows, as
/history.json and the --stats file hold it; the link's fall reaches the state chart and
the event log; the page fetches nothing but its own server. Screenshots go to the test's
directory, and recv's to /tmp/braid-dashboard.png for people to look at."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import braidtest as bt  # noqa: E402
import dashtest as dt  # noqa: E402
import websocket  # noqa: E402  (python3-websocket)

CHROMIUM = "/usr/bin/chromium"
SHOWCASE = "/tmp/braid-dashboard.png"

# What the page shows, read from its DOM: the line's t, the totals cards, each link's
# row, each chart's series (point counts and polyline coordinates) and the event log.
READ_DOM = """(() => {
  const t = document.getElementById('t').dataset.value;
  const totals = {};
  for (const c of document.querySelectorAll('#totals .card'))
    totals[c.dataset.field] = { value: c.dataset.value, text: c.querySelector('.n').textContent };
  const links = {};
  for (const row of document.querySelectorAll('#links tbody tr')) {
    const cells = {};
    for (const td of row.querySelectorAll('td[data-field]'))
      cells[td.dataset.field] = { value: td.dataset.value, text: td.textContent };
    links[row.dataset.link] = cells;
  }
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    charts[svg.id] = [...svg.querySelectorAll('polyline')].map(p => ({
      series: p.dataset.series, count: +p.dataset.count, points: p.getAttribute('points') }));
  }
  const states = [...document.querySelectorAll('#chart-state rect')].map(r =>
    [r.dataset.series, r.dataset.state]);
  const events = [...document.querySelectorAll('#events li')].map(li => li.textContent);
  return JSON.stringify({ t: t === '' ? null : +t, totals, links, charts, states, events,
                          status: document.getElementById('status').textContent });
})()"""


class DevTools:
    """One page of a headless Chromium, over its DevTools websocket."""

    def __init__(self, work):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
        self.log = open(os.path.join(work, "chromium.stderr"), "w+")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={self.profile}", "--no-first-run",
             "--window-size=1280,1500", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            start_new_session=True)
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20)
        self.next_id = 0
        self.events = []

    def _devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError("chromium gave no DevTools port:\n" + self.log.read())

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result["result"].get("value")

    def requested_urls(self):
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # already gone: the group is ended below either way
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        # the browser's helpers are in the group started with it; end it by its id
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.ws.close()
        self.log.close()


NOT_LOADED = {"t": None, "totals": {}, "links": {}, "charts": {}, "states": [], "events": [],
              "status": "not loaded"}


def read_dom(tools):
    value = tools.evaluate(READ_DOM)  # None while the page is still loading
    return json.loads(value) if value else NOT_LOADED


def wait_for(tools, condition, timeout):
    deadline = time.monotonic() + timeout
    dom = read_dom(tools)
    while not condition(dom) and time.monotonic() < deadline:
        time.sleep(0.25)
        dom = read_dom(tools)
    return dom


def stats_links(line):
    if line["role"] == "send":
        return {l["name"]: l for l in line["links"]}
    return {f"{s['session']}/{l['name']}": l for s in line["sessions"] for l in s["links"]}


def as_number(text):
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None


def check_values(checks, role, dom, line):
    """The page's figures are the line's, both as kept (data-value) and as shown."""
    wrong = []
    for field, cell in dom["totals"].items():
        if as_number(cell["value"]) != line["totals"][field]:
            wrong.append(f"total {field}: {cell['value']} != {line['totals'][field]}")
    expected = stats_links(line)
    if set(dom["links"]) != set(expected):
        wrong.append(f"links {sorted(dom['links'])} != {sorted(expected)}")
    scales = {"loss": 100}
    for key, cells in dom["links"].items():
        for field, cell in cells.items():
            want = expected.get(key, {}).get(field)
            kept = cell["value"] if field == "state" else as_number(cell["value"])
            if kept != want:
                wrong.append(f"{key} {field}: {cell['value']} != {want}")
            shown = as_number(cell["text"])
            if field != "state" and (shown is None or abs(shown - want * scales.get(
                    field, 1)) > 0.051 * scales.get(field, 1) + 1e-9):
                wrong.append(f"{key} {field} shown as {cell['text']} for {want}")
    checks.check(not wrong and len(dom["links"]) == 2 and dom["totals"],
                 f"{role}: the page shows the stats line of t={line['t']}: "
                 f"{len(dom['totals'])} totals, {len(dom['links'])} links x "
                 f"{len(next(iter(dom['links'].values()), {}))} fields"
                 + ("" if not wrong else f" -- {wrong[:6]}"))


def line_at(port, t):
    _, body = dt.get(port, "/history.json")
    return next((l for l in json.loads(body) if l["t"] == t), None)


def series_counts(dom, chart):
    return {s["series"]: s["count"] for s in dom["charts"].get(chart, [])}


def check_page(tools, checks, role, port, stats_path, work):
    url = f"http://127.0.0.1:{port}/"
    tools.events.clear()
    tools.call("Page.navigate", url=url)
    first = wait_for(tools, lambda d: d["t"] is not None and len(d["links"]) == 2 and all(
        c >= 2 for c in series_counts(d, "chart-throughput").values()), 10)
    checks.check(first["t"] is not None and first["status"] == "live",
                 f"{role}: the page is live (t={first['t']}, status '{first['status']}')")
    later = wait_for(tools, lambda d: d["t"] is not None and first["t"] is not None and
                     d["t"] >= first["t"] + 2, 6)
    moved = []
    for chart in ("chart-output", "chart-throughput", "chart-rtt", "chart-loss"):
        a, b = first["charts"].get(chart, []), later["charts"].get(chart, [])
        counts_grew = sum(x["count"] for x in b) > sum(x["count"] for x in a)
        moved.append(bool(b) and counts_grew and [x["points"] for x in a] !=
                     [x["points"] for x in b])
    checks.check(all(moved), f"{role}: the four line charts move from t={first['t']} to "
                             f"t={later['t']} ({moved})")
    checks.check(len(later["states"]) > len(first["states"]),
                 f"{role}: the state chart grows ({len(first['states'])} -> "
                 f"{len(later['states'])} bars)")
    line = line_at(port, later["t"])
    checks.check(line is not None and line in bt.json_lines(stats_path),
                 f"{role}: the line the page shows (t={later['t']}) is in /history.json "
                 f"and in the --stats file")
    if line:
        check_values(checks, role, later, line)
    foreign = [u for u in tools.requested_urls() if not u.startswith(url)]
    checks.check(not foreign and tools.requested_urls(),
                 f"{role}: the page fetched only from its server "
                 f"({len(tools.requested_urls())} requests{', foreign: ' if foreign else ''}"
                 f"{foreign[:3] if foreign else ''})")
    return later


def screenshot(tools, path):
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    return path


def check_outage(tools, checks, stream, port):
    """lte goes dark: the page must show it down, in the state chart and the event log."""
    stream.emus[1].send_signal(signal.SIGUSR1)
    dom = wait_for(tools, lambda d: any(k.endswith("lte") and s == "down"
                                        for k, s in d["states"]), 8)
    checks.check(any(k.endswith("lte") and s == "down" for k, s in dom["states"]),
                 "recv: lte's outage shows in the state chart")
    down = [e for e in dom["events"] if re.search(r"link lte: \w+ \u2192 down", e)]
    _, body = dt.get(port, "/events.json")
    served = [e for e in json.loads(body) if e.get("link") == "lte" and e.get("to") == "down"]
    checks.check(down and served and f"[{served[0]['t']:.3f}]" in " ".join(down),
                 f"recv: the event log shows it as /events.json has it ({down[:1]})")
    return dom


def run(braid, work, checks):
    procs = bt.Procs(work)
    tools = None
    try:
        stream = dt.Stream(procs, braid, work, seconds=14)
        time.sleep(0.3)
        stream.start_pacing()
        tools = DevTools(work)
        tools.call("Network.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=1500,
                   deviceScaleFactor=1, mobile=False)
        check_page(tools, checks, "send", stream.send_http, stream.send.stats_path, work)
        screenshot(tools, os.path.join(work, "dashboard-send.png"))
        check_page(tools, checks, "recv", stream.recv_http, stream.recv.stats_path, work)
        check_outage(tools, checks, stream, stream.recv_http)
        time.sleep(1.2)  # one more poll, so the picture has a little of the outage
        shot = screenshot(tools, os.path.join(work, "dashboard-recv.png"))
        with open(shot, "rb") as f:
            png = f.read()
        checks.check(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20000,
                     f"a screenshot of recv's page ({len(png)} bytes)")
        shutil.copyfile(shot, SHOWCASE)
        print(f"figure: screenshot at {SHOWCASE}")
        stream.emus[1].send_signal(signal.SIGUSR1)
        stream.wait_paced()
        time.sleep(1.5)
        checks.check(procs.stop(stream.send) == 0 and procs.stop(stream.recv) == 0,
                     "send and recv exit cleanly after being watched")
    finally:
        if tools:
            tools.close()
        procs.stop_all()


def main(braid):
    checks = bt.Checks("dashboard_browser")
    if not os.access(CHROMIUM, os.X_OK):
        print(f"FAILED: {CHROMIUM} missing: scripts/deps.sh installs chromium")
        return 1
    with bt.tempdir() as work:
        run(braid, work, checks)
    return checks.finish()


if __name__ == "__main__":
    bt.main_guard(main)
