// Self-healing console: a small single-page app over the console's JSON API (no framework).
// Every text from the API goes into the page through textContent, never as HTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";

// ---- DOM helpers ---------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  append(el, children);
  return el;
}
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
}
// replaceChildren that skips null/false and flattens arrays, like h() does.
function fill(el, ...children) { el.replaceChildren(); append(el, children); return el; }
function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
const pill = (status, text) => h("span", { class: `pill st-${status}`, "data-status": status }, text || status.replace("_", " "));

// ---- formatting ----------------------------------------------------------------------------
function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}
const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtNum = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "—");
const shortArn = (arn) => (arn ? arn.split(":").pop() : "");
// Step Functions nests JSON in strings (inputs, outputs, a Lambda error's cause); unpack them to read.
function deepParse(value) {
  if (typeof value === "string") {
    const t = value.trim();
    if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
      try { return deepParse(JSON.parse(t)); } catch { return value; }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(deepParse);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepParse(v)]));
  return value;
}
// A Lambda error's cause is its JSON error payload; its errorMessage is what a reader wants first.
function errorMessage(cause) { const c = deepParse(cause); return c && typeof c === "object" ? c.errorMessage || null : (c || null); }
const jsonBlock = (value, cls = "") => h("pre", { class: `json ${cls}` },
  typeof value === "string" && !value.trim().match(/^[[{]/) ? value : JSON.stringify(deepParse(value), null, 2));

// ---- API -----------------------------------------------------------------------------------
// A refusal the user can act on (a rejected version, an active cooldown) has a detail object with a
// message and the facts a follow-up dialog shows; other errors have a detail string.
class ApiError extends Error {
  constructor(status, body) {
    const d = body ? body.detail : null;
    super(typeof d === "string" ? d : d && typeof d.message === "string" ? d.message : d ? JSON.stringify(d) : `HTTP ${status}`);
    this.status = status; this.body = body || {}; this.detail = d && typeof d === "object" && !Array.isArray(d) ? d : {};
  }
}
async function api(path, { method = "GET", body } = {}) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) { throw new ApiError(0, { detail: "the console server does not answer" }); }
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (resp.status === 503 && data && data.error === "cloud_unavailable") showDown(data.endpoint);
  else if (resp.ok) hideDown();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// ---- chrome: connection, auth, banner, toast, modal ---------------------------------------
const app = { overview: null, timers: [], route: null, actions: null };
function showDown(endpoint) {
  const b = $("#banner");
  fill(b, h("strong", {}, "The AWS endpoint is not reachable. "),
    "The console tried ", h("code", {}, endpoint || "?"), " and got no answer. Is the local cloud running? Start it with ",
    h("code", {}, "make up"), ". This page retries every few seconds.");
  b.hidden = false;
  const c = $("#conn"); c.textContent = "cloud down"; c.className = "pill down";
}
function hideDown() { $("#banner").hidden = true; }
function toast(message, isError = false) {
  const t = $("#toast");
  t.textContent = message; t.className = isError ? "toast error" : "toast"; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 9000 : 4000);
}
// valid(): the OK button stays disabled until it returns true (a required reason, say).
function confirmModal(title, body, okText = "Confirm", { valid } = {}) {
  return new Promise((resolve) => {
    const m = $("#modal"), box = $("#modal-body");
    $("#modal-title").textContent = title;
    box.replaceChildren(...[body].flat().filter((c) => c));
    const ok = $("#modal-ok"); ok.textContent = okText;
    const check = () => { ok.disabled = valid ? !valid() : false; };
    check(); box.oninput = check;
    const done = (v) => { m.hidden = true; ok.onclick = null; ok.disabled = false; box.oninput = null; $("#modal-cancel").onclick = null; document.onkeydown = null; resolve(v); };
    ok.onclick = () => done(true);
    $("#modal-cancel").onclick = () => done(false);
    document.onkeydown = (e) => { if (e.key === "Escape") done(false); };
    m.hidden = false;
    const first = $("#modal-body input, #modal-body textarea"); (first || ok).focus();
  });
}
async function refreshOverview() {
  try {
    const o = await api("/api/overview");
    app.overview = o;
    $("#stack").textContent = o.stack_name ? `stack ${o.stack_name}` : "";
    const c = $("#conn");
    c.title = `AWS endpoint ${o.endpoint}`;
    if (o.reachable) { c.textContent = `cloud up · ${o.endpoint.replace(/^https?:\/\//, "")}`; c.className = "pill up"; hideDown(); }
    else showDown(o.endpoint);
    renderAuth(o.authorized);
  } catch (e) {
    const c = $("#conn"); c.textContent = "console server down"; c.className = "pill down";
  }
}
function renderAuth(authorized) {
  const el = $("#auth");
  if (authorized) { fill(el, h("span", { class: "pill up", id: "auth-state", "data-authorized": "true" }, "actions enabled")); return; }
  const input = h("input", { type: "password", placeholder: "session token", "aria-label": "session token", size: 16 });
  const form = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/api/session", { method: "POST", body: { token: input.value } }); toast("Actions enabled for this browser."); refreshOverview(); }
    catch (err) { toast(`Unlock failed: ${err.message}`, true); }
  } }, h("span", { class: "pill", id: "auth-state", "data-authorized": "false", title: "Promote, roll back and start need the token printed by make up" }, "read-only"), input, h("button", { class: "btn small", type: "submit" }, "Unlock"));
  fill(el, form);
}
// recover(error): for a refusal the user may override, the follow-up (a dialog, then a retry); null otherwise.
async function act(label, fn, recover) {
  try { const r = await fn(); toast(`${label}: done`); return r; }
  catch (e) {
    const followUp = recover ? recover(e) : null;
    if (followUp) return followUp;
    if (e.status === 403) toast(`${label}: ${e.message}`, true);
    else toast(`${label} failed: ${e.message}`, true);
    return null;
  }
}

// ---- routing -------------------------------------------------------------------------------
const routes = { executions: viewExecutions, execution: viewExecution, models: viewModels, drift: viewDrift, monitoring: viewMonitoring, alerts: viewAlerts, audit: viewAudit, functions: viewFunctions };
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query] = raw.split("?");
  return { name: routes[name] ? name : "executions", params: new URLSearchParams(query || "") };
}
// Timers belong to one view: once the user navigated away (its container is detached), they stop.
function every(view, ms, fn) {
  const id = setInterval(() => { if (view.isConnected) fn(); else clearInterval(id); }, ms);
  app.timers.push(id);
  return id;
}
function go(name, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
  location.hash = `#/${name}${q ? "?" + q : ""}`;
}
async function render() {
  app.timers.forEach(clearInterval); app.timers = [];
  const route = parseHash(); app.route = route;
  const section = route.name === "execution" ? "executions" : route.name;
  document.querySelectorAll(".side a").forEach((a) => a.classList.toggle("active", a.dataset.section === section));
  // A fresh container per navigation: a slow view that resolves after the user moved on writes
  // into its own detached container, never over the page now shown.
  const view = h("div", { "data-view": route.name });
  fill($("#view"), view);
  fill(view, h("p", { class: "muted" }, "Loading…"));
  try { await routes[route.name](view, route.params); }
  catch (e) { fill(view, errorBox(e)); }
}
function errorBox(e) {
  if (e.status === 503) return h("div", { class: "empty" }, "Waiting for the AWS endpoint…");
  return h("div", { class: "notice" }, h("span", { class: "err" }, "Could not load this page. "), e.message);
}
// Keep polling a view; a failure shows the banner (cloud down) but never replaces the page with a trace.
function poll(view, ms, fn) { every(view, ms, async () => { try { await fn(); } catch { /* banner already says it */ } }); }

// ---- executions list -----------------------------------------------------------------------
async function viewExecutions(view, params) {
  const status = params.get("status") || "";
  const sm = params.get("sm") || "";
  const machines = await api("/api/state-machines");
  let cursor = params.get("page") || "";
  const history = [];
  const statusSel = h("select", { id: "status-filter", "aria-label": "Filter by status", onchange: () => go("executions", { status: statusSel.value, sm: smSel.value }) },
    ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].map((v) => h("option", { value: v, selected: v === status }, v || "All statuses")));
  const smSel = h("select", { "aria-label": "State machine", onchange: () => go("executions", { status: statusSel.value, sm: smSel.value }) },
    h("option", { value: "" }, "All state machines"),
    machines.items.map((m) => h("option", { value: m.arn, selected: m.arn === sm }, m.name)));
  const tbody = h("tbody");
  const pager = h("div", { class: "pager" });
  fill(view,
    h("div", { class: "row" }, h("h1", {}, "Executions"), h("span", { class: "spacer" }),
      h("button", { class: "btn primary", id: "start-execution", onclick: () => startDialog(machines) }, "Start execution")),
    h("p", { class: "muted" }, "Every run of the self-healing state machine: what triggered it, how it ended, and how long it took."),
    h("div", { class: "toolbar" }, statusSel, smSel),
    h("div", { class: "table-wrap" }, h("table", { id: "executions" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "Trigger"), h("th", {}, "State machine"),
        h("th", {}, "Started"), h("th", { class: "num" }, "Duration"))), tbody)),
    pager);
  async function load() {
    const q = new URLSearchParams({ limit: 25 });
    if (status) q.set("status", status);
    if (sm) q.set("state_machine", sm);
    if (cursor) q.set("page", cursor);
    const t0 = performance.now();
    const data = await api(`/api/executions?${q}`);
    fill(tbody, ...data.items.map((x) => h("tr", { class: "clickable", "data-arn": x.arn, "data-status": x.status, onclick: () => go("execution", { arn: x.arn }) },
      h("td", {}, h("a", { href: `#/execution?arn=${encodeURIComponent(x.arn)}` }, x.name)),
      h("td", {}, pill(x.status)),
      h("td", {}, x.trigger || "—"),
      h("td", { class: "muted" }, x.state_machine),
      h("td", {}, fmtTime(x.start)),
      h("td", { class: "num" }, fmtDuration(x.duration_s)))));
    if (!data.items.length) fill(tbody, h("tr", {}, h("td", { colspan: 6, class: "empty" }, status ? `No ${status.toLowerCase()} executions.` : "No executions yet. Start one, or upload a batch to incoming/.")));
    fill(pager,
      h("button", { class: "btn small", disabled: !history.length, onclick: () => { cursor = history.pop(); load(); } }, "‹ Newer"),
      h("button", { class: "btn small", id: "next-page", disabled: !data.next, onclick: () => { history.push(cursor); cursor = data.next; load(); } }, "Older ›"),
      h("span", { class: "muted", id: "load-time" }, `${data.items.length} shown · loaded in ${Math.round(performance.now() - t0)} ms`));
    return data;
  }
  await load();
  poll(view, 3000, load);
}

function exampleInput() {
  const o = (app.overview && app.overview.outputs) || {};
  return JSON.stringify({ trigger: "manual", batches: [{ bucket: o.DataBucketName || "<data bucket>", key: "bootstrap/reference-synthetic.csv" }], include_reference: false }, null, 2);
}
function jsonEditor(initial) {
  const area = h("textarea", { id: "execution-input", spellcheck: "false", "aria-label": "Execution input (JSON)" }, initial);
  const err = h("div", { class: "json-error" });
  const check = () => { try { JSON.parse(area.value); err.textContent = ""; return true; } catch (e) { err.textContent = `Not valid JSON: ${e.message}`; return false; } };
  area.addEventListener("input", check);
  const fmt = h("button", { type: "button", class: "btn small", onclick: () => { if (check()) area.value = JSON.stringify(JSON.parse(area.value), null, 2); } }, "Format");
  return { el: h("div", {}, area, h("div", { class: "row" }, fmt, err)), area, check };
}
async function startDialog(machines) {
  const select = h("select", { id: "start-machine" }, machines.items.map((m) => h("option", { value: m.arn, selected: m.arn === machines.default }, m.name)));
  const name = h("input", { type: "text", id: "start-name", placeholder: "(generated)" });
  const editor = jsonEditor(exampleInput());
  const ok = await confirmModal("Start an execution", [
    h("label", { class: "field" }, h("span", {}, "State machine"), select),
    h("label", { class: "field" }, h("span", {}, "Name (optional)"), name),
    h("div", { class: "field" }, h("span", {}, "Input (JSON)"), editor.el)], "Start");
  if (!ok) return;
  if (!editor.check()) { toast("The input is not valid JSON; nothing was started.", true); return; }
  const r = await startRetraining("Start execution", "/api/executions", { state_machine_arn: select.value, input: editor.area.value, name: name.value || null });
  if (r) go("execution", { arn: r.arn });
}
// Starting the self-healing state machine is a retraining: it takes the lock and the cooldown as the
// drift function does. Inside the cooldown the API refuses (409); the user may override it, with a reason.
function startRetraining(label, path, body) {
  return act(label, () => api(path, { method: "POST", body }), (e) =>
    e.status === 409 && e.detail.error === "cooldown_active" && !body.override_cooldown ? overrideCooldown(label, path, body, e.detail) : null);
}
async function overrideCooldown(label, path, body, refusal) {
  const reason = h("input", { type: "text", id: "cooldown-override-reason", placeholder: "Why retrain inside the cooldown? (required)" });
  const ok = await confirmModal("The retraining cooldown is active", [
    h("div", { class: "notice", id: "cooldown-refusal" }, h("span", { class: "err" }, "Not started. "), refusal.message),
    h("p", {}, `The next retraining may start at ${fmtTime(refusal.cooldown_ends)}. Overriding starts it now; the cooldown then runs again from now, and the override and its reason go to the audit trail.`),
    h("label", { class: "field" }, h("span", {}, "Why override the cooldown? (recorded in the audit trail)"), reason)],
    "Override the cooldown and start", { valid: () => reason.value.trim() !== "" });
  if (!ok) return null;
  return act(label, () => api(path, { method: "POST", body: { ...body, override_cooldown: true, override_reason: reason.value.trim() } }));
}

// ---- one execution -------------------------------------------------------------------------
const STATE_STYLE = {
  succeeded: ["#e6f4ea", "#1f7a3a"], retried: ["#fff8d6", "#8a6100"], caught: ["#fff1e0", "#b54708"],
  failed: ["#fdecea", "#b42318"], running: ["#e5efff", "#1d5fd1"], aborted: ["#fff1e0", "#b54708"], not_reached: ["#f8f9fb", "#c4cad4"],
};
async function viewExecution(view, params) {
  const arn = params.get("arn");
  let selected = params.get("state") || null;
  let data = await api(`/api/execution?arn=${encodeURIComponent(arn)}`);
  const head = h("div"), graphBox = h("div", { class: "card graph-card" }), detail = h("div", { class: "card", id: "state-detail" });
  const eventsBox = h("div"), ioBox = h("div");
  fill(view, h("p", {}, h("a", { href: "#/executions" }, "‹ All executions")), head,
    h("div", { class: "grid2" }, graphBox, detail), ioBox, h("h2", {}, "Event history"), eventsBox);
  const select = (name) => { selected = name; drawGraph(); drawDetail(); };
  function drawHead() {
    const finished = data.status !== "RUNNING";
    const again = h("button", { class: "btn", id: "start-again", onclick: async () => {
      const r = await startRetraining("Start again", "/api/execution/restart", { arn });
      if (r) go("execution", { arn: r.arn });
    } }, "Start again with the same input");
    const redrive = h("button", { class: "btn", id: "redrive", onclick: async () => {
      const r = await act("Redrive", () => api("/api/execution/redrive", { method: "POST", body: { arn } }));
      if (r) refresh();
    } }, "Redrive");
    fill(head,
      h("div", { class: "row" }, h("h1", { id: "execution-name" }, data.name), h("span", { id: "execution-status" }, pill(data.status)), h("span", { class: "spacer" }),
        finished ? again : null, ["FAILED", "TIMED_OUT", "ABORTED"].includes(data.status) ? redrive : null),
      h("dl", { class: "kv" },
        h("dt", {}, "Trigger"), h("dd", {}, data.trigger || "—"),
        h("dt", {}, "Started"), h("dd", {}, fmtTime(data.start)),
        h("dt", {}, "Duration"), h("dd", {}, fmtDuration(data.duration_s), data.status === "RUNNING" ? h("span", { class: "muted" }, " (running — this page updates live)") : null),
        h("dt", {}, "State machine"), h("dd", { class: "mono" }, shortArn(data.state_machine_arn)),
        h("dt", {}, "ARN"), h("dd", { class: "mono" }, data.arn)),
      data.error ? h("div", { class: "notice", id: "execution-error" }, h("span", { class: "err" }, data.error), data.cause ? h("div", {}, errorMessage(data.cause) || data.cause) : null) : null);
  }
  function drawGraph() {
    const g = data.graph, pos = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
    const takenKey = new Set(data.taken.map((t) => `${t.source}>${t.target}>${t.via}`));
    const svg = s("svg", { width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}`, role: "img", "aria-label": "State machine graph" },
      s("defs", {}, ["#c4cad4", "#344054"].map((c, i) => s("marker", { id: `arrow${i}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", fill: c })))));
    const edges = [...g.edges].sort((a, b) => isTaken(a) - isTaken(b));
    function isTaken(e) { return takenKey.has(`${e.source}>${e.target}>${e.kind === "catch" ? "catch" : "next"}`) ? 1 : 0; }
    for (const e of edges) {
      const a = pos[e.source], b = pos[e.target];
      if (!a || !b) continue;
      const taken = isTaken(e);
      let d;
      const sx = a.x + a.w / 2, sy = a.y + a.h, tx = b.x + b.w / 2, ty = b.y;
      if (e.kind === "catch") { const gx = g.gutter_x, ay = a.y + a.h / 2, by = b.y + b.h / 2; d = `M${a.x + a.w},${ay} C${gx},${ay} ${gx},${by} ${b.x + b.w},${by}`; }
      else if (b.y > a.y) { const my = (sy + ty) / 2; d = `M${sx},${sy} C${sx},${my} ${tx},${my} ${tx},${ty}`; }
      else { const side = Math.max(a.x + a.w, b.x + b.w) + 24; d = `M${a.x + a.w},${a.y + a.h / 2} C${side},${a.y + a.h / 2} ${side},${b.y + b.h / 2} ${b.x + b.w},${b.y + b.h / 2}`; }
      svg.append(s("path", { d, class: `edge ${e.kind}${taken ? " taken" : ""}`, "marker-end": `url(#arrow${taken ? 1 : 0})`, "data-source": e.source, "data-target": e.target },
        s("title", {}, `${e.source} → ${e.target}${e.label ? " (" + e.label + ")" : ""}`)));
    }
    for (const n of g.nodes) {
      const run = data.states[n.name];
      const status = run ? run.status : "not_reached";
      const [fill, stroke] = STATE_STYLE[status] || STATE_STYLE.not_reached;
      const sub = run ? `${status.replace("_", " ")}${run.retries ? ` · ${run.retries} retr${run.retries > 1 ? "ies" : "y"}` : ""}${run.duration_ms != null ? ` · ${fmtMs(run.duration_ms)}` : ""}` : n.type;
      const node = s("g", { class: `node${selected === n.name ? " selected" : ""}`, "data-state": n.name, "data-status": status, tabindex: 0, role: "button", "aria-label": `${n.name}: ${status}` },
        s("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: n.type === "Choice" ? 18 : 7, fill, stroke, "stroke-dasharray": run ? null : "4 3" }),
        s("text", { x: n.x + n.w / 2, y: n.y + 16, "text-anchor": "middle", "font-weight": run ? 600 : 400 }, n.name),
        s("text", { x: n.x + n.w / 2, y: n.y + 30, "text-anchor": "middle", class: "sub" }, sub),
        s("title", {}, `${n.name} (${n.type}): ${status}`));
      node.addEventListener("click", () => select(n.name));
      node.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(n.name); });
      svg.append(node);
    }
    const legend = h("div", { class: "legend" }, ["succeeded", "retried", "caught", "failed", "running", "not_reached"].map((st) => pill(st, st.replace("_", " "))),
      h("span", { class: "muted" }, " thick lines: the path taken · dashed: Catch"));
    fill(graphBox, h("div", { class: "graph", id: "graph" }, svg), legend);
  }
  function drawDetail() {
    // By default the state that failed first (what a reader of a failed execution wants), else the latest.
    const firstError = data.path.find((n) => data.states[n] && data.states[n].error);
    const name = selected || firstError || data.path[data.path.length - 1];
    if (!name) { fill(detail, h("p", { class: "muted" }, "No state has started yet.")); return; }
    const run = data.states[name];
    const def = (data.definition.States || {})[name] || {};
    if (!run) {
      fill(detail, h("h2", { style: "margin-top:0" }, name), pill("not_reached", "not reached"),
        h("p", { class: "muted" }, `This ${def.Type || "state"} was not reached in this execution.`), h("h3", {}, "Definition"), jsonBlock(def));
      return;
    }
    fill(detail,
      h("div", { class: "row" }, h("h2", { style: "margin:0", id: "state-name" }, name), h("span", { id: "state-status" }, pill(run.status))),
      h("dl", { class: "kv" },
        h("dt", {}, "Type"), h("dd", {}, def.Type || "—"),
        h("dt", {}, "Entered"), h("dd", {}, fmtTime(run.entered)),
        h("dt", {}, "Duration"), h("dd", {}, fmtMs(run.duration_ms)),
        h("dt", {}, "Attempts"), h("dd", {}, run.attempts.length ? `${run.attempts.length} (${run.retries} retr${run.retries === 1 ? "y" : "ies"})` : "—"),
        run.visits > 1 ? [h("dt", {}, "Visits"), h("dd", {}, run.visits)] : null),
      run.error ? [h("h3", {}, "Error"), h("div", { class: "notice", id: "state-error" }, h("span", { class: "err" }, run.error), errorMessage(run.cause) ? h("div", {}, errorMessage(run.cause)) : null), h("h3", {}, "Cause"), jsonBlock(run.cause || "", "cause")] : null,
      run.attempts.some((a) => a.error) ? [h("h3", {}, "Attempts"), h("ol", {}, run.attempts.map((a) => h("li", {}, a.error ? `${a.error} at ${fmtTime(a.ended)}` : `ok${a.ended ? " at " + fmtTime(a.ended) : ""}`)))] : null,
      h("h3", {}, "Input"), jsonBlock(run.input ?? "—"),
      h("h3", {}, "Output"), jsonBlock(run.output ?? (run.status === "running" ? "(running)" : "—")));
  }
  function drawEvents() {
    fill(eventsBox, h("div", { class: "table-wrap" }, h("table", { id: "events" },
      h("thead", {}, h("tr", {}, h("th", { class: "num" }, "ID"), h("th", {}, "Type"), h("th", {}, "State"), h("th", { class: "num" }, "Elapsed"), h("th", {}, "Time"), h("th", {}, "Details"))),
      h("tbody", {}, data.events.map((e) => {
        const bad = /Failed|TimedOut|Aborted/.test(e.type);
        const keys = Object.keys(e.details || {});
        return h("tr", { "data-type": e.type },
          h("td", { class: "num" }, e.id), h("td", { style: bad ? "color:var(--bad);font-weight:600" : "" }, e.type),
          h("td", {}, e.state ? h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); select(e.state); window.scrollTo({ top: 0, behavior: "smooth" }); } }, e.state) : "—"),
          h("td", { class: "num" }, fmtMs(e.elapsed_ms)), h("td", { class: "muted" }, fmtTime(e.timestamp)),
          h("td", {}, keys.length ? h("details", {}, h("summary", {}, keys.filter((k) => !k.endsWith("Details")).slice(0, 4).join(", ") || "details"), jsonBlock(e.details)) : ""));
      })))));
  }
  function drawIO() {
    fill(ioBox, h("details", {}, h("summary", {}, "Execution input and output"),
      h("div", { class: "grid2" }, h("div", {}, h("h3", {}, "Input"), jsonBlock(data.input ?? "—")), h("div", {}, h("h3", {}, "Output"), jsonBlock(data.output ?? "—")))));
  }
  function drawAll() { drawHead(); drawGraph(); drawDetail(); drawEvents(); drawIO(); }
  async function refresh() {
    data = await api(`/api/execution?arn=${encodeURIComponent(arn)}`);
    drawAll();
  }
  drawAll();
  // Live updates: poll while the execution runs (the history API has no push), then stop.
  const id = every(view, 1000, async () => {
    if (data.status !== "RUNNING") { clearInterval(id); return; }
    try { await refresh(); } catch { /* banner */ }
  });
}

// ---- models --------------------------------------------------------------------------------
async function viewModels(view) {
  let page = 0;
  const PAGE = 20;
  let data;
  const summary = h("div", { class: "card", id: "production" }), charts = h("div", { class: "charts" }), table = h("div"), historyBox = h("div");
  fill(view, h("h1", {}, "Models"),
    h("p", { class: "muted" }, "Every version in the registry, with its holdout metrics. Promote and roll back go through PromoteFunction, so they are audited like the pipeline's own moves."),
    summary, h("h2", {}, "Metrics across versions"), charts, h("h2", {}, "Versions"), table, h("h2", {}, "Production alias history"), historyBox);
  async function load() { data = await api("/api/models"); draw(); }
  function draw() {
    const prod = data.alias;
    fill(summary, h("div", { class: "row" },
      h("div", { class: "stat" }, h("b", { id: "production-version" }, prod ? prod.version : "none"), h("span", {}, "in production")),
      h("div", { class: "stat" }, h("b", {}, data.versions.length), h("span", {}, "versions")),
      prod ? h("div", { class: "stat" }, h("b", { style: "font-size:14px" }, `${prod.action} · ${fmtTime(prod.updated_at)}`), h("span", {}, prod.reason)) : null,
      h("span", { class: "spacer" }),
      h("button", { class: "btn danger", id: "rollback", disabled: !prod, onclick: rollback }, "Roll back…")));
    fill(charts, ...[["r2", "R² (higher is better)"], ["rmse", "RMSE, $100k"], ["mae", "MAE, $100k"], ["mape", "MAPE"]].map(([k, label]) => chart(data.versions, k, label)));
    const rows = [...data.versions].reverse();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    page = Math.min(page, pages - 1);
    fill(table, h("div", { class: "table-wrap" }, h("table", { id: "versions" },
      h("thead", {}, h("tr", {}, ["Version", "Status", "Created", "R²", "RMSE", "MAE", "MAPE", "Parity", "Data fingerprint", "Trigger", ""].map((t, i) => h("th", { class: i >= 3 && i <= 7 ? "num" : "" }, t)))),
      h("tbody", {}, rows.slice(page * PAGE, page * PAGE + PAGE).map((v) => h("tr", { "data-version": v.version, "data-status": v.status },
        h("td", {}, h("b", {}, v.version)), h("td", {}, pill(v.status), v.status_reason ? h("div", { class: "muted", style: "font-size:12px" }, v.status_reason) : null),
        h("td", {}, fmtTime(v.created_at)), h("td", { class: "num" }, fmtNum(v.metrics.r2)), h("td", { class: "num" }, fmtNum(v.metrics.rmse)),
        h("td", { class: "num" }, fmtNum(v.metrics.mae)), h("td", { class: "num" }, fmtNum(v.metrics.mape)),
        h("td", { class: "num" }, typeof v.metrics.parity_max_abs_diff === "number" ? v.metrics.parity_max_abs_diff.toExponential(1) : "—"),
        h("td", { class: "mono" }, v.data_fingerprint || "—"),
        h("td", {}, v.execution_arn ? h("a", { href: `#/execution?arn=${encodeURIComponent(v.execution_arn)}` }, v.trigger || "execution") : (v.trigger || "—")),
        h("td", {}, v.status !== "production" ? h("button", { class: "btn small", "data-promote": v.version, onclick: () => promote(v) }, "Promote…") : null)))))),
      pages > 1 ? h("div", { class: "pager" },
        h("button", { class: "btn small", disabled: page === 0, onclick: () => { page--; draw(); } }, "‹ Newer"),
        h("span", { class: "muted" }, `page ${page + 1} of ${pages}`),
        h("button", { class: "btn small", disabled: page >= pages - 1, onclick: () => { page++; draw(); } }, "Older ›")) : null);
    const hist = (prod && prod.history) || [];
    fill(historyBox, hist.length ? h("div", { class: "table-wrap" }, h("table", { id: "alias-history" },
      h("thead", {}, h("tr", {}, ["When", "Action", "Version", "From", "Reason", "Execution"].map((t) => h("th", {}, t)))),
      h("tbody", {}, hist.map((e) => h("tr", {}, h("td", {}, fmtTime(e.updated_at)), h("td", {}, pill(e.action === "rollback" ? "rolled_back" : "production", e.action)),
        h("td", {}, h("b", {}, e.version)), h("td", {}, e.previous_version || "—"), h("td", {}, e.reason),
        h("td", {}, e.execution_arn ? h("a", { href: `#/execution?arn=${encodeURIComponent(e.execution_arn)}` }, shortArn(e.execution_arn)) : "console / operator")))))) : h("p", { class: "muted" }, "The alias has not moved yet."));
  }
  async function rollback() {
    const reason = h("input", { type: "text", id: "action-reason", value: "rolled back from the console" });
    const ok = await confirmModal(`Roll back ${data.alias.version}?`, [
      h("p", {}, "Production moves back to the last known good version. Serving follows within seconds, and the move is written to the audit trail."),
      h("label", { class: "field" }, h("span", {}, "Reason (recorded in the audit trail)"), reason)], "Roll back");
    if (!ok) return;
    const r = await act("Rollback", () => api("/api/models/rollback", { method: "POST", body: { reason: reason.value } }));
    if (r) await load();
  }
  // A version Validate rejected is promoted only as an explicit override, with its own reason.
  async function promote(v, rejected = v.status === "rejected" ? v.status_reason || "validation failed" : null) {
    const reason = h("input", { type: "text", id: "action-reason", value: `promoted ${v.version} from the console` });
    const override = h("input", { type: "text", id: "override-reason", placeholder: "Why promote it anyway? (required)" });
    const ok = await confirmModal(rejected ? `Override the rejection of ${v.version}?` : `Promote ${v.version} to production?`, [
      rejected ? h("div", { class: "notice", id: "rejection" }, h("span", { class: "err" }, `Validate rejected ${v.version}: `), h("span", { id: "rejection-reason" }, rejected)) : null,
      h("p", {}, `Production moves from ${data.alias ? data.alias.version : "none"} to ${v.version} (R² ${fmtNum(v.metrics.r2)}, RMSE ${fmtNum(v.metrics.rmse)}).`),
      rejected ? h("label", { class: "field" }, h("span", {}, "Why override the rejection? (recorded in the audit trail, with the rejection)"), override) : null,
      h("label", { class: "field" }, h("span", {}, "Reason (recorded in the audit trail)"), reason)],
    rejected ? "Override and promote" : "Promote", { valid: () => !rejected || override.value.trim() !== "" });
    if (!ok) return null;
    const body = { version: v.version, reason: reason.value };
    if (rejected) Object.assign(body, { override: true, override_reason: override.value.trim() });
    // Rejected since this page loaded: the API refuses, and the dialog asks again with the rejection.
    const r = await act(`Promote ${v.version}`, () => api("/api/models/promote", { method: "POST", body }),
      (e) => (e.status === 409 && e.detail.rejected_because && !rejected ? promote(v, e.detail.rejected_because) : null));
    if (r) await load();
    return r;
  }
  await load();
  poll(view, 5000, load);
}
// A chart's frame: the SVG, its axes and its scales; each chart draws its own marks on it.
// xTicks: [{ v or px, text, anchor }] labels under the x axis (at a value, or at a pixel); a one-value domain is centred.
function plotFrame({ label, x: [x0, x1], y: [y0, y1], W = 280, H = 120, L = 40, R = 8, T = 8, B = 20, yFmt = (v) => v.toFixed(3), xTicks = [] }) {
  if (y1 - y0 < 1e-9) { y0 -= 0.05 * (Math.abs(y0) || 1); y1 += 0.05 * (Math.abs(y1) || 1); }
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const x = (v) => L + (x1 === x0 ? (W - L - R) / 2 : ((v - x0) / (x1 - x0)) * (W - L - R));
  const y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  svg.append(s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }), s("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
    s("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, yFmt(y1)), s("text", { x: L - 4, y: H - B, "text-anchor": "end" }, yFmt(y0)),
    ...xTicks.map((t) => s("text", { x: t.px ?? x(t.v), y: H - 5, "text-anchor": t.anchor || "middle" }, t.text)));
  return { svg, x, y, W, H, L, R, T, B, x0, x1, y0, y1 };
}
const noData = (svg, W, H, text = "no data") => svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, text));
function chart(versions, key, label) {
  const pts = versions.map((v, i) => ({ i, v: v.metrics[key], version: v.version, status: v.status })).filter((p) => typeof p.v === "number");
  if (!pts.length) { const svg = s("svg", { viewBox: "0 0 280 120", role: "img", "aria-label": label }); noData(svg, 280, 120); return h("div", { class: "card chart" }, h("h3", {}, label), svg); }
  const f = plotFrame({ label, x: [0, versions.length - 1], y: [Math.min(...pts.map((p) => p.v)), Math.max(...pts.map((p) => p.v))],
    xTicks: [{ px: 40, text: versions[0].version, anchor: "start" }, { px: 280 - 8, text: versions[versions.length - 1].version, anchor: "end" }] });
  f.svg.append(s("polyline", { class: "line", points: pts.map((p) => `${f.x(p.i)},${f.y(p.v)}`).join(" ") }));
  for (const p of pts) {
    const [color] = { production: ["#1f7a3a"], rejected: ["#b42318"], rolled_back: ["#b42318"] }[p.status] || ["#2457c5"];
    f.svg.append(s("circle", { cx: f.x(p.i), cy: f.y(p.v), r: p.status === "production" ? 4.5 : 3, fill: color, stroke: "#fff", "stroke-width": 1 }, s("title", {}, `${p.version}: ${p.v.toFixed(4)} (${p.status})`)));
  }
  return h("div", { class: "card chart", "data-metric": key }, h("h3", {}, label), f.svg);
}
// Over time: one polyline and one point per value for each series, a dashed threshold, and a vertical
// marker at each alert (its kind and summary in the marker's title; a click opens the alert).
const SERIES_COLORS = ["#2457c5", "#b54708", "#1f7a3a", "#7a2dc5", "#b42318", "#0e7490", "#a16207", "#475467"];
function fmtShort(ms) { return new Date(ms).toLocaleString(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" }); }
function timeChart({ id, label, series, threshold = null, markers = [], yMin = null, yFmt = (v) => v.toFixed(3), empty = "no data" }) {
  const W = 640, H = 190;
  const all = series.flatMap((se) => se.points);
  const card = h("div", { class: "card chart wide", id });
  if (!all.length) { const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label }); noData(svg, W, H, empty); return fill(card, h("h3", {}, label), svg); }
  let x0 = Math.min(...all.map((p) => p.t)), x1 = Math.max(...all.map((p) => p.t));
  if (x1 - x0 < 60_000) { x0 -= 30 * 60_000; x1 += 30 * 60_000; }
  const values = all.map((p) => p.v).concat(threshold === null ? [] : [threshold]);
  const f = plotFrame({ label, W, H, L: 46, R: 12, T: 12, B: 22, x: [x0, x1], y: [yMin ?? Math.min(...values), Math.max(...values)], yFmt,
    xTicks: [{ v: x0, text: fmtShort(x0), anchor: "start" }, { v: x1, text: fmtShort(x1), anchor: "end" }] });
  if (threshold !== null) {
    f.svg.append(s("line", { class: "threshold", "data-threshold": threshold, x1: f.L, x2: W - f.R, y1: f.y(threshold), y2: f.y(threshold) }, s("title", {}, `threshold ${yFmt(threshold)}`)),
      s("text", { class: "threshold-label", x: W - f.R - 2, y: f.y(threshold) - 3, "text-anchor": "end" }, `threshold ${yFmt(threshold)}`));
  }
  for (const m of markers.filter((m) => m.t >= x0 && m.t <= x1)) {
    const g = s("g", { class: "alert-marker", "data-kind": m.kind, "data-alert-sk": m.sk, tabindex: 0, role: "link" },
      s("title", {}, `alert: ${m.kind} · ${fmtTime(new Date(m.t).toISOString())}\n${m.summary || ""}`),
      s("line", { x1: f.x(m.t), x2: f.x(m.t), y1: f.T, y2: H - f.B }), s("path", { d: `M${f.x(m.t) - 4},${f.T - 6} h8 l-4,6 z` }));
    g.addEventListener("click", () => go("alerts", { alert: m.sk }));
    f.svg.append(g);
  }
  series.forEach((se, i) => {
    const color = se.color || SERIES_COLORS[i % SERIES_COLORS.length];
    const g = s("g", { class: "series", "data-series": se.name });
    if (se.points.length > 1) g.append(s("polyline", { class: "line", stroke: color, points: se.points.map((p) => `${f.x(p.t)},${f.y(p.v)}`).join(" ") }));
    for (const p of se.points) g.append(s("circle", { class: "point", cx: f.x(p.t), cy: f.y(p.v), r: 3.5, fill: color, stroke: "#fff", "stroke-width": 1, ...p.attrs }, s("title", {}, p.title)));
    f.svg.append(g);
  });
  const legend = series.length > 1 || series.some((se) => se.legend) ? h("div", { class: "legend" }, series.map((se, i) =>
    h("span", { class: "key" }, h("i", { style: `background:${se.color || SERIES_COLORS[i % SERIES_COLORS.length]}` }), se.legend || se.name))) : null;
  return fill(card, h("h3", {}, label), f.svg, legend);
}
// Two distributions on shared bins, as shares of their rows: the window's filled, the holdout's outlined.
function histChart({ id, label, edges, bars, outline }) {
  const W = 640, H = 190;
  const card = h("div", { class: "card chart wide", id });
  const share = (d) => { const n = d.counts.reduce((a, b) => a + b, 0); return d.counts.map((c) => (n ? c / n : 0)); };
  if (!edges.length || !bars.rows) {
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label }); noData(svg, W, H, bars.empty || "no predictions");
    return fill(card, h("h3", {}, label), svg);
  }
  const a = share(bars), b = outline && outline.rows ? share(outline) : null;
  const f = plotFrame({ label, W, H, L: 46, R: 12, T: 12, B: 22, x: [edges[0], edges[edges.length - 1]], y: [0, Math.max(...a, ...(b || [0]))], yFmt: (v) => `${Math.round(v * 100)}%`,
    xTicks: [{ v: edges[0], text: edges[0].toFixed(2), anchor: "start" }, { v: edges[edges.length - 1], text: edges[edges.length - 1].toFixed(2), anchor: "end" }] });
  a.forEach((v, i) => f.svg.append(s("rect", { class: "bar-window", "data-bin": i, x: f.x(edges[i]) + 0.5, width: Math.max(f.x(edges[i + 1]) - f.x(edges[i]) - 1, 0.5), y: f.y(v), height: f.y(0) - f.y(v) },
    s("title", {}, `${edges[i].toFixed(2)}–${edges[i + 1].toFixed(2)}: ${(v * 100).toFixed(1)}% of the window (${bars.counts[i]})${b ? `, ${(b[i] * 100).toFixed(1)}% of the holdout` : ""}`))));
  if (b) f.svg.append(s("path", { class: "holdout", d: b.map((v, i) => `${i ? "L" : "M"}${f.x(edges[i])},${f.y(v)} H${f.x(edges[i + 1])}`).join(" ") }));
  return fill(card, h("h3", {}, label), f.svg, h("div", { class: "legend" },
    h("span", { class: "key" }, h("i", { class: "window" }), bars.legend), b ? h("span", { class: "key" }, h("i", { class: "holdout" }), outline.legend) : null));
}

// ---- drift ---------------------------------------------------------------------------------
async function viewDrift(view) {
  let offset = 0;
  const LIMIT = 25;
  const body = h("div"), pager = h("div", { class: "pager" });
  fill(view, h("h1", {}, "Drift checks"),
    h("p", { class: "muted" }, "Each labelled or unlabelled batch uploaded to incoming/ is compared with the reference data by Evidently. Click a row for the per-column scores."),
    body, pager);
  async function load() {
    const data = await api(`/api/drift?offset=${offset}&limit=${LIMIT}`);
    if (!data.items.length) { fill(body, h("div", { class: "card empty" }, "No drift checks yet. Upload a CSV batch to incoming/ (make upload FILE=…).")); fill(pager); return; }
    const tbody = h("tbody");
    for (const d of data.items) {
      const share = d.drifted_share ?? 0;
      const detailRow = h("tr", { hidden: true, class: "drift-columns" }, h("td", { colspan: 6 }, h("table", {},
        h("thead", {}, h("tr", {}, ["Column", "Method", "Score", "Threshold", "Drifted"].map((t) => h("th", {}, t)))),
        h("tbody", {}, Object.entries(d.column_scores || {}).map(([c, sc]) => h("tr", {}, h("td", {}, c), h("td", { class: "muted" }, sc.method),
          h("td", { class: "num" }, fmtNum(sc.score, 4)), h("td", { class: "num" }, fmtNum(sc.threshold, 3)), h("td", {}, sc.drifted ? pill("failed", "drifted") : pill("succeeded", "ok"))))))));
      tbody.append(h("tr", { class: "clickable", "data-key": d.key, onclick: (e) => { if (e.target.tagName !== "A") detailRow.hidden = !detailRow.hidden; } },
        h("td", {}, fmtTime(d.at)), h("td", { class: "mono" }, d.batch_key || "—"),
        h("td", {}, h("span", { class: `bar${d.dataset_drift ? " bad" : ""}` }, h("i", { style: `width:${Math.round(share * 100)}%` })), `${(share * 100).toFixed(0)}%`),
        h("td", {}, d.dataset_drift ? pill("failed", "drift") : pill("succeeded", "no drift")),
        h("td", {}, (d.drifted_columns || []).join(", ") || "—"),
        h("td", {}, h("a", { href: d.report_url, target: "_blank", rel: "noopener", class: "report-link" }, "Evidently report ↗"))), detailRow);
    }
    fill(body, h("div", { class: "table-wrap" }, h("table", { id: "drift" },
      h("thead", {}, h("tr", {}, ["Checked", "Batch", "Drifted share", "Verdict", "Drifted columns", "Report"].map((t) => h("th", {}, t)))), tbody)));
    fill(pager,
      h("button", { class: "btn small", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - LIMIT); load(); } }, "‹ Newer"),
      h("span", { class: "muted" }, `${offset + 1}–${offset + data.items.length} of ${data.total}`),
      h("button", { class: "btn small", disabled: offset + LIMIT >= data.total, onclick: () => { offset += LIMIT; load(); } }, "Older ›"));
  }
  await load();
}

// ---- monitoring ----------------------------------------------------------------------------
const RUNS_SHOWN = 200;
const reportHref = (key) => `/api/monitoring/report?key=${encodeURIComponent(key)}`;
const ms = (iso) => new Date(iso).getTime();
async function viewMonitoring(view) {
  const head = h("div"), driftBox = h("div"), rmseBox = h("div"), dist = h("div"), table = h("div");
  const charts = h("div", { class: "charts wide" }, driftBox, rmseBox, dist);
  fill(view, h("h1", {}, "Monitoring"),
    h("p", { class: "muted" }, "Each run of MonitorFunction looks at the predictions captured since the previous run: feature drift against the reference data, the production version's predictions against its holdout, and live RMSE per model version on the labelled rows. Alerts sent are marked on the time axes."),
    head, charts, table);
  let shown = "";
  async function load() {
    const data = await api(`/api/monitoring/runs?limit=${RUNS_SHOWN}`);
    const runs = data.items.filter((r) => r.at && !r.error);
    if (!data.items.length) {
      fill(head, h("div", { class: "card empty", id: "monitor-empty" }, h("p", {}, h("b", {}, "No monitoring runs yet.")),
        h("p", {}, "Run one now with ", h("code", {}, "make monitor"), ", or wait for MonitorFunction's schedule (", h("code", {}, "MonitorSchedule"),
          ", hourly by default). Each run looks at the predictions captured since the previous one (", h("code", {}, "make predict"), " makes some) and writes its record under ",
          h("code", {}, "monitoring/runs/"), ".")));
      fill(driftBox); fill(rmseBox); fill(dist); fill(table); shown = ""; return;
    }
    // Markers for the alerts sent while the charted runs happened (from the oldest run's window on).
    const oldest = runs.length ? runs[runs.length - 1] : null;
    let alerts = [];
    if (oldest) {
      try { alerts = (await api(`/api/alerts?limit=500&since=${encodeURIComponent(oldest.window.start || oldest.at)}`)).items; } catch { /* no markers */ }
    }
    const stamp = `${data.items[0].key}|${data.total}|${alerts.length}`;
    if (stamp === shown) return;  // nothing new: keep the page (and whatever the user is hovering) as it is
    shown = stamp;
    const markers = alerts.map((a) => ({ t: ms(a.timestamp), kind: a.kind, summary: a.summary, sk: a.sk }));
    const latest = data.items[0];
    drawHead(latest, data);
    const chrono = [...runs].reverse();
    const versions = [...new Set(chrono.flatMap((r) => Object.keys(r.versions || {})))].sort();
    fill(driftBox,
      timeChart({ id: "drift-share-chart", label: "Feature drift share per run", yMin: 0, threshold: data.threshold, markers, yFmt: (v) => v.toFixed(2),
        empty: "no drift share yet (a window needs at least 100 records)",
        series: [{ name: "feature drift share", points: chrono.filter((r) => typeof r.feature_drift_share === "number").map((r) => ({
          t: ms(r.at), v: r.feature_drift_share, attrs: { "data-run": r.run_id, "data-drifted": String(!!r.feature_drift) },
          title: `${fmtTime(r.at)}: drift share ${r.feature_drift_share.toFixed(2)}${r.drifted_columns.length ? ` (${r.drifted_columns.join(", ")})` : ""}` })) }] }));
    fill(rmseBox, timeChart({ id: "rmse-chart", label: "Live RMSE per model version ($100k)", yMin: 0, markers, empty: "no labelled predictions yet (upload labels to labels/)",
        series: versions.map((v) => ({ name: v, legend: v, points: chrono.filter((r) => r.versions[v] && typeof r.versions[v].rmse === "number").map((r) => ({
          t: ms(r.at), v: r.versions[v].rmse, attrs: { "data-run": r.run_id, "data-version": v },
          title: `${v} at ${fmtTime(r.at)}: RMSE ${r.versions[v].rmse.toFixed(4)} on ${r.versions[v].labelled_rows} labelled rows` })) })) }));
    drawTable(data);
    await drawDistribution(latest);
  }
  function drawHead(r, data) {
    if (r.error) { fill(head, h("div", { class: "notice" }, h("span", { class: "err" }, `Run ${r.run_id}: `), r.error)); return; }
    const pd = r.prediction_drift || {};
    fill(head, h("div", { class: "card", id: "monitor-latest" }, h("div", { class: "row" },
      h("div", { class: "stat" }, h("b", {}, fmtTime(r.at)), h("span", {}, `latest run (${r.trigger || "?"}) · ${data.total} in all`)),
      h("div", { class: "stat" }, h("b", {}, r.records ?? "—"), h("span", {}, `records in ${r.window.hours ?? "?"} h`)),
      h("div", { class: "stat" }, h("b", {}, r.labelled_rows ?? "—"), h("span", {}, `labelled rows (${r.unmatched_label_ids ?? 0} label ids unmatched)`)),
      h("div", { class: "stat" }, h("b", {}, typeof r.feature_drift_share === "number" ? r.feature_drift_share.toFixed(2) : "—"), h("span", {}, "feature drift share")),
      h("div", { class: "stat" }, h("b", {}, pd.drifted === true ? "drifted" : pd.drifted === false ? "stable" : "—"), h("span", {}, "prediction drift")),
      h("span", { class: "spacer" }), h("a", { href: reportHref(r.report_key), target: "_blank", rel: "noopener", class: "btn small" }, "Latest report ↗")),
      r.decision ? h("p", { class: "muted", style: "margin:8px 0 0" }, r.decision) : null));
  }
  async function drawDistribution(r) {
    if (r.error) { fill(dist); return; }
    fill(dist, h("div", { class: "card chart wide", id: "distribution-chart" }, h("h3", {}, "Predictions of the latest run"), h("p", { class: "muted" }, "Loading…")));
    let d;
    try { d = await api(`/api/monitoring/distribution?key=${encodeURIComponent(r.key)}`); }
    catch (e) { fill(dist, h("div", { class: "card chart wide", id: "distribution-chart" }, h("h3", {}, "Predictions of the latest run"), h("p", { class: "muted" }, e.message))); return; }
    const v = d.version || "production";
    const q = (qs) => (qs && qs.p50 !== undefined ? ` · median ${qs.p50.toFixed(2)}, 5–95% ${qs.p5.toFixed(2)}–${qs.p95.toFixed(2)}` : "");
    fill(dist, histChart({ id: "distribution-chart", label: `Predictions of the latest run (${v}, $100k) against its holdout`, edges: d.edges,
      bars: { ...d.window, legend: `window: ${d.window.rows} predictions of ${v}${q(d.window.quantiles)}${d.sampled ? ` (from ${d.objects_read} of ${d.objects_total} capture objects)` : ""}`,
        empty: `no predictions of ${v} captured in the window` },
      outline: d.holdout ? { ...d.holdout, legend: `holdout: ${d.holdout.rows} predictions${q(d.holdout.quantiles)}` } : null }));
  }
  function liveRmse(r) {
    const rows = Object.entries(r.versions).filter(([, m]) => typeof m.rmse === "number");
    return rows.length ? rows.map(([v, m]) => h("div", { title: `${m.labelled_rows} labelled rows` }, `${v} ${m.rmse.toFixed(3)}`)) : h("span", { class: "muted" }, "—");
  }
  function drawTable(data) {
    fill(table, h("h2", {}, "Runs"), h("div", { class: "table-wrap" }, h("table", { id: "monitor-runs" },
      h("thead", {}, h("tr", {}, ["Run", "Trigger", "Window", "Records", "Labelled", "Drift share", "Prediction drift", "Live RMSE", "Actions", "Report"].map((t, i) => h("th", { class: i >= 3 && i <= 4 ? "num" : "" }, t)))),
      h("tbody", {}, data.items.map((r) => r.error ? h("tr", { "data-run": r.run_id }, h("td", {}, r.run_id), h("td", { colspan: 9, class: "err" }, r.error)) : h("tr", { "data-run": r.run_id },
        h("td", {}, fmtTime(r.at)), h("td", {}, r.trigger || "—"),
        h("td", { class: "muted" }, `${r.window.hours ?? "?"} h · since ${r.window.since || "?"}`),
        h("td", { class: "num" }, r.records ?? "—"), h("td", { class: "num" }, r.labelled_rows ?? "—"),
        h("td", {}, typeof r.feature_drift_share === "number"
          ? [h("span", { class: `bar${r.feature_drift ? " bad" : ""}` }, h("i", { style: `width:${Math.round(r.feature_drift_share * 100)}%` })), r.feature_drift_share.toFixed(2)]
          : h("span", { class: "muted", title: r.feature_drift_reason || "" }, "—")),
        h("td", {}, r.prediction_drift.drifted === true ? pill("failed", "drifted") : r.prediction_drift.drifted === false ? pill("succeeded", "stable")
          : h("span", { class: "muted", title: r.prediction_drift.reason || "" }, "—")),
        h("td", { class: "mono nowrap" }, liveRmse(r)),
        h("td", {}, r.actions.length ? r.actions.map((a) => h("span", { class: "pill st-caught action" }, a.replace("alert:", "alert: ").replaceAll("_", " "))) : h("span", { class: "muted" }, "none")),
        h("td", {}, h("a", { href: reportHref(r.report_key), target: "_blank", rel: "noopener", class: "report-link" }, "report ↗"), " ",
          h("a", { href: reportHref(r.key), target: "_blank", rel: "noopener", class: "record-link muted" }, "JSON"))))))),
    data.total > data.items.length ? h("p", { class: "muted" }, `The newest ${data.items.length} of ${data.total} runs.`) : null);
  }
  await load();
  poll(view, 15000, load);
}

// ---- alerts --------------------------------------------------------------------------------
const TONE_CLASS = { good: "succeeded", bad: "failed", warn: "caught", active: "running", neutral: "previous" };
async function viewAlerts(view, params) {
  const kind = params.get("kind") || "", focus = params.get("alert") || "";
  const first = await api(`/api/alerts?limit=50${kind ? `&kind=${encodeURIComponent(kind)}` : ""}`);
  const tones = Object.fromEntries(first.kinds.map((k) => [k.kind, k]));
  const kindPill = (k) => h("span", { class: `pill st-${TONE_CLASS[(tones[k] || {}).tone] || "previous"}`, "data-kind": k, title: (tones[k] || {}).description || "" }, (k || "?").replaceAll("_", " "));
  const sel = h("select", { id: "kind-filter", "aria-label": "Filter by kind", onchange: () => go("alerts", { kind: sel.value }) },
    h("option", { value: "" }, "All kinds"), first.kinds.map((k) => h("option", { value: k.kind, selected: k.kind === kind, title: k.description }, k.kind.replaceAll("_", " "))));
  const focusBox = h("div"), tbody = h("tbody"), more = h("div", { class: "pager" });
  fill(view, h("h1", {}, "Alerts"),
    h("p", { class: "muted" }, "What a human was told, newest first: every alert published to the alert topic (and audited as alert_sent), with the decision it is about. ", h("code", {}, "make alerts"), " prints the same."),
    h("div", { class: "toolbar" }, sel), focusBox,
    h("div", { class: "table-wrap" }, h("table", { id: "alerts" },
      h("thead", {}, h("tr", {}, ["Time", "Kind", "Summary", "Reason", "Versions", "About", "Delivery"].map((t) => h("th", {}, t)))), tbody)), more);
  const versions = (v) => Object.entries(v || {}).filter(([, x]) => x).map(([k, x]) => h("div", { class: "mono" }, `${k} ${x}`));
  const aboutLink = (a) => (a.about ? h("a", { class: "about-link", href: `#/audit?item=${encodeURIComponent(a.about)}`, title: a.about },
    a.about_action ? `${a.about_action.replaceAll("_", " ")} decision` : "audit item") : h("span", { class: "muted" }, "—"));
  const row = (a) => h("tr", { "data-alert-id": a.alert_id || "", "data-sk": a.sk, "data-kind": a.kind, class: a.sk === focus ? "focus" : null },
    h("td", { class: "nowrap" }, fmtTime(a.timestamp)), h("td", {}, kindPill(a.kind)), h("td", {}, a.summary), h("td", {}, a.reason || h("span", { class: "muted" }, "—")),
    h("td", {}, versions(a.versions)), h("td", {}, aboutLink(a)),
    h("td", {}, a.published === false ? h("span", { class: "pill st-previous", title: "no alert topic was configured, or publishing failed: audited only" }, "not published") : "sent"));
  let next = null;
  function show(data, reset) {
    if (reset) fill(tbody);
    tbody.append(...data.items.map(row));
    if (!tbody.children.length) tbody.append(h("tr", {}, h("td", { colspan: 7, class: "empty", id: "alerts-empty" }, kind ? `No ${kind.replaceAll("_", " ")} alerts.` : "No alerts yet. An alert is sent when production is rolled back, a batch is quarantined, a challenger is rejected, drift or degradation is found, recovery gives up, or an execution fails.")));
    next = data.next;
    fill(more, next ? h("button", { class: "btn small", onclick: async () => show(await api(`/api/alerts?limit=50&page=${encodeURIComponent(next)}${kind ? `&kind=${encodeURIComponent(kind)}` : ""}`), false) }, "Load older")
      : h("span", { class: "muted" }, `${tbody.querySelectorAll("tr[data-sk]").length} shown`));
  }
  show(first, true);
  if (focus) {
    // The alert an audit item links to: its whole message, even when it is older than the rows shown.
    try {
      const a = await api(`/api/alerts/item?sk=${encodeURIComponent(focus)}`);
      fill(focusBox, h("div", { class: "card focus", id: "alert-focus", "data-sk": a.sk }, h("div", { class: "row" }, kindPill(a.kind), h("b", {}, a.summary), h("span", { class: "spacer" }),
        h("span", { class: "muted" }, fmtTime(a.timestamp)), aboutLink(a)), a.reason ? h("p", {}, a.reason) : null,
        h("details", {}, h("summary", { class: "muted" }, "message as published"), jsonBlock(a.message))));
    } catch (e) { fill(focusBox, h("div", { class: "notice" }, h("span", { class: "err" }, "No such alert. "), e.message)); }
  }
  poll(view, 10000, async () => { if (tbody.querySelectorAll("tr[data-sk]").length <= 50) show(await api(`/api/alerts?limit=50${kind ? `&kind=${encodeURIComponent(kind)}` : ""}`), true); });
}

// ---- audit ---------------------------------------------------------------------------------
// The actions, their descriptions and tones come from the API (selfheal.audit.AuditAction), once.
async function actionCatalog() {
  if (!app.actions) app.actions = Object.fromEntries((await api("/api/audit/actions")).items.map((a) => [a.action, a]));
  return app.actions;
}
function actionPill(a) {
  const info = (app.actions || {})[a] || {};
  return h("span", { class: `pill st-${TONE_CLASS[info.tone] || "previous"}`, "data-action": a, title: info.description || "" }, a.replaceAll("_", " "));
}
async function viewAudit(view, params) {
  const action = params.get("action") || "", only = params.get("item") || "";
  const catalog = await actionCatalog();
  const sel = h("select", { id: "action-filter", "aria-label": "Filter by action", onchange: () => go("audit", { action: sel.value }) },
    h("option", { value: "" }, "All actions"), [...new Set([...Object.keys(catalog), action].filter(Boolean))].map((a) => h("option", { value: a, selected: a === action, title: (catalog[a] || {}).description || "" }, a.replaceAll("_", " "))));
  const list = h("ul", { class: "timeline card", id: "audit", style: "padding:0" }), more = h("div", { class: "pager" });
  fill(view, h("h1", {}, "Audit trail"), h("p", { class: "muted" }, "Every healing decision, newest first, with its reason and the execution that made it."),
    only ? h("div", { class: "toolbar" }, h("a", { href: "#/audit", id: "all-decisions" }, "← all decisions"), h("span", { class: "muted" }, "one decision, linked from an alert")) : h("div", { class: "toolbar" }, sel),
    list, more);
  let next = null;
  const alertLinks = (it) => [
    ...(it.alerts || []).map((a) => h("a", { class: "alert-link pill st-caught", href: `#/alerts?alert=${encodeURIComponent(a.sk)}`, "data-alert-sk": a.sk, title: "the alert sent about this decision" }, `alert sent: ${(a.kind || "?").replaceAll("_", " ")} ›`)),
    it.action === "alert_sent" ? h("a", { class: "alert-link", href: `#/alerts?alert=${encodeURIComponent(it.sk)}`, "data-alert-sk": it.sk }, "the alert ›") : null,
    it.action === "alert_sent" && it.details && it.details.about ? h("a", { class: "about-link", href: `#/audit?item=${encodeURIComponent(it.details.about)}` }, "the decision it is about ›") : null];
  const item = (it) => h("li", { "data-action": it.action, "data-sk": it.sk, class: it.sk === only ? "focus" : null },
    h("time", { datetime: it.timestamp }, fmtTime(it.timestamp)), h("div", {}, actionPill(it.action)),
    h("div", {}, h("div", {}, it.reason),
      h("div", { class: "row links" }, alertLinks(it),
        it.execution_arn ? h("a", { href: `#/execution?arn=${encodeURIComponent(it.execution_arn)}`, class: "execution-link" }, `execution ${shortArn(it.execution_arn)}`) : null),
      it.details ? h("details", { open: !!only }, h("summary", { class: "muted" }, "details"), jsonBlock(it.details)) : null));
  async function load(reset) {
    const q = new URLSearchParams({ limit: 50 });
    if (action) q.set("action", action);
    if (!reset && next) q.set("page", next);
    const data = await api(`/api/audit?${q}`);
    if (reset) fill(list);
    list.append(...data.items.map(item));
    if (!list.children.length) list.append(h("li", { class: "empty", style: "display:block" }, "No decisions recorded yet."));
    next = data.next;
    fill(more, next ? h("button", { class: "btn small", onclick: () => load(false) }, "Load older") : h("span", { class: "muted" }, `${list.children.length} shown`));
  }
  if (only) { fill(list, item(await api(`/api/audit/item?sk=${encodeURIComponent(only)}`))); return; }
  await load(true);
  poll(view, 5000, () => (list.children.length <= 50 ? load(true) : Promise.resolve()));
}

// ---- functions -----------------------------------------------------------------------------
async function viewFunctions(view, params) {
  let chosen = params.get("fn") || null;
  const table = h("div"), logs = h("div");
  fill(view, h("h1", {}, "Functions"),
    h("p", { class: "muted" }, "Figures come from the START / REPORT lines each function writes to CloudWatch Logs: cold starts are the invocations with an Init Duration."),
    table, logs);
  async function load() {
    const data = await api("/api/functions");
    fill(table, h("div", { class: "table-wrap" }, h("table", { id: "functions" },
      h("thead", {}, h("tr", {}, ["Function", "Memory", "Invocations", "Errors", "Cold starts", "p50", "p99", "Mean init", "Last invoked"].map((t, i) => h("th", { class: i ? "num" : "" }, t)))),
      h("tbody", {}, data.items.map((f) => h("tr", { class: "clickable", "data-function": f.logical_id || f.name, onclick: () => { chosen = f.name; loadLogs(); } },
        h("td", {}, h("b", {}, f.logical_id || f.name), h("div", { class: "muted mono", style: "font-size:11.5px" }, f.name)),
        h("td", { class: "num" }, f.memory_mb ? `${f.memory_mb} MB` : "—"),
        h("td", { class: "num", "data-field": "invocations" }, f.invocations),
        h("td", { class: "num", "data-field": "errors", style: f.errors ? "color:var(--bad);font-weight:600" : "" }, f.errors),
        h("td", { class: "num", "data-field": "cold_starts" }, f.cold_starts),
        h("td", { class: "num", "data-field": "p50" }, fmtMs(f.p50_ms)), h("td", { class: "num", "data-field": "p99" }, fmtMs(f.p99_ms)),
        h("td", { class: "num" }, fmtMs(f.mean_init_ms)),
        h("td", { class: "num" }, f.last_invoked ? fmtTime(new Date(f.last_invoked).toISOString()) : "never")))))));
  }
  async function loadLogs() {
    if (!chosen) { fill(logs, h("p", { class: "muted" }, "Click a function to see its recent logs.")); return; }
    const data = await api(`/api/functions/${encodeURIComponent(chosen)}/logs?limit=300`);
    const box = h("div", { class: "logs mono", id: "function-logs" }, data.lines.length ? data.lines.map((l) => h("div", { class: l.level },
      h("span", { class: "ts" }, new Date(l.timestamp).toISOString().slice(11, 23) + "  "), l.message)) : "No log lines yet.");
    fill(logs, h("h2", {}, `Recent logs · ${data.name}`), h("p", { class: "muted mono" }, data.log_group), box);
    box.scrollTop = box.scrollHeight;
  }
  await Promise.all([load(), loadLogs()]);
  poll(view, 4000, async () => { await load(); if (chosen) await loadLogs(); });
}

// ---- start ---------------------------------------------------------------------------------
window.addEventListener("hashchange", render);
refreshOverview().then(render);
setInterval(refreshOverview, 5000);
