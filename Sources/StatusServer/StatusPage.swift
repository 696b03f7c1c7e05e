// The live status page: one self-contained HTML document (inline CSS and JS, no network beyond
// its own server) that polls /status.json every second and redraws the job state, progress, the
// workers table, loss and accuracy curves (inline SVG), checkpoints and recent errors.
enum StatusPage {
    static let html = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Digits cluster status</title>
        <style>
          :root {
            --fg:#1d2330; --muted:#6b7385; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff;
            --blue:#2f6fde; --orange:#e07b24; --green:#2e9d57; --red:#c93c3c;
          }
          * { box-sizing: border-box; }
          body {
            margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
            color: var(--fg); background: var(--bg);
          }
          header {
            display: flex; align-items: baseline; gap: 14px; padding: 12px 20px;
            background: var(--card); border-bottom: 1px solid var(--line); flex-wrap: wrap;
          }
          header h1 { font-size: 18px; margin: 0; }
          .badge { padding: 2px 10px; border-radius: 10px; font-weight: 600; font-size: 12px;
            text-transform: uppercase; background: #e8ecf3; }
          .badge.training { background: #dbe8ff; color: var(--blue); }
          .badge.finished { background: #daf2e2; color: var(--green); }
          .badge.failed, .badge.stopped, .badge.disconnected { background: #fbe0e0; color: var(--red); }
          .badge.waiting { background: #fff0d9; color: var(--orange); }
          .muted { color: var(--muted); }
          main { padding: 14px 20px; display: grid; grid-template-columns: 1fr 1fr; gap: 14px; max-width: 1280px; }
          section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
          section.wide { grid-column: 1 / -1; }
          h2 { font-size: 14px; margin: 0 0 8px; }
          .bar { height: 14px; background: #e8ecf3; border-radius: 7px; overflow: hidden; margin: 8px 0; }
          .bar > div { height: 100%; background: var(--blue); width: 0; transition: width .4s; }
          .stats { display: flex; gap: 22px; flex-wrap: wrap; }
          .stats b { font-size: 16px; display: block; }
          table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
          th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
          th { font-weight: 600; color: var(--muted); font-size: 12px; }
          td.num, th.num { text-align: right; }
          .state-ready { color: var(--green); font-weight: 600; }
          .state-dropped { color: var(--red); font-weight: 600; }
          .state-joining { color: var(--orange); }
          svg { width: 100%; height: 220px; display: block; }
          svg text { font-size: 11px; fill: var(--muted); }
          ul.events {
            margin: 0; padding-left: 18px; max-height: 180px; overflow-y: auto;
            font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px;
          }
          .lvl-error, .lvl-critical { color: var(--red); }
          .lvl-warning { color: var(--orange); }
          @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
        </style>
        </head>
        <body>
        <header>
          <h1>Digits cluster</h1>
          <span id="state" class="badge" data-state="">loading</span>
          <span id="job" class="muted"></span>
          <span id="updated" class="muted"></span>
        </header>
        <main>
          <section class="wide">
            <h2>Progress</h2>
            <div id="progress-text">waiting for the first status&hellip;</div>
            <div class="bar"><div id="progress-bar"></div></div>
            <div class="stats">
              <div><span class="muted">epoch</span><b id="epoch">-</b></div>
              <div><span class="muted">step</span><b id="global-step" data-value="0">-</b></div>
              <div><span class="muted">ETA</span><b id="eta">-</b></div>
              <div><span class="muted">elapsed</span><b id="elapsed">-</b></div>
              <div><span class="muted">images/s</span><b id="images-per-second">-</b></div>
              <div><span class="muted">epoch loss / acc</span><b id="epoch-metrics">-</b></div>
              <div><span class="muted">push latency p50 / p95</span><b id="latency">-</b></div>
            </div>
          </section>
          <section class="wide">
            <h2>Workers <span id="workers-summary" class="muted"></span></h2>
            <table id="workers">
              <thead><tr><th>id</th><th>name</th><th>host</th><th>state</th><th class="num">last heartbeat</th><th>assigned (open step)</th>
                <th class="num">computed</th><th class="num">pushes</th><th class="num">images/s</th>
                <th class="num">drops</th><th class="num">rejected</th></tr></thead>
              <tbody></tbody>
            </table>
          </section>
          <section>
            <h2>Loss <span class="muted">(x: global step)</span></h2>
            <svg id="loss-chart" data-points="0" viewBox="0 0 560 220" preserveAspectRatio="none"></svg>
          </section>
          <section>
            <h2>Accuracy <span class="muted">(x: global step)</span></h2>
            <svg id="accuracy-chart" data-points="0" viewBox="0 0 560 220" preserveAspectRatio="none"></svg>
          </section>
          <section>
            <h2>Checkpoints</h2>
            <table id="checkpoints">
              <thead><tr><th>file</th><th class="num">step</th><th class="num">size</th><th>written</th></tr></thead>
              <tbody></tbody>
            </table>
          </section>
          <section>
            <h2>Recent warnings and errors</h2>
            <ul id="events" class="events"></ul>
            <h2 style="margin-top:10px">Refused messages</h2>
            <div id="rejected" class="muted">none</div>
          </section>
        </main>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);
        const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
        const fmt = (x, d) => (x === null || x === undefined || !isFinite(x)) ? "-" : Number(x).toFixed(d);
        function duration(s) {
          if (s === null || s === undefined || !isFinite(s)) return "-";
          s = Math.round(s);
          const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
          return (h ? h + "h " : "") + (h || m ? m + "m " : "") + sec + "s";
        }
        function bytes(n) { return n > 1e6 ? (n / 1e6).toFixed(1) + " MB" : n > 1e3 ? (n / 1e3).toFixed(1) + " KB" : n + " B"; }
        function ms(s) { return s === null || s === undefined ? "-" : (s * 1000).toFixed(2) + " ms"; }
        // The steps assigned to a worker: how many, and the first 12 of them.
        function assignedSteps(a) {
          return a.length ? a.length + " [" + a.slice(0, 12).join(", ") + (a.length > 12 ? ", …" : "") + "]" : "-";
        }

        // A line chart in inline SVG: x = global step, several series of [x, y] points.
        function chart(svg, series, yLabel, ceiling) {
          const W = 560, H = 220, L = 46, R = 10, T = 24, B = 24;
          const all = series.flatMap((s) => s.points);
          let xmax = Math.max(1, ...all.map((p) => p[0]));
          let ymin = Math.min(...all.map((p) => p[1])), ymax = Math.max(...all.map((p) => p[1]));
          if (!all.length) { ymin = 0; ymax = 1; }
          const pad = (ymax - ymin) * 0.08 || 0.05;
          ymin = Math.max(0, ymin - pad); ymax += pad;
          if (ceiling !== undefined) ymax = Math.min(ceiling, ymax);
          const x = (v) => L + (W - L - R) * v / xmax, y = (v) => T + (H - T - B) * (1 - (v - ymin) / (ymax - ymin || 1));
          let out = `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#dfe3ea"/>`;
          for (let i = 0; i <= 4; i++) {
            const v = ymin + (ymax - ymin) * i / 4;
            out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eef0f4"/>` +
              `<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(ymax - ymin < 0.2 ? 3 : 2)}</text>`;
          }
          for (let i = 0; i <= 4; i++) {
            const v = Math.round(xmax * i / 4);
            out += `<text x="${x(v)}" y="${H - 8}" text-anchor="${i === 4 ? "end" : i === 0 ? "start" : "middle"}">${v}</text>`;
          }
          let legend = L + 8;
          for (const s of series) {
            if (s.points.length) {
              const d = s.points.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join("");
              out += `<path class="series" data-name="${esc(s.name)}" data-points="${s.points.length}" d="${d}" fill="none"` +
                ` stroke="${s.color}" stroke-width="${s.width || 1.6}"/>`;
              if (s.dots) for (const p of s.points) out += `<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3" fill="${s.color}"/>`;
            }
            out += `<rect x="${legend}" y="7" width="10" height="3" fill="${s.color}"/>` +
              `<text x="${legend + 14}" y="12">${esc(s.name)}</text>`;
            legend += 16 + 7 * s.name.length;
          }
          svg.innerHTML = out;
          svg.setAttribute("data-points", String(all.length));
        }

        function render(s) {
          const st = $("state");
          st.textContent = s.job.state; st.className = "badge " + s.job.state; st.dataset.state = s.job.state;
          $("job").textContent = `${s.job.model} (${s.job.parameters.toLocaleString()} parameters), ${s.job.mode}, ` +
            `batch ${s.job.batch_size} = micro-batches of ${s.job.micro_batch}, seed ${s.job.seed}` +
            (s.job.run_directory ? ` · ${s.job.run_directory}` : "") + (s.job.message ? ` · ${s.job.message}` : "") +
            (s.job.numerics ? ` · numerics ${s.job.numerics}` : "") +
            ((s.job.mixed_numerics_peers || []).length ? ` · MIXED NUMERICS (not reproducible): ${s.job.mixed_numerics_peers.join(", ")}` :
              (s.job.allow_mixed_numerics ? " · mixed numerics allowed" : ""));
          $("updated").textContent = "updated " + new Date(s.job.time * 1000).toLocaleTimeString();
          const p = s.progress;
          $("progress-bar").style.width = (100 * p.fraction).toFixed(1) + "%";
          $("progress-text").textContent = `epoch ${p.epoch}/${p.epochs}, step ${p.step_in_epoch}/${p.steps_per_epoch} · ` +
            `${p.global_step}/${p.total_steps} steps (${(100 * p.fraction).toFixed(1)}%)` +
            (p.stopped_early ? " · stopped early" : "") + (p.best_epoch ? ` · best epoch ${p.best_epoch}` : "");
          $("epoch").textContent = `${p.epoch}/${p.epochs}`;
          $("global-step").textContent = `${p.global_step}/${p.total_steps}`; $("global-step").dataset.value = String(p.global_step);
          $("eta").textContent = s.job.state === "finished" ? "done" : duration(p.eta_seconds);
          $("elapsed").textContent = duration(s.job.elapsed_seconds);
          $("images-per-second").textContent = fmt(p.images_per_second, 0);
          $("epoch-metrics").textContent = `${fmt(p.epoch_loss, 4)} / ${fmt(p.epoch_accuracy, 4)}`;
          $("latency").textContent = `${ms(s.push_latency.p50)} / ${ms(s.push_latency.p95)}`;

          const alive = s.workers.filter((w) => w.state === "ready").length;
          $("workers-summary").textContent = `${alive} ready of ${s.job.workers_expected} expected` +
            (s.job.control_endpoint ? ` · workers dial ${s.job.control_endpoint}` : "");
          $("workers").tBodies[0].innerHTML = s.workers.map((w) =>
            `<tr data-worker-id="${w.id}" data-worker-name="${esc(w.name)}" data-state="${w.state}">` +
            `<td>${w.id}</td><td>${esc(w.name)}</td><td>${esc(w.host)}</td>` +
            `<td class="state-${w.state}">${w.state}</td><td class="num">${fmt(w.last_heartbeat_seconds, 1)} s</td>` +
            `<td>${assignedSteps(w.assigned)}</td>` +
            `<td class="num">${w.computed}</td><td class="num">${w.pushes}</td><td class="num">${fmt(w.images_per_second, 0)}</td>` +
            `<td class="num">${w.drops}</td><td class="num">${w.rejected}</td></tr>`).join("") ||
            `<tr><td colspan="11" class="muted">no worker has joined yet</td></tr>`;

          const h = s.history;
          chart($("loss-chart"), [
            {name: "train (running)", color: "#9db7ea", width: 1.2, points: s.steps.map((q) => [q.step, q.loss])},
            {name: "train (epoch)", color: "#2f6fde", dots: true, points: h.map((e) => [e.step, e.train_loss])},
            {name: "validation", color: "#e07b24", dots: true,
             points: h.filter((e) => e.val_loss !== undefined && e.val_loss !== null).map((e) => [e.step, e.val_loss])},
          ], "loss");
          chart($("accuracy-chart"), [
            {name: "train (running)", color: "#9db7ea", width: 1.2, points: s.steps.map((q) => [q.step, q.accuracy])},
            {name: "train (epoch)", color: "#2f6fde", dots: true, points: h.map((e) => [e.step, e.train_accuracy])},
            {name: "validation", color: "#e07b24", dots: true,
             points: h.filter((e) => e.val_accuracy !== undefined && e.val_accuracy !== null).map((e) => [e.step, e.val_accuracy])},
          ], "accuracy", 1);

          $("checkpoints").tBodies[0].innerHTML = s.checkpoints.map((c) =>
            `<tr><td>${esc(c.name)}</td><td class="num">${c.step === undefined || c.step === null ? "-" : c.step}</td>` +
            `<td class="num">${bytes(c.bytes)}</td><td>${new Date(c.modified * 1000).toLocaleTimeString()}</td></tr>`).join("") ||
            `<tr><td colspan="4" class="muted">none yet</td></tr>`;
          $("events").innerHTML = s.events.slice().reverse().map((e) =>
            `<li class="lvl-${e.level}">${new Date(e.time * 1000).toLocaleTimeString()} ${e.level}: ${esc(e.message)}</li>`).join("") ||
            `<li class="muted">none</li>`;
          const r = Object.entries(s.rejected).filter((kv) => kv[1] > 0);
          $("rejected").textContent = r.length ? r.map((kv) => kv[0] + ": " + kv[1]).join(", ") : "none";
        }

        let last = null;
        async function poll() {
          try {
            const response = await fetch("status.json", {cache: "no-store"});
            if (response.ok) { last = await response.json(); render(last); }
          } catch (e) {
            const st = $("state");
            if (!last || !["finished", "failed", "stopped"].includes(last.job.state)) {
              st.textContent = "disconnected"; st.className = "badge disconnected"; st.dataset.state = "disconnected";
            }
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script>
        </body>
        </html>
        """#
}
