// Model versions: production, metrics across versions, the versions table, Promote and Roll back.
import { api } from "./api.js";
import { chart } from "./charts.js";
import { act, confirmModal } from "./dialogs.js";
import { fill, h, pill } from "./dom.js";
import { fmtNum, fmtTime, shortArn } from "./format.js";
import { poll } from "./nav.js";

export async function viewModels(view) {
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
      h("div", { class: "stat" }, h("b", { id: "model-unit" }, data.unit || "—"), h("span", {}, "unit of predictions, RMSE and MAE")),
      prod ? h("div", { class: "stat" }, h("b", { style: "font-size:14px" }, `${prod.action} · ${fmtTime(prod.updated_at)}`), h("span", {}, prod.reason)) : null,
      h("span", { class: "spacer" }),
      h("button", { class: "btn danger", id: "rollback", disabled: !prod, onclick: rollback }, "Roll back…")));
    fill(charts, ...[["r2", "R² (higher is better)"], ["rmse", `RMSE, ${data.unit || "data units"}`], ["mae", `MAE, ${data.unit || "data units"}`], ["mape", "MAPE"]].map(([k, label]) => chart(data.versions, k, label)));
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
