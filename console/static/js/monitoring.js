// Live monitoring: each MonitorFunction run's feature drift, live RMSE per version and predictions.
import { api } from "./api.js";
import { histChart, timeChart } from "./charts.js";
import { fill, h, pill } from "./dom.js";
import { fmtTime } from "./format.js";
import { poll } from "./nav.js";

const RUNS_SHOWN = 200;
const reportHref = (key) => `/api/monitoring/report?key=${encodeURIComponent(key)}`;
const ms = (iso) => new Date(iso).getTime();
export async function viewMonitoring(view) {
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
    fill(rmseBox, timeChart({ id: "rmse-chart", label: `Live RMSE per model version (${unitOf(chrono)})`, yMin: 0, markers, empty: "no labelled predictions yet (upload labels to labels/)",
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
    fill(dist, histChart({ id: "distribution-chart", label: `Predictions of the latest run (${v}, ${unitOf([r])}) against its holdout`, edges: d.edges,
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

// The unit of RMSE and predictions, as the newest run recorded it (runs before schemas recorded none).
function unitOf(runs) {
  const latest = [...runs].reverse().find((r) => r.unit);
  return latest ? latest.unit : "data units";
}
