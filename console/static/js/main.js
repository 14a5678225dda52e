// Self-healing console: a small single-page app over the console's JSON API (no framework, no build step).
// This module boots it: the router picks a view module from the location hash.
import { viewAlerts } from "./alerts.js";
import { viewAudit } from "./audit.js";
import { $, fill, h } from "./dom.js";
import { viewDrift } from "./drift.js";
import { viewExecution } from "./execution.js";
import { viewExecutions } from "./executions.js";
import { viewFunctions } from "./functions.js";
import { viewModels } from "./models.js";
import { viewMonitoring } from "./monitoring.js";
import { refreshOverview } from "./session.js";
import { app } from "./state.js";

const routes = { executions: viewExecutions, execution: viewExecution, models: viewModels, drift: viewDrift, monitoring: viewMonitoring, alerts: viewAlerts, audit: viewAudit, functions: viewFunctions };
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query] = raw.split("?");
  return { name: routes[name] ? name : "executions", params: new URLSearchParams(query || "") };
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

window.addEventListener("hashchange", render);
refreshOverview().then(render);
setInterval(refreshOverview, 5000);
