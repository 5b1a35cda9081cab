// Vigil operator console: plain JavaScript, no dependencies, nothing loaded from elsewhere.
// Never logs personal data: addresses, numbers and notes stay on the page.
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const STATE_WORDS = { active: "Active", overdue: "OVERDUE", escalating: "ESCALATING", dispatched: "DISPATCHED", ended: "Ended" };
  const LANGUAGE_WORDS = { en: "English", es: "Spanish", fr: "French" };
  // Whether a dispatch went out, or is on its way, and was neither cancelled nor failed on every target.
  const dispatchSent = (s) => s.state === "dispatched" ||
    !!(s.dispatch && !s.dispatch.failed_at && !s.dispatch.cancelled_at && s.state !== "ended");
  const URGENCY = { dispatched: 0, escalating: 1, overdue: 2, active: 3, ended: 4 };
  const ALARM_STATES = new Set(["overdue", "escalating", "dispatched"]);
  // Routing and the closed loop: events that need an operator now.
  const LOOP_ALARMS = {
    "dispatch.unaccepted": "the dispatch centre did not accept; the dispatch moved to the next centre",
    "dispatch.arrival_overdue": "no crew reported on scene in time",
    "dispatch.accepted_late": "a centre accepted after the dispatch moved on: two crews may be coming",
    "routing.changed_after_dispatch": "the new location belongs to another dispatch centre; nothing was sent again",
    "routing.unresolved": "no dispatch route covers this location: pick a centre",
    "dispatch.dropped": "the centre closed or rejected the call after accepting it, with no crew on scene: nobody may be coming",
  };
  const sessions = new Map();
  let token = sessionStorage.getItem("vigil.token");
  let source = null;
  let selected = null;
  let alarms = [];
  let titleTimer = null;
  let audio = null;

  // ---- API ----
  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) { signOut("Your token was not accepted. Sign in again."); throw new Error("unauthorized"); }
    if (!res.ok) {
      const msg = data && data.error ? data.error.message : "HTTP " + res.status;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ---- sign in ----
  function showApp(on) {
    $("#signin-view").hidden = on;
    $("#app").hidden = !on;
  }

  async function signIn(t) {
    token = t;
    try {
      await api("GET", "/v1/sessions?state=open&limit=1");
    } catch (e) {
      $("#signin-error").textContent = e.message === "unauthorized" ? "That token was not accepted." : "Cannot reach Vigil: " + e.message;
      return;
    }
    sessionStorage.setItem("vigil.token", t);
    if (downSince === null) downSince = Date.now();
    showApp(true);
    await reloadAll(true);
    connect();
  }

  function signOut(message) {
    sessionStorage.removeItem("vigil.token");
    token = null;
    if (source) source.close();
    source = null;
    downSince = null;
    revealed.clear();
    sessions.clear();
    render();
    showApp(false);
    $("#signin-error").textContent = message || "";
  }

  // ---- data ----
  // Loads every open session. With `announce`, raises the banner for every session already in alarm: an operator who
  // opens the console at shift change, or whose stream reconnected, must hear what is wrong, not only see red rows.
  async function reloadAll(announce) {
    const data = await api("GET", "/v1/sessions?state=open");
    const seen = new Set();
    for (const s of data.sessions) { seen.add(s.id); upsert(s, false); }
    for (const id of Array.from(sessions.keys())) if (!seen.has(id)) sessions.delete(id);
    render();
    if (announce) announceOpenAlarms();
  }

  function inAlarm(s) { return s.state === "overdue" || s.state === "escalating" || s.delivery_failures > 0; }

  function announceOpenAlarms() {
    const open = sorted().filter(inAlarm);
    if (open.length === 0) { withdrawAlarm("open"); return; }
    const words = open.map((s) => label(s) + " (" + (s.delivery_failures > 0 && !ALARM_STATES.has(s.state) ?
      "delivery failed" : STATE_WORDS[s.state].toLowerCase()) + ")");
    raiseAlarm("In alarm now: " + words.join(", "), "open");
  }

  async function refresh(id) {
    try {
      const s = await api("GET", "/v1/sessions/" + encodeURIComponent(id));
      upsert(s, true);
      render();
    } catch (e) {
      if (e.status === 404) { sessions.delete(id); render(); }
    }
  }

  function upsert(s, alarmOnChange) {
    const before = sessions.get(s.id);
    if (s.state === "ended") { sessions.delete(s.id); return; }
    sessions.set(s.id, s);
    if (alarmOnChange && ALARM_STATES.has(s.state) && (!before || before.state !== s.state)) {
      raiseAlarm(label(s) + " is " + STATE_WORDS[s.state].toLowerCase());
    }
  }

  function label(s) { return s.caller && s.caller.alias ? s.caller.alias : "(no alias)"; }

  // ---- live events ----
  // The stream is opened with a single-use ticket, never with the token in the URL (proxies log URLs). A ticket
  // cannot be reused, so the console reconnects itself, resuming after the last event it saw.
  let lastSeq = null;
  let everOpened = false;
  let reconnectTimer = null;
  // When the stream went down (null while live): after a few seconds the operator is warned, with a sound, that the
  // board is no longer live; a console that silently stopped updating is worse than none.
  let downSince = null;
  let downWarnedAt = 0;
  const STREAM_WARN_MS = 5000;

  function checkStream() {
    const w = $("#stream-warning");
    if (!token || downSince === null) { w.hidden = true; return; }
    const down = Date.now() - downSince;
    if (down < STREAM_WARN_MS) return;
    $("#stream-warning-text").textContent = "⚠ Not receiving live updates for " + Math.round(down / 1000) +
      " s: this board may be out of date. Reconnecting…";
    w.hidden = false;
    $("#on-shift-list").textContent = "unknown while this console is disconnected";
    if (Date.now() - downWarnedAt > 30000) { downWarnedAt = Date.now(); beep(); }
  }

  function streamDown() {
    if (downSince === null) downSince = Date.now();
    const conn = $("#conn");
    conn.textContent = "connection lost: reconnecting…";
    conn.className = "conn down";
    if (source) { source.close(); source = null; }
    if (token && !reconnectTimer) reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, 2000);
  }

  async function connect() {
    if (source) { source.close(); source = null; }
    if (!token) return;
    const conn = $("#conn");
    let ticket;
    try {
      ticket = (await api("POST", "/v1/events/ticket", {})).ticket;
    } catch (e) {
      streamDown();
      return;
    }
    let url = "/v1/events?ticket=" + encodeURIComponent(ticket);
    if (lastSeq !== null) url += "&last_event_id=" + encodeURIComponent(lastSeq);
    source = new EventSource(url);
    source.onopen = () => {
      downSince = null;
      downWarnedAt = 0;
      checkStream();
      loadOnShift();
      conn.textContent = "live";
      conn.className = "conn live";
      // The first open follows the sign-in's own announcement; every reconnect announces again.
      reloadAll(everOpened).catch(() => {});
      everOpened = true;
    };
    source.onerror = streamDown;
    const handle = (ev) => {
      let e;
      try { e = JSON.parse(ev.data); } catch (x) { return; }
      if (ev.lastEventId) lastSeq = ev.lastEventId;
      if (e.type === "delivery.failed" && e.session_id) {
        const s = sessions.get(e.session_id);
        raiseAlarm("Delivery failed for " + (s ? label(s) : "a session") + ": no target accepted the notification");
      }
      if (e.type === "system.alarm" && e.data && e.data.raised) raiseAlarm("System alarm: " + e.data.reason);
      if (e.type === "system.mass_lapse" && e.data) raiseAlarm("MASS LAPSE: " + e.data.reason, "mass-lapse");
      if ((e.type === "sms.help" || e.type === "sms.received") && e.session_id) {
        const s = sessions.get(e.session_id);
        raiseAlarm((s ? label(s) : "A session") + (e.type === "sms.help" ? ": the person texted HELP" :
          ": the person texted: " + ((e.data && e.data.text) || "")));
      }
      if (e.type === "sms.unknown_help" && e.data) {
        raiseAlarm("HELP texted from a number that matches no session (" + (e.data.from || "unknown") +
          "): the sender was told to call 911");
      }
      if (e.type === "system.unattended" && e.data && e.data.raised) raiseAlarm("Nobody is watching: " + e.data.reason);
      if (e.type === "system.recovered" && e.data) raiseAlarm(recoveredText(e.data), "recovered");
      if (e.type === "follow_up.due") {
        const s = e.session_id && sessions.get(e.session_id);
        raiseAlarm("Follow-up due: call back " + (s ? label(s) : "the person") + " (see Follow-ups)", "follow-up-" + e.session_id);
      }
      if (e.type === "escalation.resumed" && e.session_id) {
        const s = sessions.get(e.session_id);
        raiseAlarm((s ? label(s) : "A session") + ": the acknowledge ran out and there is still no check-in");
      }
      if ((e.type === "responder.ems" || e.type === "responder.going") && e.session_id) {
        const s = sessions.get(e.session_id);
        raiseAlarm((s ? label(s) : "A session") + (e.type === "responder.ems" ?
          ": a responder asked for EMS" : ": a responder is going; the ladder is paused"));
      }
      const loopAlarm = LOOP_ALARMS[e.type];
      if (loopAlarm && e.session_id) {
        const s = sessions.get(e.session_id);
        raiseAlarm((s ? label(s) : "A session") + ": " + loopAlarm + (e.data && e.data.target ? " (" + e.data.target + ")" : ""));
      }
      if (e.session_id) refresh(e.session_id);
    };
    for (const t of ["session.started", "session.updated", "session.ended", "check_in.received", "check_in.overdue",
      "escalation.started", "escalation.step", "escalation.acknowledged", "escalation.resumed", "escalation.resolved",
      "dispatch.requested", "dispatch.accepted", "dispatch.cancelled", "dispatch.status", "delivery.succeeded",
      "delivery.target_failed", "delivery.failed", "system.alarm", "system.unattended", "location.viewed"].concat(
      Object.keys(LOOP_ALARMS),
      ["routing.resolved", "routing.pinned", "routing.unpinned", "routing.default", "follow_up.created", "follow_up.closed"],
      ["responder.requested", "responder.going", "responder.ok", "responder.ems", "responder.none",
        "responder.no_answer", "responder.cancelled", "system.mass_lapse", "mass_lapse.held", "mass_lapse.released",
        "sms.received", "sms.help", "sms.unknown_help"], ["person.reminder", "sms.status", "system.recovered",
        "follow_up.due"])) {
      source.addEventListener(t, handle);
    }
  }

  // How long Vigil was away and who lapsed meanwhile (`system.recovered`).
  function recoveredText(d) {
    const s = Number(d.down_s) || 0;
    const away = s >= 3600 ? Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min" :
      s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : s + " s";
    const cause = { restart: "a restart", store: "the database was unreachable", resume: "the machine was suspended" };
    const n = Number(d.lapsed_while_down) || 0;
    const who = (d.sessions || []).map((x) => x.alias || x.session_id).slice(0, 10).join(", ");
    return "Vigil was away " + away + " (" + (cause[d.cause] || "an outage") + "): " +
      (n === 0 ? "nobody lapsed meanwhile" : n + (n === 1 ? " session" : " sessions") + " lapsed meanwhile: " + who +
        (n > 10 ? " and " + (n - 10) + " more" : "") + ". Check each one");
  }

  // ---- alarms ----
  // Raises the banner with `text`; an alarm with a `key` replaces the earlier one of that key instead of piling up.
  // Dismissing the banner acknowledges no session: only the session's own Acknowledge does.
  function raiseAlarm(text, key) {
    alarms = alarms.filter((a) => !key || a.key !== key);
    alarms.push({ text, key });
    showAlarms();
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification("Vigil alarm", { body: text, requireInteraction: true }); } catch (e) { /* ignore */ }
    }
    if (!titleTimer) {
      let on = false;
      titleTimer = setInterval(() => { on = !on; document.title = on ? "⚠ ALARM – Vigil" : "Vigil console"; }, 700);
    }
  }

  function showAlarms() {
    const last = alarms[alarms.length - 1];
    $("#alarm-text").textContent = last.text + (alarms.length > 1 ? " (+" + (alarms.length - 1) + " more)" : "");
    $("#alarm-banner").hidden = false;
  }

  function withdrawAlarm(key) {
    alarms = alarms.filter((a) => a.key !== key);
    if (alarms.length === 0) clearAlarms(); else showAlarms();
  }

  function clearAlarms() {
    alarms = [];
    $("#alarm-banner").hidden = true;
    clearInterval(titleTimer);
    titleTimer = null;
    document.title = "Vigil console";
  }

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      for (let i = 0; i < 3; i++) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = 880;
        g.gain.value = 0.25;
        o.connect(g); g.connect(audio.destination);
        const t = audio.currentTime + i * 0.35;
        o.start(t); o.stop(t + 0.2);
      }
    } catch (e) { /* no audio here */ }
  }

  // ---- rendering ----
  function fmtCountdown(s) {
    if (!s.next_check_in_due_at) return "—";
    const left = Math.round((Date.parse(s.next_check_in_due_at) - Date.now()) / 1000);
    const abs = Math.abs(left);
    const mmss = Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0");
    return left >= 0 ? "in " + mmss : "overdue by " + mmss;
  }

  function sorted() {
    return Array.from(sessions.values()).sort((a, b) => {
      const u = (URGENCY[a.state] - URGENCY[b.state]) || ((b.delivery_failures > 0) - (a.delivery_failures > 0));
      return u || (Date.parse(a.next_check_in_due_at) - Date.parse(b.next_check_in_due_at));
    });
  }

  function cell(tr, labelText, content) {
    const td = document.createElement("td");
    td.dataset.label = labelText;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  }

  // Who the caller chose to come first, and where each stands (going, waiting, no answer, …).
  function responderLine(s) {
    const div = document.createElement("div");
    div.className = "responders";
    div.textContent = "responders: " + s.responders.map((r) => r.name + " " + r.status.replace("_", " ")).join(" · ");
    return div;
  }

  function button(text, action, title) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.action = action;
    b.dataset.focusKey = action;
    if (title) b.title = title;
    return b;
  }

  // What the operator was on before a re-render: the focused control (by its row and action) and the scroll
  // position. Live updates rebuild the board every few seconds; they must not throw the keyboard user off.
  function focusMark() {
    const a = document.activeElement;
    const tr = a && a.closest ? a.closest("#board-body tr") : null;
    if (!tr) return null;
    return { id: tr.dataset.sessionId, key: a.dataset.focusKey || null };
  }

  function restoreFocus(mark) {
    if (!mark) return;
    const tr = document.querySelector('#board-body tr[data-session-id="' + CSS.escape(mark.id) + '"]');
    if (!tr) return;
    const el = (mark.key && tr.querySelector('[data-focus-key="' + CSS.escape(mark.key) + '"]')) ||
      tr.querySelector("button, a");
    if (el) el.focus({ preventScroll: true });
  }

  // Sessions the operator revealed on this page, by id: the whole session as the reveal answered it (recorded on the
  // server). A staff read carries the location only while the session is in alarm.
  const revealed = new Map();
  const SHOW_LOCATION = new Set(["overdue", "escalating", "dispatched"]);
  // The session with its personal data, when this page may show it: in alarm, or revealed.
  function fullSession(s) { return SHOW_LOCATION.has(s.state) && !s.location.redacted ? s : revealed.get(s.id); }

  function locationBlock(s, loc, caller) {
    const box = document.createElement("div");
    box.className = "location";
    const addr = document.createElement("div");
    addr.className = "address";
    // A read that leaves the address out (a viewer's token) names the area only, and says so.
    addr.textContent = (loc.redacted ? "Area (address hidden): " : "Address: ") +
      [loc.address, loc.unit ? "unit " + loc.unit : null, loc.city, loc.region, loc.postal_code].filter(Boolean).join(", ");
    box.appendChild(addr);
    if (loc.access_notes) {
      const n = document.createElement("div");
      n.className = "access";
      n.textContent = "Access: " + loc.access_notes;
      box.appendChild(n);
    }
    if (caller && caller.callback_number) {
      const a = document.createElement("a");
      a.href = "tel:" + caller.callback_number.replace(/[^+0-9]/g, "");
      a.className = "tel";
      a.dataset.focusKey = "tel";
      a.textContent = "Call " + caller.callback_number;
      box.appendChild(a);
    }
    return box;
  }

  async function revealLocation(id) {
    try {
      const r = await api("POST", "/v1/sessions/" + encodeURIComponent(id) + "/location/reveal", {});
      revealed.set(id, r);
      render();
      restoreFocus({ id, key: "tel" });
    } catch (e) {
      if (e.message !== "unauthorized") raiseAlarm("Cannot show the location: " + e.message);
    }
  }

  function render() {
    const mark = focusMark();
    const scroll = [window.scrollX, window.scrollY];
    const body = $("#board-body");
    body.style.minHeight = body.offsetHeight + "px";
    body.textContent = "";
    const list = sorted();
    $("#empty").hidden = list.length > 0;
    for (const s of list) {
      const tr = document.createElement("tr");
      tr.dataset.sessionId = s.id;
      tr.dataset.state = s.state;
      if (s.id === selected) tr.className = "selected";
      // Once a session is in alarm the operator needs what they will tell a dispatcher, on the row itself.
      const who = document.createElement("div");
      who.textContent = label(s);
      if (inAlarm(s) && s.substance) {
        const sub = document.createElement("div");
        sub.className = "substance";
        sub.textContent = "using: " + s.substance;
        who.appendChild(sub);
      }
      // Overdue and later: where the person is, on the row, with the number to call. Before: on demand, recorded.
      if (SHOW_LOCATION.has(s.state)) {
        who.appendChild(locationBlock(s, s.location, s.caller));
      } else if (revealed.has(s.id)) {
        who.appendChild(locationBlock(s, revealed.get(s.id).location, revealed.get(s.id).caller));
      } else {
        const b = button("Show location", "reveal", "Shows the address; the view is recorded in the timeline");
        b.classList.add("reveal");
        who.appendChild(b);
      }
      if (s.responders && s.responders.length) who.appendChild(responderLine(s));
      if (s.language) {
        const lang = document.createElement("div");
        lang.className = "language";
        lang.textContent = "speaks " + (LANGUAGE_WORDS[s.language] || s.language);
        who.appendChild(lang);
      }
      cell(tr, "Person", who);
      const badge = document.createElement("span");
      badge.className = "state state-" + s.state;
      badge.textContent = STATE_WORDS[s.state] || s.state;
      cell(tr, "State", badge);
      const cd = document.createElement("span");
      cd.className = "countdown";
      cell(tr, "Next check-in", cd);
      const e = s.escalation;
      cell(tr, "Escalation", (e ? "step " + e.step + (e.acknowledged_by ? " · ✔ acknowledged by " + e.acknowledged_by +
        (e.acknowledged_at ? " at " + new Date(e.acknowledged_at).toLocaleTimeString() : "") : " · not acknowledged") +
        (e.paused_until ? " · paused" : "") : "—") + (s.mass_lapse_hold_until ? " · dispatch held (mass lapse)" : ""));
      const d = s.dispatch;
      const dc = cell(tr, "Dispatch", d ? (d.delivered_at ? "delivered to " + d.target + dispatchReports(d) +
        (d.cancelled_at ? " · cancel sent" : "") : d.failed_at ? "FAILED" : "requested…") : "—");
      if (s.route !== undefined) dc.appendChild(routeLine(s));
      const dl = cell(tr, "Delivery", s.delivery_failures > 0 ? "✖ FAILED (" + s.delivery_failures + ")" : "ok");
      dl.className = s.delivery_failures > 0 ? "error" : "";
      const actions = document.createElement("div");
      actions.className = "actions";
      actions.append(button("Check in", "check-in", "c"), button("Acknowledge", "acknowledge", "a"),
        // A dispatch that went out (or is on its way) is never offered again as if nothing had.
        button(dispatchSent(s) ? "Dispatch again" : "Dispatch now", "dispatch", "d"), button("End", "end", "e"),
        button("Edit", "edit"),
        button("Timeline", "timeline", "t"));
      cell(tr, "Actions", actions);
      tr.addEventListener("click", (ev) => {
        selected = s.id;
        const a = ev.target.closest("button[data-action]");
        if (a) act(a.dataset.action, s.id);
        else if (!ev.target.closest("a")) render();  // a tel: link must stay in the page to be followed
      });
      body.appendChild(tr);
    }
    body.style.minHeight = "";
    restoreFocus(mark);
    window.scrollTo(scroll[0], scroll[1]);
    tick();
  }

  // The partners' reports, each with its time: "· accepted 10:02 · on_scene 10:11".
  function dispatchReports(d) {
    const list = Array.isArray(d.status) ? d.status : [];
    return list.map((r) => " · " + r.status + " " + new Date(r.at).toLocaleTimeString()).join("");
  }

  // The session's dispatch route, its warning, and the way to confirm the default or pick a centre.
  function routeLine(s) {
    const div = document.createElement("div");
    div.className = "route";
    const warn = (s.warnings || []).filter((w) => w.startsWith("routing."));
    div.textContent = s.route ? "route: " + s.route.target + " (" + s.route.matched + ")" : "route: NONE";
    if (warn.length) {
      div.classList.add("error");
      div.textContent += " · " + warn.join(", ");
      div.appendChild(document.createTextNode(" "));
      div.appendChild(button(warn.includes("routing.default") ? "Confirm route" : "Pick centre", "route"));
    }
    return div;
  }

  function tick() {
    for (const tr of document.querySelectorAll("#board-body tr")) {
      const s = sessions.get(tr.dataset.sessionId);
      if (!s) continue;
      const cd = tr.querySelector(".countdown");
      cd.textContent = fmtCountdown(s);
      cd.classList.toggle("late", Date.parse(s.next_check_in_due_at) < Date.now());
    }
  }

  // ---- actions ----
  let current = null;
  // The whole session the edit form was filled from (a read in alarm, or a reveal).
  let editBase = null;

  async function act(action, id) {
    const s = sessions.get(id);
    if (!s) return;
    current = id;
    try {
      if (action === "check-in") { upsert(await api("POST", "/v1/sessions/" + id + "/check-ins", { source: "operator" }), false); render(); }
      else if (action === "reveal") { await revealLocation(id); }
      else if (action === "acknowledge") { upsert(await api("POST", "/v1/sessions/" + id + "/acknowledge", {}), false); render(); }
      else if (action === "dispatch") {
        const where = (fullSession(s) || s).location;
        $("#dispatch-address").textContent = [where.address, where.unit, where.city].filter(Boolean).join(", ");
        const sent = dispatchSent(s);
        $("#dispatch-title").textContent = sent ? "Dispatch again?" : "Dispatch now?";
        $("#dispatch-already").hidden = !sent;
        $("#dispatch-already").textContent = sent ? "A dispatch already went out" +
          (s.dispatch.target ? " to " + s.dispatch.target : "") + " at " +
          new Date(s.dispatch.delivered_at || s.dispatch.requested_at).toLocaleTimeString() +
          ". Send another only if it did not reach them." : "";
        $("#dispatch-error").textContent = "";
        $("#dispatch-dialog").showModal();
      } else if (action === "end") { $("#end-error").textContent = ""; $("#end-dialog").showModal(); }
      else if (action === "edit") {
        // The form shows the address: opening it before the session is in alarm is a reveal, recorded as one.
        if (!fullSession(s)) await revealLocation(id);
        const full = fullSession(s);
        if (!full) return;
        editBase = full;
        const f = $("#edit-form");
        f.address.value = full.location.address || "";
        f.unit.value = full.location.unit || "";
        f.access_notes.value = full.location.access_notes || "";
        f.substance.value = full.substance || "";
        f.language.value = full.language || s.language || "en";
        f.reminders.checked = full.reminders !== false;
        f.check_in_interval_s.value = s.check_in_interval_s;
        f.grace_s.value = s.grace_s;
        $("#edit-error").textContent = "";
        $("#edit-dialog").showModal();
      } else if (action === "route") {
        if (s.route && (s.warnings || []).includes("routing.default")) {
          upsert(await api("PATCH", "/v1/sessions/" + id, { route: { target: s.route.target } }), false); render();
        } else {
          $("#route-error").textContent = "";
          $("#route-dialog").showModal();
        }
      } else if (action === "timeline" && window.vigilShift) {
        await window.vigilShift.openDetail(id);
      }
    } catch (e) {
      if (e.message !== "unauthorized") raiseAlarm("Action failed: " + e.message);
    }
  }

  function intField(form, name, errors, required, min) {
    const v = form[name].value.trim();
    form[name].removeAttribute("aria-invalid");
    if (v === "") { if (required) { errors.push(name.replace(/_/g, " ") + " is required"); form[name].setAttribute("aria-invalid", "true"); } return undefined; }
    if (!/^\d+$/.test(v) || Number(v) < min) {
      errors.push(name.replace(/_/g, " ") + " must be a whole number" + (min > 0 ? " of at least " + min : ""));
      form[name].setAttribute("aria-invalid", "true");
      return undefined;
    }
    return Number(v);
  }

  function text(form, name) { const v = form[name].value.trim(); return v === "" ? undefined : v; }

  async function startSession(ev) {
    ev.preventDefault();
    const f = ev.target;
    const errors = [];
    f.address.removeAttribute("aria-invalid");
    if (!text(f, "address")) { errors.push("Address is required"); f.address.setAttribute("aria-invalid", "true"); }
    const interval = intField(f, "check_in_interval_s", errors, true, 1);
    const grace = intField(f, "grace_s", errors, false, 0);
    const lat = text(f, "latitude"), lon = text(f, "longitude");
    if ((lat === undefined) !== (lon === undefined)) errors.push("Latitude and longitude go together");
    if (lat !== undefined && (isNaN(Number(lat)) || Math.abs(Number(lat)) > 90)) errors.push("Latitude must be between -90 and 90");
    if (lon !== undefined && (isNaN(Number(lon)) || Math.abs(Number(lon)) > 180)) errors.push("Longitude must be between -180 and 180");
    if (errors.length) { $("#new-session-error").textContent = errors.join(". ") + "."; return; }
    const location = { address: text(f, "address") };
    for (const k of ["unit", "city", "region", "postal_code", "country", "access_notes"]) if (text(f, k)) location[k] = text(f, k);
    if (lat !== undefined) { location.latitude = Number(lat); location.longitude = Number(lon); }
    const body = { location, check_in_interval_s: interval };
    if (grace !== undefined) body.grace_s = grace;
    if (text(f, "policy")) body.policy = text(f, "policy");
    if (text(f, "notes")) body.notes = text(f, "notes");
    if (text(f, "substance")) body.substance = text(f, "substance");
    if (f.language.value) body.language = f.language.value;
    if (!f.reminders.checked) body.reminders = false;
    const caller = {};
    if (text(f, "alias")) caller.alias = text(f, "alias");
    if (text(f, "callback_number")) caller.callback_number = text(f, "callback_number");
    if (Object.keys(caller).length) body.caller = caller;
    try {
      const s = await api("POST", "/v1/sessions", body);
      upsert(s, false);
      selected = s.id;
      render();
      f.reset();
      $("#new-session-dialog").close();
    } catch (e) {
      $("#new-session-error").textContent = e.message;
    }
  }

  async function saveEdit(ev) {
    ev.preventDefault();
    const f = ev.target, s = editBase && editBase.id === current ? editBase : sessions.get(current);
    const errors = [];
    if (!text(f, "address")) errors.push("Address is required");
    const interval = intField(f, "check_in_interval_s", errors, false, 1);
    const grace = intField(f, "grace_s", errors, false, 0);
    if (errors.length) { $("#edit-error").textContent = errors.join(". ") + "."; return; }
    const location = Object.assign({}, s.location, { address: text(f, "address"), unit: text(f, "unit"), access_notes: text(f, "access_notes") });
    delete location.redacted;
    for (const k of Object.keys(location)) if (location[k] === undefined || location[k] === null) delete location[k];
    const body = { location };
    if (text(f, "substance") && text(f, "substance") !== s.substance) body.substance = text(f, "substance");
    if (f.language.value && f.language.value !== (s.language || "en")) body.language = f.language.value;
    if (f.reminders.checked !== ((editBase && editBase.reminders) !== false)) body.reminders = f.reminders.checked;
    if (interval !== undefined) body.check_in_interval_s = interval;
    if (grace !== undefined) body.grace_s = grace;
    try {
      upsert(await api("PATCH", "/v1/sessions/" + current, body), false);
      // What this page revealed stays what the operator just saved (the answer of an active session is redacted).
      if (revealed.has(current)) {
        revealed.set(current, Object.assign({}, revealed.get(current), { location }, body.substance ? { substance: body.substance } : {}));
      }
      render();
      $("#edit-dialog").close();
    }
    catch (e) { $("#edit-error").textContent = e.message; }
  }

  async function endSession(ev) {
    ev.preventDefault();
    const f = ev.target;
    const body = { outcome: f.outcome.value };
    if (text(f, "note")) body.note = text(f, "note");
    try { await api("POST", "/v1/sessions/" + current + "/end", body); sessions.delete(current); render(); $("#end-dialog").close(); f.reset(); }
    catch (e) { $("#end-error").textContent = e.message; }
  }

  async function pinRoute(ev) {
    ev.preventDefault();
    const target = text(ev.target, "target");
    if (!target) { $("#route-error").textContent = "Name a dispatch target."; return; }
    try { upsert(await api("PATCH", "/v1/sessions/" + current, { route: { target } }), false); render(); $("#route-dialog").close(); ev.target.reset(); }
    catch (e) { $("#route-error").textContent = e.message; }
  }

  async function dispatchNow(ev) {
    ev.preventDefault();
    try { upsert(await api("POST", "/v1/sessions/" + current + "/dispatch", {}), false); render(); $("#dispatch-dialog").close(); }
    catch (e) { $("#dispatch-error").textContent = e.message; }
  }

  // ---- keyboard ----
  function onKey(ev) {
    if (ev.target.closest("input, textarea, select") || document.querySelector("dialog[open]") || $("#app").hidden) {
      return;
    }
    const list = sorted();
    const i = list.findIndex((s) => s.id === selected);
    const sel = () => (selected && sessions.has(selected) ? selected : list.length ? list[0].id : null);
    switch (ev.key) {
      case "n": ev.preventDefault(); openNew(); break;
      case "j": if (list.length) { selected = list[Math.min(list.length - 1, i + 1)].id; render(); } break;
      case "k": if (list.length) { selected = list[Math.max(0, i - 1)].id; render(); } break;
      case "c": if (sel()) act("check-in", sel()); break;
      case "a": if (sel()) act("acknowledge", sel()); break;
      case "d": if (sel()) act("dispatch", sel()); break;
      case "e": if (sel()) act("end", sel()); break;
      case "t": if (sel()) act("timeline", sel()); break;
      default: break;
    }
  }

  function openNew() {
    $("#new-session-error").textContent = "";
    $("#new-session-dialog").showModal();
    $("#new-session").alias.focus();
  }

  // ---- who is on shift ----
  // The names of the tokens whose consoles have their event stream open now (GET /v1/operators/connected).
  async function loadOnShift() {
    if (!token) return;
    try {
      const r = await api("GET", "/v1/operators/connected");
      const list = $("#on-shift-list");
      list.textContent = "";
      const staff = r.operators.filter((o) => o.staff);
      if (staff.length === 0) list.textContent = "nobody connected";
      staff.forEach((o, i) => {
        const span = document.createElement("span");
        span.className = "operator";
        span.textContent = (i ? " · " : "") + "● " + o.name + " (" + o.role + ")" + (r.you && r.you.name === o.name ? " — you" : "");
        list.appendChild(span);
      });
      const others = r.operators.length - staff.length;
      if (others > 0) list.appendChild(document.createTextNode(" · " + others + " viewer(s)"));
    } catch (e) { /* the stream warning says when the server cannot be reached */ }
  }

  // For the history, detail and dashboard views (console-shift.js).
  window.vigil = { api, raiseAlarm, label, token: () => token };

  // ---- wiring ----
  $("#signin").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("#signin-token").value.trim()); });
  $("#signout").addEventListener("click", () => signOut(""));
  $("#new-session-button").addEventListener("click", openNew);
  $("#new-session").addEventListener("submit", startSession);
  $("#edit-form").addEventListener("submit", saveEdit);
  $("#end-form").addEventListener("submit", endSession);
  $("#dispatch-form").addEventListener("submit", dispatchNow);
  $("#route-form").addEventListener("submit", pinRoute);
  $("#alarm-ack").addEventListener("click", clearAlarms);
  $("#enable-alerts").addEventListener("click", () => {
    beep();
    if ("Notification" in window) Notification.requestPermission();
  });
  for (const b of document.querySelectorAll("dialog [data-close]")) b.addEventListener("click", () => b.closest("dialog").close());
  document.addEventListener("keydown", onKey);
  setInterval(tick, 1000);
  setInterval(checkStream, 1000);
  // A page kept in the back/forward cache must not hold its stream open: the server would count it as watching.
  window.addEventListener("pagehide", () => { if (source) { source.close(); source = null; } });
  window.addEventListener("pageshow", (ev) => { if (ev.persisted && token) connect(); });
  setInterval(loadOnShift, 10000);
  if (token) signIn(token); else showApp(false);
})();
