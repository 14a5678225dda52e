// The alerts: newest first, each linked to the decision it is about.
import { api } from "./api.js";
import { TONE_CLASS, fill, h, jsonBlock } from "./dom.js";
import { fmtTime } from "./format.js";
import { go, poll } from "./nav.js";

export async function viewAlerts(view, params) {
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
