// Drift checks: each batch against the reference data, with per-column scores and the Evidently report.
import { api } from "./api.js";
import { fill, h, pill } from "./dom.js";
import { fmtNum, fmtTime } from "./format.js";

export async function viewDrift(view) {
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
