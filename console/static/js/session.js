// The header's connection pill and the session token form (refreshed every few seconds by main.js).
import { api, hideDown, showDown } from "./api.js";
import { toast } from "./dialogs.js";
import { $, fill, h } from "./dom.js";
import { app } from "./state.js";

export async function refreshOverview() {
  try {
    const o = await api("/api/overview");
    app.overview = o;
    $("#stack").textContent = o.stack_name ? `stack ${o.stack_name}` : "";
    const c = $("#conn");
    c.title = `AWS endpoint ${o.endpoint}`;
    if (o.reachable) { c.textContent = `cloud up · ${o.endpoint.replace(/^https?:\/\//, "")}`; c.className = "pill up"; hideDown(); }
    else showDown(o.endpoint);
    renderAuth(o.authorized);
  } catch (e) {
    const c = $("#conn"); c.textContent = "console server down"; c.className = "pill down";
  }
}
function renderAuth(authorized) {
  const el = $("#auth");
  if (authorized) { fill(el, h("span", { class: "pill up", id: "auth-state", "data-authorized": "true" }, "actions enabled")); return; }
  const input = h("input", { type: "password", placeholder: "session token", "aria-label": "session token", size: 16 });
  const form = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/api/session", { method: "POST", body: { token: input.value } }); toast("Actions enabled for this browser."); refreshOverview(); }
    catch (err) { toast(`Unlock failed: ${err.message}`, true); }
  } }, h("span", { class: "pill", id: "auth-state", "data-authorized": "false", title: "Promote, roll back and start need the token printed by make up" }, "read-only"), input, h("button", { class: "btn small", type: "submit" }, "Unlock"));
  fill(el, form);
}
