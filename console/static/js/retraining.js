// Starting the self-healing state machine from the console ("Start execution", "Start again").
import { api } from "./api.js";
import { act, confirmModal } from "./dialogs.js";
import { h } from "./dom.js";
import { fmtTime } from "./format.js";

// Starting the self-healing state machine is a retraining: it takes the lock and the cooldown as the
// drift function does. Inside the cooldown the API refuses (409); the user may override it, with a reason.
export function startRetraining(label, path, body) {
  return act(label, () => api(path, { method: "POST", body }), (e) =>
    e.status === 409 && e.detail.error === "cooldown_active" && !body.override_cooldown ? overrideCooldown(label, path, body, e.detail) : null);
}
async function overrideCooldown(label, path, body, refusal) {
  const reason = h("input", { type: "text", id: "cooldown-override-reason", placeholder: "Why retrain inside the cooldown? (required)" });
  const ok = await confirmModal("The retraining cooldown is active", [
    h("div", { class: "notice", id: "cooldown-refusal" }, h("span", { class: "err" }, "Not started. "), refusal.message),
    h("p", {}, `The next retraining may start at ${fmtTime(refusal.cooldown_ends)}. Overriding starts it now; the cooldown then runs again from now, and the override and its reason go to the audit trail.`),
    h("label", { class: "field" }, h("span", {}, "Why override the cooldown? (recorded in the audit trail)"), reason)],
    "Override the cooldown and start", { valid: () => reason.value.trim() !== "" });
  if (!ok) return null;
  return act(label, () => api(path, { method: "POST", body: { ...body, override_cooldown: true, override_reason: reason.value.trim() } }));
}
