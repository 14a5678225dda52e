// Moving between views, and the timers that belong to the view shown.
import { app } from "./state.js";

// Timers belong to one view: once the user navigated away (its container is detached), they stop.
export function every(view, ms, fn) {
  const id = setInterval(() => { if (view.isConnected) fn(); else clearInterval(id); }, ms);
  app.timers.push(id);
  return id;
}
export function go(name, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
  location.hash = `#/${name}${q ? "?" + q : ""}`;
}
// Keep polling a view; a failure shows the banner (cloud down) but never replaces the page with a trace.
export function poll(view, ms, fn) { every(view, ms, async () => { try { await fn(); } catch { /* banner already says it */ } }); }
