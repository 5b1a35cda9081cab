// Vigil operator console: the shift views (history, a session's whole timeline with its export, the dashboard).
// Plain JavaScript, no dependencies; the charts are SVG drawn here, so the page works offline on the hotline's LAN.
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const SVG = "http://www.w3.org/2000/svg";
  const OUTCOMES = { safe: "Safe", ems_attended: "EMS attended", false_alarm: "False alarm", caller_left: "Caller left", other: "Other" };
  const PAGE = 25;
  let historyOffset = 0;
  let detailId = null;

  function vigil() { return window.vigil; }

  function fail(e) {
    if (e && e.message !== "unauthorized") vigil().raiseAlarm("Could not load: " + e.message);
  }

  // ---- views ----
  function showView(name) {
    for (const b of document.querySelectorAll("nav.views button")) {
      b.setAttribute("aria-pressed", String(b.dataset.view === name));
    }
    $("#board-view").hidden = name !== "board";
    $("#history-view").hidden = name !== "history";
    $("#dashboard-view").hidden = name !== "dashboard";
    if (name === "history") loadHistory().catch(fail);
    if (name === "dashboard") loadDashboard().catch(fail);
  }

  function fmtDuration(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + String(s % 60).padStart(2, "0") + " s" : "");
    return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
  }

  function fmtTime(t) {
    if (!t) return "—";
    const d = new Date(t);
    return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString();
  }

  function cell(tr, label, content) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  }

  // ---- history ----
  async function loadHistory() {
    const r = await vigil().api("GET", "/v1/history?limit=" + PAGE + "&offset=" + historyOffset);
    const body = $("#history-body");
    body.textContent = "";
    for (const s of r.sessions) {
      const tr = document.createElement("tr");
      tr.dataset.sessionId = s.id;
      tr.dataset.outcome = s.outcome || "";
      cell(tr, "Person", s.alias || "(no alias)");
      cell(tr, "Started", fmtTime(s.started_at));
      cell(tr, "Ended", fmtTime(s.ended_at));
      cell(tr, "Duration", fmtDuration(s.duration_s));
      cell(tr, "Outcome", OUTCOMES[s.outcome] || s.outcome || "—");
      cell(tr, "Lapses", s.lapses === 0 ? "none" : String(s.lapses));
      cell(tr, "Deadline → dispatch", s.dispatched ? (s.deadline_to_dispatch_s === null ? "dispatched by hand" :
        fmtDuration(s.deadline_to_dispatch_s)) : "no dispatch");
      cell(tr, "Who acted", s.acted_by.length ? s.acted_by.join(", ") : "—");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Details";
      b.setAttribute("aria-label", "Details of " + (s.alias || "this session"));
      b.dataset.action = "details";
      b.addEventListener("click", () => openDetail(s.id).catch(fail));
      cell(tr, "Details", b);
      body.appendChild(tr);
    }
    $("#history-empty").hidden = r.sessions.length > 0;
    $("#history-newer").disabled = historyOffset === 0;
    $("#history-older").disabled = !r.more;
    $("#history-page").textContent = r.sessions.length ?
      "Sessions " + (historyOffset + 1) + "–" + (historyOffset + r.sessions.length) : "";
  }

  // ---- a session's whole timeline ----
  function byOf(e) {
    const d = e.data || {};
    return d.by || d.operator || (d.source ? "(" + d.source + ")" : "");
  }

  function detailsOf(e) {
    const d = Object.assign({}, e.data || {});
    for (const k of ["by", "role", "operator", "source", "webhook_ids", "webhook_id", "notification"]) delete d[k];
    return Object.keys(d).filter((k) => d[k] !== null && d[k] !== undefined)
      .map((k) => k.replace(/_/g, " ") + ": " + (typeof d[k] === "object" ? JSON.stringify(d[k]) : d[k])).join(" · ");
  }

  async function openDetail(id) {
    const s = await vigil().api("GET", "/v1/sessions/" + encodeURIComponent(id));
    detailId = id;
    $("#timeline-title").textContent = "Timeline: " + vigil().label(s);
    $("#detail-summary").textContent = (s.state === "ended" ? "Ended " + fmtTime(s.ended_at) + ", outcome " +
      (OUTCOMES[s.outcome] || s.outcome) : "Open, " + s.state) + " · started " + fmtTime(s.started_at) + " · " +
      s.events.length + " events";
    const body = $("#timeline");
    body.textContent = "";
    for (const e of s.events) {
      const tr = document.createElement("tr");
      tr.dataset.type = e.type;
      cell(tr, "Time", new Date(e.at).toLocaleTimeString());
      cell(tr, "Event", e.type);
      cell(tr, "By", byOf(e));
      cell(tr, "Details", detailsOf(e));
      body.appendChild(tr);
    }
    const dialog = $("#timeline-dialog");
    if (!dialog.open) dialog.showModal();
  }

  // Downloads the timeline as the server renders it (CSV with formula-safe cells, or JSON).
  async function exportTimeline(format) {
    if (!detailId) return;
    const res = await fetch("/v1/sessions/" + encodeURIComponent(detailId) + "/timeline?format=" + format, {
      headers: { Authorization: "Bearer " + vigil().token() },
    });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = detailId + "-timeline." + format;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // ---- dashboard ----
  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // An SVG with a title and description, so a screen reader hears what the picture says.
  function chart(container, width, height, title, desc) {
    const id = container.id;
    const svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": id + "-t " + id + "-d",
      width: "100%", preserveAspectRatio: "xMinYMin meet" });
    svg.appendChild(el("title", { id: id + "-t" }, title));
    svg.appendChild(el("desc", { id: id + "-d" }, desc));
    const defs = el("defs");
    const pat = el("pattern", { id: id + "-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    pat.appendChild(el("rect", { width: 6, height: 6, fill: "#a4161a" }));
    pat.appendChild(el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#fff", "stroke-width": 2 }));
    defs.appendChild(pat);
    svg.appendChild(defs);
    container.textContent = "";
    container.appendChild(svg);
    return svg;
  }

  function legend(svg, x, y, items) {
    let at = x;
    for (const it of items) {
      svg.appendChild(el("rect", { x: at, y: y - 11, width: 14, height: 14, fill: it.fill, stroke: "#111", "stroke-width": 0.5 }));
      const t = el("text", { x: at + 19, y: y, "font-size": 13, fill: "#111" }, it.text);
      svg.appendChild(t);
      at += 30 + it.text.length * 7.5;
    }
  }

  // Charts are drawn at the width they get (a phone at 360 px gets legible text, not a shrunken picture).
  function widthOf(box) { return Math.round(Math.min(760, Math.max(300, box.clientWidth || 760))); }

  function drawHours(stats) {
    const box = $("#chart-hours");
    const W = widthOf(box), H = 250, L = 36, B = 40, T = 30;
    const every = W < 560 ? 6 : 3;
    const hours = stats.hours;
    const total = (k) => hours.reduce((a, h) => a + h[k], 0);
    const svg = chart(box, W, H, "Sessions started and lapses per hour",
      total("sessions") + " sessions started and " + total("lapses") + " lapses in the last " + hours.length + " hours");
    const max = Math.max(1, ...hours.map((h) => Math.max(h.sessions, h.lapses)));
    const plotH = H - T - B, slot = (W - L - 10) / hours.length, bw = Math.max(2, slot / 2 - 2);
    const y = (v) => T + plotH - (v / max) * plotH;
    for (const v of [0, Math.ceil(max / 2), max]) {
      svg.appendChild(el("line", { x1: L, x2: W - 10, y1: y(v), y2: y(v), stroke: "#ccc" }));
      svg.appendChild(el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#333" }, String(v)));
    }
    hours.forEach((h, i) => {
      const x = L + i * slot + 1;
      const when = new Date(h.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const s = el("rect", { x, y: y(h.sessions), width: bw, height: y(0) - y(h.sessions), fill: "#0b4f8a", "data-hour": i, class: "bar-sessions" });
      s.appendChild(el("title", {}, when + ": " + h.sessions + " sessions"));
      svg.appendChild(s);
      const l = el("rect", { x: x + bw + 1, y: y(h.lapses), width: bw, height: y(0) - y(h.lapses), fill: "url(#chart-hours-hatch)", class: "bar-lapses" });
      l.appendChild(el("title", {}, when + ": " + h.lapses + " lapses"));
      svg.appendChild(l);
      if (i % every === (hours.length - 1) % every) {
        svg.appendChild(el("text", { x: x + bw, y: H - B + 16, "text-anchor": "middle", "font-size": 12, fill: "#333" }, when));
      }
    });
    legend(svg, W < 560 ? 4 : L, 18, [{ fill: "#0b4f8a", text: W < 560 ? "sessions (solid)" : "sessions started (solid)" },
      { fill: "url(#chart-hours-hatch)", text: "lapses (hatched)" }]);
  }

  function drawDispatch(stats) {
    const box = $("#chart-dispatch");
    const d = stats.deadline_to_dispatch;
    const W = widthOf(box), H = 220, L = W < 560 ? 6 : 36, B = 40, T = 20;
    const narrow = W < 560;
    const short = (s) => s < 60 ? s + "s" : Math.round(s / 60) + "m";
    const svg = chart(box, W, H, "Missed deadline to dispatch delivered",
      d.count + " dispatches" + (d.median_s === null ? "" : ", median " + fmtDuration(d.median_s)));
    const fmt = narrow ? short : fmtDuration;
    const labels = d.buckets.map((b, i) => b.le_s === null ? ">" + (narrow ? "" : " ") + fmt(d.buckets[i - 1].le_s) :
      "≤" + (narrow ? "" : " ") + fmt(b.le_s));
    const titles = d.buckets.map((b, i) => b.le_s === null ? "> " + fmtDuration(d.buckets[i - 1].le_s) : "≤ " + fmtDuration(b.le_s));
    const max = Math.max(1, ...d.buckets.map((b) => b.count));
    const plotH = H - T - B, slot = (W - L - 10) / d.buckets.length;
    d.buckets.forEach((b, i) => {
      const h = (b.count / max) * plotH;
      const x = L + i * slot + 6;
      const r = el("rect", { x, y: T + plotH - h, width: slot - 12, height: h, fill: "#5a189a", class: "bar-dispatch" });
      r.appendChild(el("title", {}, titles[i] + ": " + b.count));
      svg.appendChild(r);
      svg.appendChild(el("text", { x: x + (slot - 12) / 2, y: T + plotH - h - 4, "text-anchor": "middle", "font-size": 13, fill: "#111" }, String(b.count)));
      svg.appendChild(el("text", { x: x + (slot - 12) / 2, y: H - B + 18, "text-anchor": "middle", "font-size": 12, fill: "#333" }, labels[i]));
    });
    svg.appendChild(el("line", { x1: L, x2: W - 10, y1: T + plotH, y2: T + plotH, stroke: "#555" }));
  }

  function drawDeliveries(stats) {
    const box = $("#chart-deliveries");
    const rows = stats.deliveries;
    const W = widthOf(box), narrow = W < 560, rowH = narrow ? 52 : 34, T = 30, L = narrow ? 8 : 150;
    const H = T + Math.max(1, rows.length) * rowH + 10;
    const svg = chart(box, W, H, "Deliveries by target and result",
      rows.length ? rows.map((r) => r.target + ": " + r.delivered + " delivered, " + r.failed + " failed").join("; ") : "no deliveries");
    const max = Math.max(1, ...rows.map((r) => r.delivered + r.failed));
    const scale = (W - L - (narrow ? 16 : 190)) / max;
    rows.forEach((r, i) => {
      let y = T + i * rowH;
      const result = "✔ " + r.delivered + " delivered · ✖ " + r.failed + " failed";
      if (narrow) {
        // On a phone the target and its result go above the bar.
        svg.appendChild(el("text", { x: L, y: y + 14, "font-size": 13, fill: "#111" }, r.target + ": " + result));
        y += 18;
      } else {
        svg.appendChild(el("text", { x: L - 8, y: y + 19, "text-anchor": "end", "font-size": 13, fill: "#111" }, r.target));
      }
      svg.appendChild(el("rect", { x: L, y: y + 4, width: r.delivered * scale, height: 22, fill: "#0b6b2e", class: "bar-delivered" }));
      svg.appendChild(el("rect", { x: L + r.delivered * scale, y: y + 4, width: r.failed * scale, height: 22, fill: "url(#chart-deliveries-hatch)", class: "bar-failed" }));
      if (!narrow) svg.appendChild(el("text", { x: L + (r.delivered + r.failed) * scale + 8, y: y + 19, "font-size": 13, fill: "#111" }, result));
    });
    if (!rows.length) svg.appendChild(el("text", { x: L, y: T + 20, "font-size": 13, fill: "#333" }, "No deliveries in this period."));
    legend(svg, narrow ? 4 : L, 18, [{ fill: "#0b6b2e", text: "delivered (solid)" }, { fill: "url(#chart-deliveries-hatch)", text: "failed (hatched)" }]);
  }

  async function loadDashboard() {
    const stats = await vigil().api("GET", "/v1/stats?hours=24");
    const sum = (k) => stats.hours.reduce((a, h) => a + h[k], 0);
    const d = stats.deadline_to_dispatch;
    $("#dashboard-summary").textContent = sum("sessions") + " sessions started, " + sum("lapses") + " lapses, " + d.count +
      " dispatches delivered after a missed deadline" + (d.median_s === null ? "" : " (median " + fmtDuration(d.median_s) + ")") +
      ", " + stats.notifications_failed + " notifications that no target accepted.";
    drawHours(stats);
    drawDispatch(stats);
    drawDeliveries(stats);
    drawCanaries().catch(() => {});
  }

  // One row per canary target: its last success and its recent latencies as a small line.
  async function drawCanaries() {
    const c = await vigil().api("GET", "/v1/canary");
    $("#canary-table").hidden = !c.enabled;
    const body = $("#canary-body");
    body.textContent = "";
    for (const t of c.targets || []) {
      const tr = document.createElement("tr");
      cell(tr, "Target", t.target);
      const failedLast = t.last_failure && (!t.last_success || t.last_failure > t.last_success);
      cell(tr, "Last success", (t.last_success ? fmtTime(t.last_success) : "never") + (failedLast ? " — last round FAILED" : ""));
      const td = document.createElement("td");
      td.dataset.label = "Deadline → 2xx";
      td.appendChild(sparkline(t.latencies_ms || [], t.target));
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function sparkline(values, name) {
    const w = 120, h = 24;
    const max = Math.max(1, ...values);
    const last = values.length ? values[values.length - 1] : null;
    const svg = el("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img" });
    svg.appendChild(el("title", {}, name + ": " + (last === null ? "no success yet" :
      "last " + last + " ms, highest " + max + " ms over " + values.length + " rounds")));
    if (values.length > 1) {
      const pts = values.map((v, i) => (i * (w - 4) / (values.length - 1) + 2).toFixed(1) + "," +
        (h - 2 - v * (h - 4) / max).toFixed(1)).join(" ");
      svg.appendChild(el("polyline", { points: pts, fill: "none", stroke: "#0b3d91", "stroke-width": 1.5 }));
    }
    const wrap = document.createElement("span");
    wrap.appendChild(svg);
    if (last !== null) wrap.appendChild(document.createTextNode(" " + last + " ms"));
    return wrap;
  }

  // ---- wiring ----
  for (const b of document.querySelectorAll("nav.views button")) b.addEventListener("click", () => showView(b.dataset.view));
  $("#history-older").addEventListener("click", () => { historyOffset += PAGE; loadHistory().catch(fail); });
  $("#history-newer").addEventListener("click", () => { historyOffset = Math.max(0, historyOffset - PAGE); loadHistory().catch(fail); });
  $("#export-csv").addEventListener("click", () => exportTimeline("csv").catch(fail));
  $("#export-json").addEventListener("click", () => exportTimeline("json").catch(fail));
  window.vigilShift = { openDetail, showView };
})();
