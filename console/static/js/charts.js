// The SVG charts: metrics across model versions, values over time with alert markers, and histograms.
import { fill, h, s } from "./dom.js";
import { fmtTime } from "./format.js";
import { go } from "./nav.js";

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
export function chart(versions, key, label) {
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
export function timeChart({ id, label, series, threshold = null, markers = [], yMin = null, yFmt = (v) => v.toFixed(3), empty = "no data" }) {
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
export function histChart({ id, label, edges, bars, outline }) {
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
