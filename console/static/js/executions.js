// The executions list, and the "Start execution" dialog with its JSON editor.
import { api } from "./api.js";
import { confirmModal, toast } from "./dialogs.js";
import { fill, h, pill } from "./dom.js";
import { fmtDuration, fmtTime } from "./format.js";
import { go, poll } from "./nav.js";
import { startRetraining } from "./retraining.js";
import { app } from "./state.js";

export async function viewExecutions(view, params) {
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
