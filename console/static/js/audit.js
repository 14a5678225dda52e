// The audit timeline: every healing decision, with its reason, execution and the alerts sent about it.
import { api } from "./api.js";
import { TONE_CLASS, fill, h, jsonBlock } from "./dom.js";
import { fmtTime, shortArn } from "./format.js";
import { go, poll } from "./nav.js";
import { app } from "./state.js";

// The actions, their descriptions and tones come from the API (selfheal.audit.AuditAction), once.
async function actionCatalog() {
  if (!app.actions) app.actions = Object.fromEntries((await api("/api/audit/actions")).items.map((a) => [a.action, a]));
  return app.actions;
}
function actionPill(a) {
  const info = (app.actions || {})[a] || {};
  return h("span", { class: `pill st-${TONE_CLASS[info.tone] || "previous"}`, "data-action": a, title: info.description || "" }, a.replaceAll("_", " "));
}
export async function viewAudit(view, params) {
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
