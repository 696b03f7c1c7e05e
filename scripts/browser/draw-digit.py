#!/usr/bin/env python3
"""Draws digits on the `digits serve` page in headless Chromium, through the DevTools protocol.

Starts Chromium (--headless=new, --remote-debugging-port=0), opens URL, draws each stroke set
with real input events (Input.dispatchMouseEvent; one digit with Input.dispatchTouchEvent),
waits until the page shows a new prediction in the DOM, saves a screenshot per digit into OUT,
and prints one JSON object: {"results": [{"drawn", "input", "digit", "confidence", "screenshot",
"bars"}, ...]}. Every wait has a deadline; exits non-zero with a message on failure.

usage: draw-digit.py --url http://127.0.0.1:PORT/ --out DIR [--chromium /usr/bin/chromium]
"""
import argparse
import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client, pinned in scripts/py-requirements.txt

# Strokes in canvas pixels (the canvas is 280x280), drawn like a person would.
def ellipse(cx, cy, rx, ry, n=48):
    return [(cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n)) for i in range(n + 1)]

DRAWINGS = [
    ("7", "mouse", [[(70, 60), (210, 60), (175, 130), (135, 235)]]),
    ("0", "mouse", [ellipse(140, 145, 62, 95)]),
    ("1", "touch", [[(145, 40), (140, 140), (138, 240)]]),
]


def fail(message):
    print("draw-digit.py: " + message, file=sys.stderr)
    sys.exit(1)


class DevTools:
    def __init__(self, ws_url, timeout):
        self.ws = websocket.create_connection(ws_url, timeout=timeout)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == mine:
                if "error" in message:
                    fail("%s failed: %s" % (method, message["error"]))
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            fail("page script failed: %s" % result["exceptionDetails"])
        return result["result"].get("value")


def wait_for(what, predicate, deadline):
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def interpolate(points, step=4.0):
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def draw(dt, rect, strokes, kind):
    sx, sy = rect["width"] / 280.0, rect["height"] / 280.0
    for stroke in strokes:
        pts = [(rect["x"] + x * sx, rect["y"] + y * sy) for x, y in interpolate(stroke)]
        if kind == "mouse":
            dt.call("Input.dispatchMouseEvent", type="mouseMoved", x=pts[0][0], y=pts[0][1])
            dt.call("Input.dispatchMouseEvent", type="mousePressed", x=pts[0][0], y=pts[0][1], button="left", buttons=1, clickCount=1)
            for x, y in pts[1:]:
                dt.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1)
            dt.call("Input.dispatchMouseEvent", type="mouseReleased", x=pts[-1][0], y=pts[-1][1], button="left", buttons=0, clickCount=1)
        else:
            dt.call("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": pts[0][0], "y": pts[0][1]}])
            for x, y in pts[1:]:
                dt.call("Input.dispatchTouchEvent", type="touchMove", touchPoints=[{"x": x, "y": y}])
            dt.call("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="digits-chromium-")
    browser = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--user-data-dir=" + profile, "--window-size=900,620", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + args.timeout
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        wait_for("Chromium's DevToolsActivePort", lambda: os.path.exists(port_file) and open(port_file).read().count("\n") >= 1, deadline)
        port = int(open(port_file).read().split("\n")[0])
        def page_target():
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                return next((t for t in json.load(r) if t.get("type") == "page"), None)
        target = wait_for("a page target", page_target, deadline)
        dt = DevTools(target["webSocketDebuggerUrl"], timeout=max(1.0, deadline - time.time()))
        dt.call("Page.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=900, height=620, deviceScaleFactor=1, mobile=False)
        dt.call("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=1)
        dt.call("Page.navigate", url=args.url)
        wait_for("the page to load", lambda: dt.evaluate("document.readyState === 'complete' && !!document.getElementById('pad')"), deadline)
        rect = dt.evaluate("(function(){var r=document.getElementById('pad').getBoundingClientRect();return {x:r.left,y:r.top,width:r.width,height:r.height};})()")
        clear = dt.evaluate("(function(){var r=document.getElementById('clear').getBoundingClientRect();return {x:r.left+r.width/2,y:r.top+r.height/2};})()")
        results = []
        for drawn, kind, strokes in DRAWINGS:
            # Clear with a real click, then check the page really cleared.
            dt.call("Input.dispatchMouseEvent", type="mousePressed", x=clear["x"], y=clear["y"], button="left", buttons=1, clickCount=1)
            dt.call("Input.dispatchMouseEvent", type="mouseReleased", x=clear["x"], y=clear["y"], button="left", buttons=0, clickCount=1)
            wait_for("the page to clear", lambda: dt.evaluate("!document.getElementById('digit').hasAttribute('data-digit')"), deadline)
            before = int(dt.evaluate("document.getElementById('digit').getAttribute('data-count')"))
            draw(dt, rect, strokes, kind)
            wait_for("a prediction of the drawn %s in the DOM" % drawn,
                     lambda: int(dt.evaluate("document.getElementById('digit').getAttribute('data-count')")) > before
                     and dt.evaluate("document.getElementById('seen').complete && document.getElementById('seen').naturalWidth === 28"), deadline)
            state = dt.evaluate("""(function(){
                var bars = [];
                // Rendered fill width as a fraction of its track (what a person sees).
                for (var k = 0; k < 10; k++) {
                    var fill = document.querySelector('#bar' + k + ' .fill').getBoundingClientRect().width;
                    var track = document.querySelector('#bar' + k + ' .track').getBoundingClientRect().width;
                    bars.push(track > 0 ? fill / track : -1);
                }
                return {digit: document.getElementById('digit').textContent,
                        confidence: document.getElementById('confidence').textContent, bars: bars,
                        ink: document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data.filter(function(v, i){ return i % 4 === 0 && v < 128; }).length};
            })()""")
            shot = dt.call("Page.captureScreenshot", format="png")
            path = os.path.abspath(os.path.join(args.out, "draw-%s-%s.png" % (drawn, kind)))
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            results.append({"drawn": drawn, "input": kind, "digit": state["digit"], "confidence": state["confidence"],
                            "bars": state["bars"], "ink_pixels": state["ink"], "screenshot": path})
        print(json.dumps({"results": results}))
        try:
            dt.call("Browser.close")
        except Exception:
            pass
    finally:
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
