// Per-function invocations, errors, cold starts, p50/p99 and recent logs.
import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { fmtMs, fmtTime } from "./format.js";
import { poll } from "./nav.js";

export async function viewFunctions(view, params) {
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
