// GET /: a self-contained page (inline HTML, CSS and JS; no network but /v1/predict) where a
// person draws a digit with the mouse, a pen or a finger (pointer events, with mouse/touch
// fallbacks). Each finished stroke sends the canvas as PNG to /v1/predict and shows the digit, a
// probability bar per class and the 28x28 image the model saw.

enum DrawingPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Digits: draw a digit</title>
        <style>
          body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
          h1 { font-size: 20px; margin: 0 0 12px; }
          .row { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
          #pad { border: 2px solid #444; border-radius: 6px; background: #fff; touch-action: none; cursor: crosshair;
                 width: 280px; height: 280px; display: block; }
          button { margin-top: 10px; font-size: 15px; padding: 6px 18px; }
          #digit { font-size: 96px; font-weight: 700; line-height: 1; min-width: 70px; text-align: center; }
          #bars { margin-top: 8px; }
          .bar { display: flex; align-items: center; gap: 6px; font-size: 13px; height: 18px; font-variant-numeric: tabular-nums; }
          .bar .label { width: 12px; text-align: right; }
          .bar .track { width: 180px; height: 12px; background: #e4e4e4; border-radius: 3px; overflow: hidden; }
          .bar .fill { display: block; height: 100%; width: 0; background: #3b7dd8; }
          .bar.best .fill { background: #d8553b; }
          .bar .pct { width: 52px; }
          #seen { width: 112px; height: 112px; image-rendering: pixelated; background: #000; border: 1px solid #444; display: block; }
          .muted { color: #777; font-size: 13px; }
        </style>
        </head>
        <body>
        <h1>Draw a digit (0-9)</h1>
        <div class="row">
          <div>
            <canvas id="pad" width="280" height="280"></canvas>
            <button id="clear" type="button">Clear</button>
            <div id="status" class="muted">Draw with the mouse or a finger.</div>
          </div>
          <div>
            <div class="muted">prediction</div>
            <div id="digit" data-count="0">&ndash;</div>
            <div id="confidence" class="muted"></div>
            <div id="bars"></div>
          </div>
          <div>
            <div class="muted">what the model saw (28x28)</div>
            <img id="seen" alt="28x28 model input">
            <div id="latency" class="muted"></div>
          </div>
        </div>
        <script>
        (function () {
          "use strict";
          var pad = document.getElementById("pad"), ctx = pad.getContext("2d");
          var digitEl = document.getElementById("digit"), bars = document.getElementById("bars");
          var statusEl = document.getElementById("status"), seen = document.getElementById("seen");
          var drawing = false, inked = false, sequence = 0, predictions = 0;
          for (var k = 0; k < 10; k++) {
            var row = document.createElement("div");
            row.className = "bar"; row.id = "bar" + k;
            row.innerHTML = '<span class="label">' + k + '</span>' +
              '<span class="track"><span class="fill"></span></span><span class="pct"></span>';
            bars.appendChild(row);
          }
          function reset() {
            ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height);
            ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#000";
            inked = false; sequence++;
            digitEl.textContent = "\u2013"; digitEl.removeAttribute("data-digit");
            document.getElementById("confidence").textContent = "";
            document.getElementById("latency").textContent = "";
            seen.removeAttribute("src");
            for (var k = 0; k < 10; k++) { show(k, 0, false); }
          }
          function show(k, p, best) {
            var row = document.getElementById("bar" + k);
            row.className = best ? "bar best" : "bar";
            row.querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
            row.querySelector(".pct").textContent = p > 0 ? (100 * p).toFixed(1) + "%" : "";
          }
          function point(e) {
            var r = pad.getBoundingClientRect();
            return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
          }
          function start(e) {
            drawing = true; inked = true;
            var p = point(e);
            ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(p[0] + 0.01, p[1]); ctx.stroke();
          }
          function move(e) {
            if (!drawing) return;
            var p = point(e);
            ctx.lineTo(p[0], p[1]); ctx.stroke();
          }
          function end() {
            if (!drawing) return;
            drawing = false;
            predict();
          }
          function predict() {
            if (!inked) return;
            var mine = ++sequence;
            statusEl.textContent = "classifying\u2026";
            pad.toBlob(function (blob) {
              fetch("/v1/predict", { method: "POST", headers: { "Content-Type": "image/png" }, body: blob })
                .then(function (r) { return r.json(); })
                .then(function (j) {
                  if (mine !== sequence) return;  // cleared or redrawn meanwhile
                  if (j.error) { statusEl.textContent = "error: " + j.error; return; }
                  predictions++;
                  digitEl.textContent = String(j.digit);
                  digitEl.setAttribute("data-digit", String(j.digit));
                  digitEl.setAttribute("data-count", String(predictions));
                  document.getElementById("confidence").textContent = "confidence " + (100 * j.confidence).toFixed(1) + "%";
                  for (var k = 0; k < 10; k++) { show(k, j.probabilities[k], k === j.digit); }
                  seen.src = "data:image/png;base64," + j.input_png;
                  document.getElementById("latency").textContent = "server latency " + j.latency_ms.toFixed(2) + " ms";
                  statusEl.textContent = "Draw more, or Clear.";
                })
                .catch(function (err) { statusEl.textContent = "error: " + err; });
            }, "image/png");
          }
          if (window.PointerEvent) {
            pad.addEventListener("pointerdown", function (e) { pad.setPointerCapture(e.pointerId); start(e); e.preventDefault(); });
            pad.addEventListener("pointermove", function (e) { move(e); e.preventDefault(); });
            pad.addEventListener("pointerup", end);
            pad.addEventListener("pointercancel", end);
          } else {
            pad.addEventListener("mousedown", start);
            pad.addEventListener("mousemove", move);
            window.addEventListener("mouseup", end);
            pad.addEventListener("touchstart", function (e) { start(e.touches[0]); e.preventDefault(); });
            pad.addEventListener("touchmove", function (e) { move(e.touches[0]); e.preventDefault(); });
            pad.addEventListener("touchend", function (e) { end(); e.preventDefault(); });
          }
          document.getElementById("clear").addEventListener("click", reset);
          reset();
        })();
        </script>
        </body>
        </html>
        """#
}
