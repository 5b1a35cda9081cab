// Follow-ups on the operator console: the list of people to call back after an emergency response, and the form
// that closes one with its outcome. Never logs personal data.
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  let current = null;

  async function api(method, path, body) {
    const token = sessionStorage.getItem("vigil.token");
    if (!token) throw new Error("signed out");
    const res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new Error(data && data.error ? data.error.message : "HTTP " + res.status);
    return data;
  }

  async function load() {
    if ($("#app").hidden || !sessionStorage.getItem("vigil.token")) return;
    let data;
    try { data = await api("GET", "/v1/follow-ups"); } catch (e) { return; }
    const body = $("#follow-up-body");
    body.textContent = "";
    // Open ones first, the most overdue on top; closed ones after.
    const list = data.follow_ups.slice().sort((a, b) => (a.state === b.state ? Date.parse(a.due_at) - Date.parse(b.due_at) : a.state === "open" ? -1 : 1));
    $("#follow-up-empty").hidden = list.length > 0;
    for (const f of list) {
      const tr = document.createElement("tr");
      tr.dataset.followUpId = f.id;
      tr.dataset.state = f.state;
      const cells = [f.alias || "(no alias)", new Date(f.due_at).toLocaleString(), f.due ? "DUE: call back now" : f.state,
        f.outcome ? f.outcome + (f.naloxone_used === true ? " · naloxone" : "") + " · by " + f.closed_by : "—"];
      const labels = ["Person", "Due", "State", "Outcome"];
      cells.forEach((c, i) => { const td = document.createElement("td"); td.dataset.label = labels[i]; td.textContent = c; tr.appendChild(td); });
      // Staff read an open follow-up's number: the call back needs it (a viewer's read has none).
      if (f.state === "open" && f.callback_number) {
        const a = document.createElement("a");
        a.className = "tel";
        a.href = "tel:" + f.callback_number.replace(/[^+0-9]/g, "");
        a.textContent = " Call " + f.callback_number;
        tr.firstChild.appendChild(a);
      }
      if (f.state === "open" && Date.parse(f.due_at) < Date.now()) tr.className = "due";
      const td = document.createElement("td");
      if (f.state === "open") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "Close";
        b.dataset.action = "close-follow-up";
        b.addEventListener("click", () => {
          current = f.id;
          $("#follow-up-error").textContent = "";
          offer(f.resources || []);
          $("#follow-up-dialog").showModal();
        });
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  // The resources nearest the person, to offer on the call: each one ticked is recorded as a referral.
  function offer(ids) {
    const list = $("#follow-up-resource-list");
    list.textContent = "";
    $("#follow-up-resources").hidden = ids.length === 0;
    for (const id of ids) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "referral";
      box.value = id;
      label.append(box, " " + id);
      list.appendChild(label);
    }
  }

  $("#follow-up-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { outcome: f.outcome.value };
    if (f.naloxone_used.value) body.naloxone_used = f.naloxone_used.value === "true";
    if (f.note.value.trim()) body.note = f.note.value.trim();
    const referrals = [...f.querySelectorAll("input[name=referral]:checked")].map((b) => b.value);
    if (referrals.length) body.referrals = referrals;
    try {
      await api("POST", "/v1/follow-ups/" + encodeURIComponent(current) + "/close", body);
      $("#follow-up-dialog").close();
      f.reset();
      load();
    } catch (e) { $("#follow-up-error").textContent = e.message; }
  });
  setInterval(load, 3000);
  load();
})();
