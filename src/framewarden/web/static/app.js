/* framewarden dashboard: one small script, no framework, no build step.
 * Reads the /v1 API with the session cookie (CSRF token in a header on every
 * state-changing call) and listens to /v1/events for live updates: no polling. */
"use strict";

const FW_DATA = JSON.parse(document.getElementById("fw-data")?.textContent || "{}");

const FW = (() => {
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const role = { canModerate: body.dataset.canModerate === "true", isAdmin: body.dataset.isAdmin === "true" };

  async function api(method, path, data, raw) {
    const init = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (data !== undefined) {
      if (raw) { init.body = data; init.headers["Content-Type"] = raw; }
      else { init.body = JSON.stringify(data); init.headers["Content-Type"] = "application/json"; }
    }
    const res = await fetch(path, init);
    if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!res.ok) {
      const err = new Error(detailText(json) || res.statusText);
      err.status = res.status; err.detail = json && json.detail;
      throw err;
    }
    return json;
  }

  function detailText(json) {
    if (!json || json.detail === undefined) return "";
    return typeof json.detail === "string" ? json.detail : JSON.stringify(json.detail);
  }

  // Errors are {"detail": "body.a.b: what; body.c: what"} (docs/api.md): back to (field path, message).
  function problems(err) {
    const text = typeof err.detail === "string" ? err.detail : err.message;
    const parts = text.split("; ").map((p) => /^(?:body|query|path)(?:\.([^:]*))?: ([\s\S]*)$/.exec(p));
    if (!parts.every(Boolean)) return [{ loc: [], msg: text }];  // a sentence of its own, not a list
    return parts.map((m) => ({ loc: m[1] ? m[1].split(".") : [], msg: m[2].replace(/^Value error, /, "") }));
  }
  // Each problem next to its field (the longest matching path, else its last part, else guess(msg)), else at "_".
  function showErrors(form, err, guess) {
    form.querySelectorAll(".field-error").forEach((s) => { s.textContent = ""; });
    const at = (field) => (field ? form.querySelector(`.field-error[data-field="${CSS.escape(field)}"]`) : null);
    for (const { loc, msg } of problems(err)) {
      let target = null;
      for (let n = loc.length; n > 0 && !target; n--) target = at(loc.slice(0, n).join("."));
      target = target || at(loc[loc.length - 1]) || (guess && at(guess(msg))) || at("_");
      target.textContent = msg;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : document.createTextNode(String(c)));
    return node;
  }

  function rel(when) {
    const t = typeof when === "number" ? when * 1000 : Date.parse(when);
    if (!t) return el("span", { text: "–" });
    const s = Math.round((Date.now() - t) / 1000);
    const txt = s < 5 ? "just now" : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : new Date(t).toLocaleDateString();
    return el("time", { datetime: new Date(t).toISOString(), title: new Date(t).toLocaleString(), text: txt });
  }

  function toast(msg, bad) {
    const box = document.getElementById("toast");
    box.textContent = msg; box.hidden = false; box.classList.toggle("error", !!bad);
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  // --- the events WebSocket, reconnecting with backoff ------------------------------------
  const handlers = [];
  function onEvent(fn) { handlers.push(fn); }
  function connect(delay = 500) {
    const badge = document.getElementById("ws-state");
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/events`);
    ws.onopen = () => { badge.textContent = "live"; badge.className = "badge live"; delay = 500; };
    ws.onmessage = (m) => { const ev = JSON.parse(m.data); for (const h of handlers) h(ev); };
    ws.onclose = (e) => {
      badge.textContent = "reconnecting"; badge.className = "badge reconnecting";
      if (e.code === 4401) { location.href = "/login"; return; }
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }

  function labelChips(labels, violations) {
    const byLabel = {};
    for (const v of violations || []) { byLabel[v.label] = v.action; if (v.matched) byLabel[v.matched] = v.action; }
    return Object.entries(labels || {}).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([name, conf]) =>
      el("span", { class: `chip ${byLabel[name] || "below"}`, title: byLabel[name] ? `at ${byLabel[name]} threshold` : "below alert threshold", text: `${name} ${Math.round(conf)}` }));
  }

  return { api, el, rel, toast, onEvent, connect, role, labelChips, csrf, showErrors };
})();

/* ---------------------------------------------------------------- live wall */
function pageWall() {
  const { api, el, onEvent, labelChips } = FW;
  const wall = document.getElementById("wall");
  const tiles = new Map();
  window.fwTileLatency = [];  // verdict -> tile painted, ms (read by the browser test)

  function tile(name) {
    if (tiles.has(name)) return tiles.get(name);
    const img = el("img", { alt: `Latest analyzed frame of ${name}`, hidden: true });
    const reveal = el("button", { class: "reveal", type: "button", hidden: true, text: "Reveal" });
    const frame = el("div", { class: "frame" }, img, el("span", { class: "muted placeholder", text: "waiting for a frame" }), reveal);
    const t = {
      root: el("article", { class: "tile", "data-channel": name, "aria-label": `Channel ${name}` }),
      img, frame, reveal, revealed: false, times: [],
      badge: el("span", { class: "badge", "data-role": "state" }),
      stats: el("span", { class: "muted", "data-role": "stats" }),
      labels: el("div", { "data-role": "labels" }),
      reason: el("div", { class: "error", "data-role": "reason" }),
    };
    reveal.addEventListener("click", () => { t.revealed = !t.revealed; frame.classList.toggle("blur", !t.revealed); reveal.textContent = t.revealed ? "Blur" : "Reveal"; });
    img.addEventListener("load", () => {
      img.hidden = false; frame.querySelector(".placeholder")?.remove();
      const decided = Number(img.dataset.decided);
      if (decided) window.fwTileLatency.push({ channel: name, seq: Number(img.dataset.seq), ms: Date.now() - decided * 1000 });
    });
    t.root.append(frame, el("div", { class: "meta" },
      el("div", { class: "row" }, el("a", { href: `/channels/${encodeURIComponent(name)}/view`, text: name }), t.badge),
      t.stats, t.labels, t.reason));
    wall.append(t.root); tiles.set(name, t);
    document.getElementById("wall-empty").hidden = true;
    return t;
  }

  function setState(name, state, reason) {
    const t = tile(name);
    t.badge.textContent = state; t.badge.className = `badge ${state}`; t.root.dataset.state = state;
    t.reason.textContent = state === "error" || state === "reconnecting" ? reason || "" : "";
  }

  function onResult(name, p) {
    const t = tile(name);
    const flagged = (p.verdict?.violations || []).length > 0;
    t.root.classList.toggle("flagged", flagged);
    t.frame.classList.toggle("blur", flagged && !t.revealed);
    t.reveal.hidden = !flagged;
    if (!flagged) t.revealed = false;
    t.img.dataset.seq = p.seq; t.img.dataset.decided = p.decided_at;
    t.img.src = `/v1/channels/${encodeURIComponent(name)}/frame.jpg?seq=${p.seq}`;
    const now = Date.now(); t.times.push(now); while (t.times.length && now - t.times[0] > 10000) t.times.shift();
    const fps = t.times.length > 1 ? (t.times.length - 1) / ((now - t.times[0]) / 1000) : 0;
    t.stats.textContent = `${fps.toFixed(1)} analyzed frames/s · ${Math.round(p.latency_ms)} ms latency`;
    t.labels.replaceChildren(...labelChips(p.labels, p.verdict?.violations));
    if (t.root.dataset.state !== "live") setState(name, "live", "");
  }

  onEvent((ev) => {
    if (ev.kind === "hello") {
      for (const c of ev.channels) setState(c.name, c.state, c.reason);
      document.getElementById("wall-empty").hidden = ev.channels.length > 0;
    } else if (ev.kind === "channel_state") {
      setState(ev.channel, ev.payload.state, ev.payload.reason);
    } else if (ev.kind === "result" && ev.channel) {
      onResult(ev.channel, ev.payload);
    }
  });
  api("GET", "/v1/channels").then((rows) => {
    for (const c of rows) setState(c.name, c.state, c.reason);
    document.getElementById("wall-empty").hidden = rows.length > 0 || tiles.size > 0;
  }).catch((e) => FW.toast(e.message, true));
}

/* ---------------------------------------------------------------- channel page */
function pageChannel() {
  const { api, el, rel, onEvent, labelChips } = FW;
  const name = FW_DATA.channel;
  const img = document.getElementById("ch-img");
  const frame = document.getElementById("ch-frame");
  const revealBtn = document.getElementById("ch-reveal");
  let revealed = false;
  revealBtn.addEventListener("click", () => { revealed = !revealed; frame.classList.toggle("blur", !revealed); revealBtn.textContent = revealed ? "Blur" : "Reveal"; });
  const series = new Map();
  const since = Date.now() - 10 * 60 * 1000;
  const chart = new Chart(document.getElementById("ch-timeline"), {
    type: "line",
    data: { datasets: [] },
    options: { animation: false, maintainAspectRatio: false, parsing: false, scales: { x: { type: "linear", ticks: { callback: (v) => new Date(v).toLocaleTimeString() } }, y: { min: 0, max: 100 } } },
  });
  function addPoint(label, t, c) {
    if (!series.has(label)) { const ds = { label, data: [], pointRadius: 2 }; series.set(label, ds); chart.data.datasets.push(ds); }
    const ds = series.get(label); ds.data.push({ x: t, y: c }); while (ds.data.length && ds.data[0].x < Date.now() - 600000) ds.data.shift();
  }
  const overlay = document.getElementById("ch-boxes");
  img.addEventListener("load", async () => {
    // The overlay covers the picture as drawn (object-fit: contain letterboxes it).
    const cw = frame.clientWidth, chh = frame.clientHeight, s = Math.min(cw / img.naturalWidth, chh / img.naturalHeight);
    Object.assign(overlay.style, { width: `${img.naturalWidth * s}px`, height: `${img.naturalHeight * s}px`, left: `${(cw - img.naturalWidth * s) / 2}px`, top: `${(chh - img.naturalHeight * s) / 2}px` });
    const seq = Number(img.dataset.seq);
    let det = { seq: null, boxes: [] };
    try { det = await api("GET", `/v1/channels/${encodeURIComponent(name)}/detections`); } catch (_) { /* keep none */ }
    if (det.seq !== seq || Number(img.dataset.seq) !== seq) { overlay.replaceChildren(); return; }
    overlay.replaceChildren(...det.boxes.map((b) => {
      const box = el("div", { class: "box", title: `${b.label} ${b.confidence} (${b.analyzer})` }, el("span", { text: `${b.label} ${Math.round(b.confidence)}` }));
      Object.assign(box.style, { left: `${b.left * 100}%`, top: `${b.top * 100}%`, width: `${b.width * 100}%`, height: `${b.height * 100}%` });
      return box;
    }));
  });
  function showResult(p) {
    const flagged = (p.verdict?.violations || []).length > 0;
    frame.classList.toggle("blur", flagged && !revealed); revealBtn.hidden = !flagged;
    img.dataset.seq = p.seq;
    img.src = `/v1/channels/${encodeURIComponent(name)}/frame.jpg?seq=${p.seq}`;
    document.getElementById("ch-labels").replaceChildren(...labelChips(p.labels, p.verdict?.violations));
    for (const [label, conf] of Object.entries(p.labels || {})) addPoint(label, p.decided_at * 1000, conf);
    chart.update("none");
    document.getElementById("ch-timeline-empty").hidden = true;
    const row = el("tr", {}, el("td", {}, FW.rel(p.decided_at)), el("td", { text: p.seq }), el("td", {}, labelChips(p.labels, p.verdict?.violations)));
    const tbody = document.getElementById("ch-results"); tbody.prepend(row); while (tbody.children.length > 15) tbody.lastChild.remove();
  }
  function alertRow(a) {
    return el("tr", {}, el("td", {}, rel(a.created_at)), el("td", {}, el("a", { href: `/alerts/${a.id}`, text: `${a.top_label} ${Math.round(a.peak_confidence)}` })), el("td", { text: a.status }));
  }
  api("GET", `/v1/channels/${encodeURIComponent(name)}`).then(async (c) => {
    const badge = document.getElementById("ch-state"); badge.textContent = c.state; badge.className = `badge ${c.state}`;
    const st = c.stats.stats || c.stats;
    document.getElementById("ch-stats").textContent = `analyzed ${st.analyzed ?? 0} · latency p50 ${Math.round(st.latency_p50_ms ?? 0)} ms · p99 ${Math.round(st.latency_p99_ms ?? 0)} ms · reconnects ${c.stats.reconnects ?? 0}`;
    if (c.rule_id) {
      let rule;
      try { rule = await api("GET", `/v1/rules/${encodeURIComponent(c.rule_id)}`); }
      catch (e) {
        if (e.status !== 404) throw e;
        document.getElementById("ch-rule").replaceChildren(el("p", { text: `${c.rule_id}: not found (deleted since?)` }));
        return;
      }
      const box = document.getElementById("ch-rule");
      const which = rule.built_in ? ": the built-in default rule (no stored rule matches this channel)" : ` v${rule.version}`;
      box.replaceChildren(el("p", {}, el("a", { href: `/rules#${rule.id}`, text: rule.id }), `${which} · sample every ${rule.rule.sample_interval_s} s`),
        el("table", {}, el("tbody", {}, Object.entries(rule.rule.labels || {}).map(([l, t]) => el("tr", {}, el("td", { text: l }), el("td", { text: typeof t === "number" ? `alert ≥ ${t}` : Object.entries(t).filter(([, v]) => v !== null).map(([k, v]) => `${k} ≥ ${v}`).join(", ") }))))));
    } else document.getElementById("ch-rule").textContent = "No rule applies to this channel.";
  }).catch((e) => FW.toast(e.message, true));
  api("GET", `/v1/alerts?channel=${encodeURIComponent(name)}&limit=10`).then((page) => {
    document.getElementById("ch-alerts").replaceChildren(...page.items.map(alertRow));
  });
  api("GET", `/v1/channels/${encodeURIComponent(name)}/results?since=${new Date(since).toISOString()}&newest_first=true&limit=500`).then((page) => {
    const items = page.items.slice().reverse();
    for (const r of items) for (const l of r.labels || []) if (l.TaxonomyLevel === 1 || l.TaxonomyLevel === undefined) addPoint(l.Name, Date.parse(r.analyzed_at), l.Confidence);
    chart.update("none");
    document.getElementById("ch-timeline-empty").hidden = items.length > 0;
  }).catch(() => { document.getElementById("ch-timeline-empty").hidden = false; });
  onEvent((ev) => {
    if (ev.channel !== name) return;
    if (ev.kind === "result") showResult(ev.payload);
    else if (ev.kind === "channel_state") { const b = document.getElementById("ch-state"); b.textContent = ev.payload.state; b.className = `badge ${ev.payload.state}`; }
    else if (ev.kind === "alert") document.getElementById("ch-alerts").prepend(alertRow(ev.payload));
  });
}

/* ---------------------------------------------------------------- alert queue */
function pageAlerts() {
  const { api, el, rel, onEvent, role } = FW;
  const list = document.getElementById("queue");
  const detail = document.getElementById("detail");
  const form = document.getElementById("filters");
  let items = []; let index = -1; let revealed = false;
  document.getElementById("labels").replaceChildren(...FW_DATA.labels.map((l) => el("option", { value: l.name })));
  const sound = document.getElementById("sound");
  sound.checked = localStorage.getItem("fw.sound") === "1";
  sound.addEventListener("change", () => localStorage.setItem("fw.sound", sound.checked ? "1" : "0"));

  function filters() {
    return { channel: form.channel.value.trim(), label: form.label.value.trim(), status: form.status.value, severity: Number(form.severity.value || 0) };
  }
  function matches(a) {
    const f = filters();
    return (!f.channel || a.channel === f.channel) && (!f.status || a.status === f.status) && (!f.severity || a.severity >= f.severity)
      && (!f.label || (a.labels || []).includes(f.label) || a.top_label === f.label);
  }
  function row(a, fresh) {
    const li = el("li", { role: "option", "data-id": a.id, class: [a.escalation_level > 0 ? "escalated" : "", fresh ? "new" : ""].join(" ").trim(), "aria-selected": "false" },
      el("strong", { text: a.top_label || "?" }), ` ${Math.round(a.peak_confidence)} · `, el("span", { text: a.channel }), " · ", rel(a.created_at),
      a.occurrences > 1 ? el("span", { class: "badge", text: `×${a.occurrences}` }) : null,
      a.escalation_level > 0 ? el("span", { class: "badge error", text: "escalated" }) : null,
      el("div", { class: "muted", text: `${a.status} · severity ${a.severity}` }));
    li.addEventListener("click", () => select(items.findIndex((x) => x.id === a.id)));
    return li;
  }
  function render() {
    list.replaceChildren(...items.map((a) => row(a)));
    document.getElementById("queue-empty").hidden = items.length > 0;
    if (index >= items.length) index = items.length - 1;
    if (index >= 0) select(index); else detail.replaceChildren(el("p", { class: "empty", text: "Select an alert (j)." }));
  }
  async function load() {
    const f = filters(); const q = new URLSearchParams({ limit: "200" });
    if (f.channel) q.set("channel", f.channel); if (f.label) q.set("label", f.label); if (f.status) q.append("status", f.status);
    try {
      const page = await api("GET", `/v1/alerts?${q}`);
      items = page.items.filter((a) => !f.severity || a.severity >= f.severity);
      if (FW_DATA.selected) { index = items.findIndex((a) => a.id === FW_DATA.selected); FW_DATA.selected = null; }
      else if (index < 0 && items.length) index = 0;
      render();
    } catch (e) { FW.toast(e.message, true); }
  }
  async function select(i) {
    if (i < 0 || i >= items.length) return;
    index = i; revealed = false;
    for (const li of list.children) li.setAttribute("aria-selected", String(li.dataset.id === String(items[i].id)));
    list.children[i]?.scrollIntoView({ block: "nearest" });
    const a = items[i];
    history.replaceState(null, "", `/alerts/${a.id}`);
    let full = a;
    try { full = await api("GET", `/v1/alerts/${a.id}`); } catch (_) { /* keep the list's copy */ }
    if (items[index] !== a) return;  // the selection moved on meanwhile
    const ev = el("div", { class: "evidence blur", title: "Click or press r to reveal", tabindex: "0", role: "button", "aria-label": "Evidence frame, blurred: activate to reveal" });
    if (a.evidence_key) ev.append(el("img", { src: `/v1/alerts/${a.id}/evidence.jpg`, alt: `Evidence frame of alert ${a.id}` }));
    else ev.append(el("span", { class: "muted", text: "no evidence frame kept" }));
    const toggle = () => { revealed = !revealed; ev.classList.toggle("blur", !revealed); ev.setAttribute("aria-label", revealed ? "Evidence frame, revealed: activate to blur" : "Evidence frame, blurred: activate to reveal"); };
    ev.addEventListener("click", toggle); ev.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
    ev.toggle = toggle;
    const open = full.status === "open";
    const note = el("input", { id: "note", name: "note", maxlength: "2000", size: "40", placeholder: "why (optional)" });
    const actions = role.canModerate ? el("div", { class: "actions" },
      el("label", {}, "Note", note),
      el("button", { type: "button", class: "primary", "data-action": "confirm", disabled: !open, onclick: () => act("confirm") }, "Confirm (c)"),
      el("button", { type: "button", "data-action": "dismiss", disabled: !open, onclick: () => act("dismiss") }, "Dismiss (d)"),
      el("button", { type: "button", class: "danger", "data-action": "stop-stream", disabled: !open, onclick: () => act("stop-stream") }, "Stop stream (s)")) : null;
    detail.replaceChildren(
      el("h2", {}, `Alert ${a.id} · `, el("a", { href: `/channels/${encodeURIComponent(a.channel)}/view`, text: a.channel }), " ", el("span", { class: "badge", "data-role": "status", text: full.status })),
      ev, actions || "",
      el("p", {}, `Rule `, el("a", { href: `/rules#${a.rule_id}`, text: a.rule_id }), a.rule_version ? ` v${a.rule_version}` : " (built-in)", ` · severity ${a.severity} · seen ${a.occurrences}× · frame ${a.frame_seq} · `, rel(a.created_at)),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Label" }), el("th", { text: "Confidence" }), el("th", { text: "Threshold" }), el("th", { text: "Tier" }))),
        el("tbody", {}, (a.violations || []).map((v) => el("tr", {}, el("td", { text: v.label }), el("td", { text: Math.round(v.confidence) }), el("td", { text: v.threshold }), el("td", { text: v.action }))))),
      el("h2", { text: "History" }),
      el("ul", { "data-role": "history" }, (full.history || []).map((h) => el("li", {}, rel(h.at), ` ${h.action} by ${h.actor || "framewarden"}`, h.note ? ` — “${h.note}”` : ""))));
    detail.evidence = ev; detail.note = note;
  }
  async function act(action) {
    const a = items[index]; if (!a || !role.canModerate) return;
    const note = detail.note?.value.trim() || null;
    try {
      const updated = await api("POST", `/v1/alerts/${a.id}/${action}`, { note });
      FW.toast(`Alert ${a.id}: ${updated.status || action}`);
      Object.assign(a, updated);
      if (filters().status && updated.status !== filters().status) { items.splice(index, 1); render(); }
      else select(index);
    } catch (e) { FW.toast(`Alert ${a.id}: ${e.message}`, true); }
  }
  function beep() {
    try { const ctx = new AudioContext(); const o = ctx.createOscillator(); o.frequency.value = 880; o.connect(ctx.destination); o.start(); o.stop(ctx.currentTime + 0.15); } catch (_) { /* no audio */ }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); index = -1; load(); });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.metaKey || e.ctrlKey || e.altKey) { if (e.key === "Escape") e.target.blur(); return; }
    const keys = { j: () => select(Math.min(index + 1, items.length - 1)), k: () => select(Math.max(index - 1, 0)), r: () => detail.evidence?.toggle(), n: () => detail.note?.focus(), c: () => act("confirm"), d: () => act("dismiss"), s: () => act("stop-stream"), "?": () => document.getElementById("help").showModal() };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  onEvent((ev) => {
    if (ev.kind === "alert" && matches(ev.payload)) {
      const known = items.findIndex((a) => a.id === ev.payload.id);
      if (known >= 0) { items[known] = ev.payload; list.children[known]?.replaceWith(row(ev.payload)); return; }
      items.unshift(ev.payload); if (index >= 0) index += 1; else index = 0;
      list.prepend(row(ev.payload, true)); document.getElementById("queue-empty").hidden = true;
      if (index === 0) select(0); else list.children[index]?.setAttribute("aria-selected", "true");
      if (sound.checked) beep();
    } else if (ev.kind === "alert_updated") {
      const i = items.findIndex((a) => a.id === ev.payload.id);
      if (i >= 0) { items[i] = { ...items[i], ...ev.payload }; list.children[i]?.replaceWith(row(items[i])); if (i === index) list.children[i].setAttribute("aria-selected", "true"); }
    }
  });
  load();
}

/* ---------------------------------------------------------------- charts */
function pageCharts() {
  const { api } = FW;
  const charts = {};
  const price = document.getElementById("price");
  price.value = localStorage.getItem("fw.price") || "1.00";
  let last = null;
  function chart(id, config) {
    if (charts[id]) { charts[id].data = config.data; charts[id].update("none"); return; }
    charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, maintainAspectRatio: false, ...config.options } });
  }
  function nodata(id, empty) { document.querySelector(`.nodata[data-for="${id}"]`).hidden = !empty; document.getElementById(id).closest(".chartbox").hidden = empty; }
  function cost() {
    if (!last) return;
    const p = Number(price.value) || 0; localStorage.setItem("fw.price", String(p));
    const n = last.cost.frames_analyzed;
    document.getElementById("cost-frames").textContent = n.toLocaleString();
    document.getElementById("cost-cloud").textContent = `${((n / 1000) * p).toFixed(2)} USD`;
    document.getElementById("cost-cpu").textContent = `${last.cost.cpu_seconds.toFixed(1)} CPU s`;
    document.getElementById("cost-cpu-per").textContent = n ? `${((last.cost.cpu_seconds / n) * 1000).toFixed(1)} CPU s` : "–";
  }
  async function refresh() {
    try { last = await api("GET", `/v1/dashboard/stats?minutes=${document.getElementById("c-minutes").value}`); } catch (e) { FW.toast(e.message, true); return; }
    const conf = Object.entries(last.confidence);
    nodata("chart-confidence", conf.length === 0);
    chart("chart-confidence", { type: "line", data: { datasets: conf.map(([label, pts]) => ({ label, data: pts.map((p) => ({ x: p.t * 1000, y: p.c })), pointRadius: 1 })) },
      options: { parsing: false, scales: { x: { type: "linear", ticks: { callback: (v) => new Date(v).toLocaleTimeString() } }, y: { min: 0, max: 100, title: { display: true, text: "confidence" } } } } });
    const cats = Object.keys(last.alerts_per_hour);
    const hours = [...new Set(cats.flatMap((c) => Object.keys(last.alerts_per_hour[c])))].sort();
    nodata("chart-alerts", cats.length === 0);
    chart("chart-alerts", { type: "bar", data: { labels: hours.map((h) => new Date(h).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })), datasets: cats.map((c) => ({ label: c, data: hours.map((h) => last.alerts_per_hour[c][h] || 0) })) }, options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
    const f = last.funnel;
    nodata("chart-funnel", !f.decoded && !f.analyzed);
    chart("chart-funnel", { type: "bar", data: { labels: ["decoded", "sampled", "skipped (duplicate)", "analyzed", "dropped"], datasets: [{ label: "frames", data: [f.decoded, f.sampled, f.deduped, f.analyzed, f.dropped] }] }, options: { plugins: { legend: { display: false } } } });
    const inf = last.inference_s; const lat = last.frame_latency_s;
    nodata("chart-latency", inf.p50 === null && lat.p50 === null);
    chart("chart-latency", { type: "bar", data: { labels: ["inference", "frame → verdict"], datasets: [{ label: "p50 (ms)", data: [inf.p50, lat.p50].map((v) => (v === null ? 0 : v * 1000)) }, { label: "p99 (ms)", data: [inf.p99, lat.p99].map((v) => (v === null ? 0 : v * 1000)) }] }, options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms (histogram bucket bound)" } } } } });
    cost();
    document.body.dataset.chartsReady = "true";
  }
  price.addEventListener("input", cost);
  document.getElementById("c-refresh").addEventListener("click", refresh);
  document.getElementById("c-minutes").addEventListener("change", refresh);
  let pending = false;
  FW.onEvent((ev) => { if ((ev.kind === "alert" || ev.kind === "result") && !pending) { pending = true; setTimeout(() => { pending = false; refresh(); }, 5000); } });
  refresh();
}

/* ---------------------------------------------------------------- rules editor */
function pageRules() {
  const { api, el, rel, role } = FW;
  const tbody = document.getElementById("rules");
  const editor = document.getElementById("editor");
  document.getElementById("labels").replaceChildren(...FW_DATA.labels.map((l) => el("option", { value: l.name, label: `${"· ".repeat(l.level - 1)}${l.name}` })));
  let rules = [];

  async function load() {
    rules = await api("GET", "/v1/rules");
    tbody.replaceChildren(...rules.map((r) => el("tr", {}, el("td", {}, el("a", { href: `#${r.id}`, text: r.id })), el("td", { text: r.rule.channel ? `channel ${r.rule.channel}` : r.rule.channel_pattern ? `pattern ${r.rule.channel_pattern}` : "every channel" }), el("td", { text: r.rule.priority }), el("td", { text: r.built_in ? "built-in" : `v${r.version}` }))));
    document.getElementById("rules-empty").hidden = rules.length > 0;
    open(location.hash.slice(1));
  }
  function thresholdsOf(t) { return typeof t === "number" ? { alert: t, review: null, auto_stop: null } : { alert: t.alert ?? null, review: t.review ?? null, auto_stop: t.auto_stop ?? null }; }
  function num(name, value, attrs) { return el("input", { type: "number", name, value: value ?? "", step: "any", min: "0", ...attrs }); }
  function labelRow(name, t) {
    const th = thresholdsOf(t);
    const tr = el("tr", { "data-label-row": "" },
      el("td", {}, el("label", {}, "Label", el("input", { name: "label", list: "labels", value: name, size: "24" }))),
      ...["alert", "review", "auto_stop"].map((k) => el("td", {}, el("label", {}, k.replace("_", "-"), num(k, th[k], { max: "100", style: "width:5.5em" })))),
      el("td", {}, el("button", { type: "button", "aria-label": `Remove ${name || "label"}`, onclick: () => tr.remove() }, "✕")),
      el("td", {}, el("span", { class: "field-error", "data-field": `labels.${name}` })));
    return tr;
  }
  async function open(id) {
    const r = rules.find((x) => x.id === id);
    if (!r) return;
    const b = r.rule;
    const editable = role.isAdmin && !r.built_in;  // the built-in default is read-only (a stored "default" replaces it)
    const rows = el("tbody", {}, Object.entries(b.labels || {}).map(([n, t]) => labelRow(n, t)));
    const form = el("form", { id: "rule-form", novalidate: true },
      el("h2", {}, `Rule ${r.id} `, el("span", { class: "muted", text: r.built_in ? "built-in" : `v${r.version}` })),
      el("p", { class: "muted", text: b.description || "" }),
      r.built_in ? el("p", { class: "muted", "data-role": "built-in", text: "The built-in default rule applies to every channel no stored rule matches. It is read-only here: import a rule with id \u201cdefault\u201d to replace it." }) : null,
      el("div", { class: "filters" },
        el("label", {}, "Priority", num("priority", b.priority, { min: null, step: "1" }), el("span", { class: "field-error", "data-field": "priority" })),
        el("label", {}, "Sample interval (s)", num("sample_interval_s", b.sample_interval_s), el("span", { class: "field-error", "data-field": "sample_interval_s" })),
        el("label", { class: "inline" }, el("input", { type: "checkbox", name: "sim_enabled", checked: b.similarity?.enabled !== false }), "Skip similar frames"),
        el("label", {}, "Max distance", num("sim_max_distance", b.similarity?.max_distance ?? 8, { step: "1", max: "64" }), el("span", { class: "field-error", "data-field": "similarity.max_distance" })),
        el("label", {}, "Auto-stop K", num("k", b.auto_stop_window?.k ?? 1, { step: "1", min: "1" }), el("span", { class: "field-error", "data-field": "auto_stop_window" })),
        el("label", {}, "of N frames", num("n", b.auto_stop_window?.n ?? 1, { step: "1", min: "1" }))),
      el("h2", { text: "Labels (thresholds 0-100 per tier)" }),
      el("table", {}, rows),
      editable ? el("p", {}, el("button", { type: "button", onclick: () => rows.append(labelRow("", 50)) }, "Add label"), " ", el("button", { type: "submit", class: "primary" }, "Save"), " ", el("span", { class: "field-error", "data-field": "_" })) : null,
      r.built_in ? null : el("h2", { text: "History" }), r.built_in ? null : el("div", { id: "history" }));
    form.querySelectorAll("input, button").forEach((i) => { i.disabled = !editable; });
    form.addEventListener("submit", (e) => { e.preventDefault(); save(r, form); });
    editor.replaceChildren(form);
    if (!r.built_in) history(r.id);
  }
  function value(input) { return input.value === "" ? null : Number(input.value); }
  async function save(r, form) {
    form.querySelectorAll(".field-error").forEach((s) => { s.textContent = ""; });
    const labels = {};
    for (const tr of form.querySelectorAll("[data-label-row]")) {
      const name = tr.querySelector('[name="label"]').value.trim(); if (!name) continue;
      const t = {}; for (const k of ["alert", "review", "auto_stop"]) { const v = value(tr.querySelector(`[name="${k}"]`)); if (v !== null) t[k] = v; }
      labels[name] = t;
      tr.querySelector(".field-error").dataset.field = `labels.${name}`;
    }
    const body = { ...r.rule, priority: value(form.priority), sample_interval_s: value(form.sample_interval_s), labels,
      similarity: { ...(r.rule.similarity || {}), enabled: form.sim_enabled.checked, max_distance: value(form.sim_max_distance) },
      auto_stop_window: { k: value(form.k), n: value(form.n) } };
    try {
      const saved = await api("PUT", `/v1/rules/${encodeURIComponent(r.id)}`, body);
      FW.toast(`Saved ${r.id} v${saved.version}; applies to ${(saved.affected_channels || []).join(", ") || "no running channel"}`);
      await load(); open(r.id);
    } catch (e) { FW.showErrors(form, e); }
  }
  async function history(id) {
    const versions = await api("GET", `/v1/rules/${encodeURIComponent(id)}/history`);
    const box = document.getElementById("history");
    box.replaceChildren(...versions.slice().reverse().map((v, i, all) => {
      const prev = all[i + 1];
      return el("details", {}, el("summary", {}, `v${v.version} ${v.action} by ${v.author} `, rel(v.changed_at)), el("div", { class: "diff" }, diff(prev ? prev.rule : null, v.rule)));
    }));
  }
  function diff(a, b) {
    const left = a ? JSON.stringify(a, null, 2).split("\n") : []; const right = b ? JSON.stringify(b, null, 2).split("\n") : [];
    const ls = new Set(left); const rs = new Set(right);
    const out = [];
    for (const l of left) if (!rs.has(l)) out.push(el("div", { class: "del", text: `- ${l}` }));
    for (const r of right) if (!ls.has(r)) out.push(el("div", { class: "add", text: `+ ${r}` }));
    return out.length ? out : [el("div", { class: "muted", text: a ? "no change" : "created" })];
  }
  const importBtn = document.getElementById("import");
  if (importBtn) importBtn.addEventListener("click", async () => {
    const out = document.getElementById("import-result");
    try { const res = await api("POST", "/v1/rules/import", document.getElementById("yaml").value, "application/yaml"); out.textContent = `Imported: ${JSON.stringify(res)}`; out.className = ""; await load(); }
    catch (e) { out.textContent = e.message; out.className = "error"; }
  });
  window.addEventListener("hashchange", () => open(location.hash.slice(1)));
  load().catch((e) => FW.toast(e.message, true));
}

/* ---------------------------------------------------------------- channels */
function pageChannels() {
  const { api, el, role, onEvent } = FW;
  const tbody = document.getElementById("channels");
  async function load() {
    const rows = await api("GET", "/v1/channels");
    document.getElementById("channels-empty").hidden = rows.length > 0;
    tbody.replaceChildren(...rows.map((c) => el("tr", { "data-channel": c.name },
      el("td", {}, el("a", { href: `/channels/${encodeURIComponent(c.name)}/view`, text: c.name })),
      el("td", {}, el("span", { class: `badge ${c.state}`, text: c.state }), c.reason ? el("div", { class: "error", text: c.reason }) : null),
      el("td", { text: c.source_url }), el("td", { text: c.rule_id || "–" }), el("td", { text: c.controller || "none" }), el("td", { text: (c.stats.stats || c.stats).analyzed ?? 0 }),
      el("td", { class: "cell-actions" },
        role.isAdmin ? el("button", { type: "button", onclick: () => call("POST", c.name, c.state === "stopped" ? "start" : "stop") }, c.state === "stopped" ? "Start" : "Stop analysis") : null,
        role.canModerate ? el("button", { type: "button", class: "danger", onclick: () => call("POST", c.name, "stop-stream") }, "Stop stream") : null,
        role.isAdmin ? el("button", { type: "button", onclick: () => { if (confirm(`Delete channel ${c.name}?`)) call("DELETE", c.name, ""); } }, "Delete") : null))));
  }
  async function call(method, name, action) {
    try { await api(method, `/v1/channels/${encodeURIComponent(name)}${action ? `/${action}` : ""}`); FW.toast(`${name}: ${action || "deleted"}`); load(); }
    catch (e) { FW.toast(`${name}: ${e.message}`, true); }
  }
  const form = document.getElementById("create");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    form.querySelectorAll(".field-error").forEach((s) => { s.textContent = ""; });
    // The controller by name: the operator defines controllers in settings (GET /v1/controllers).
    const body = { name: form.name.value.trim(), source_url: form.source_url.value.trim(), controller: form.controller.value || null, start: form.start.checked };
    try { await api("POST", "/v1/channels", body); form.reset(); FW.toast(`Channel ${body.name} created`); load(); }
    catch (err) {  // errors without a field path (name, source, controller checks) are placed by what they say
      FW.showErrors(form, err, (msg) => (/controller/i.test(msg) ? "controller" : /source|scheme|url|host|address/i.test(msg) ? "source_url" : /channel name/i.test(msg) ? "name" : "_"));
    }
  });
  async function loadControllers() {
    const named = await api("GET", "/v1/controllers");
    form.controller.replaceChildren(el("option", { value: "", text: "none (stop analysis only)" }),
      ...named.map((c) => el("option", { value: c.name, text: `${c.name} (${c.type.replace("_", "-")})` })));
    document.getElementById("controllers-none").hidden = named.length > 0;
  }
  if (form) loadControllers().catch((e) => FW.toast(e.message, true));
  onEvent((ev) => { if (ev.kind === "channel_state") load(); });
  load().catch((e) => FW.toast(e.message, true));
}

const PAGES = { wall: pageWall, channel: pageChannel, alerts: pageAlerts, charts: pageCharts, rules: pageRules, channels: pageChannels, targets: pageTargets };
PAGES[document.body.dataset.page]?.();
FW.connect();

/* ---------------------------------------------------------------- notification targets */
function pageTargets() {
  const { api, el, rel, role, onEvent } = FW;
  if (!role.canModerate) return;  // the delivery log is for moderators and up, targets (secrets) for admins
  const tbody = document.getElementById("targets");
  const form = document.getElementById("create-target");
  const logFilter = document.getElementById("log-filter");
  async function load() {
    if (role.isAdmin) await loadTargets();
    const q = new URLSearchParams({ limit: "50" }); if (logFilter.status.value) q.set("status", logFilter.status.value);
    const log = await api("GET", `/v1/notifications?${q}`);
    document.getElementById("deliveries-empty").hidden = log.items.length > 0;
    document.getElementById("deliveries").replaceChildren(...log.items.map((n) => el("tr", { class: n.status === "failed" || n.status === "dropped" ? "error" : "" },
      el("td", {}, rel(n.at)), el("td", { text: n.target }), el("td", {}, n.alert_id ? el("a", { href: `/alerts/${n.alert_id}`, text: n.alert_id }) : "test"),
      el("td", { text: n.attempt }), el("td", {}, el("span", { class: `badge ${n.status === "ok" ? "live" : n.status === "retry" ? "reconnecting" : "error"}`, text: n.status })), el("td", { text: n.error || "" }))));
  }
  logFilter.status.addEventListener("change", () => load().catch((e) => FW.toast(e.message, true)));
  async function loadTargets() {
    const rows = await api("GET", "/v1/notification-targets");
    document.getElementById("targets-empty").hidden = rows.length > 0;
    tbody.replaceChildren(...rows.map((t) => el("tr", { "data-target": t.name },
      el("td", { text: t.name }), el("td", { text: t.type }),
      el("td", { text: t.type === "webhook" ? t.target.url : (t.target.to || []).join(", ") }),
      el("td", { text: t.source === "settings" ? "settings" : `API · ${t.created_by}` }),
      el("td", { class: "cell-actions" },
        el("button", { type: "button", onclick: () => test(t.name) }, "Send test"),
        t.source === "api" ? el("button", { type: "button", onclick: () => remove(t.name) }, "Delete") : null))));
  }
  async function test(name) {
    try { const r = await api("POST", `/v1/notification-targets/${encodeURIComponent(name)}/test`); FW.toast(r.ok ? `${name}: test sent` : `${name}: ${r.error}`, !r.ok); }
    catch (e) { FW.toast(`${name}: ${e.message}`, true); }
    load();
  }
  async function remove(name) {
    if (!confirm(`Delete target ${name}?`)) return;
    try { await api("DELETE", `/v1/notification-targets/${encodeURIComponent(name)}`); FW.toast(`${name} deleted`); load(); }
    catch (e) { FW.toast(`${name}: ${e.message}`, true); }
  }
  onEvent((ev) => { if (ev.kind === "notification") load(); });
  load().catch((e) => FW.toast(e.message, true));
  if (!form) return;
  const kind = () => form.type.value;
  const show = () => form.querySelectorAll("[data-for]").forEach((l) => { l.hidden = l.dataset.for !== kind(); });
  form.type.addEventListener("change", show); show();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    form.querySelectorAll(".field-error").forEach((s) => { s.textContent = ""; });
    const body = { type: kind(), name: form.name.value.trim() };
    if (kind() === "webhook") { body.url = form.url.value.trim(); if (form.secret.value) body.secret = form.secret.value; }
    else body.to = form.to.value.split(",").map((s) => s.trim()).filter(Boolean);
    try { await api("POST", "/v1/notification-targets", body); form.reset(); show(); FW.toast(`Target ${body.name} added`); load(); }
    catch (err) { FW.showErrors(form, err); }
  });
}
