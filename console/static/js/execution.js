// One execution: its state-machine graph coloured by what happened, the selected state's detail, and
// the event history, updated live while it runs.
import { api } from "./api.js";
import { act } from "./dialogs.js";
import { fill, h, jsonBlock, pill, s } from "./dom.js";
import { errorMessage, fmtDuration, fmtMs, fmtTime, shortArn } from "./format.js";
import { every, go } from "./nav.js";
import { startRetraining } from "./retraining.js";

const STATE_STYLE = {
  succeeded: ["#e6f4ea", "#1f7a3a"], retried: ["#fff8d6", "#8a6100"], caught: ["#fff1e0", "#b54708"],
  failed: ["#fdecea", "#b42318"], running: ["#e5efff", "#1d5fd1"], aborted: ["#fff1e0", "#b54708"], not_reached: ["#f8f9fb", "#c4cad4"],
};
export async function viewExecution(view, params) {
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
