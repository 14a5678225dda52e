// What every action shares: the toast that reports it, the confirmation dialog, and act() that runs one.
import { $ } from "./dom.js";

export function toast(message, isError = false) {
  const t = $("#toast");
  t.textContent = message; t.className = isError ? "toast error" : "toast"; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 9000 : 4000);
}
// valid(): the OK button stays disabled until it returns true (a required reason, say).
export function confirmModal(title, body, okText = "Confirm", { valid } = {}) {
  return new Promise((resolve) => {
    const m = $("#modal"), box = $("#modal-body");
    $("#modal-title").textContent = title;
    box.replaceChildren(...[body].flat().filter((c) => c));
    const ok = $("#modal-ok"); ok.textContent = okText;
    const check = () => { ok.disabled = valid ? !valid() : false; };
    check(); box.oninput = check;
    const done = (v) => { m.hidden = true; ok.onclick = null; ok.disabled = false; box.oninput = null; $("#modal-cancel").onclick = null; document.onkeydown = null; resolve(v); };
    ok.onclick = () => done(true);
    $("#modal-cancel").onclick = () => done(false);
    document.onkeydown = (e) => { if (e.key === "Escape") done(false); };
    m.hidden = false;
    const first = $("#modal-body input, #modal-body textarea"); (first || ok).focus();
  });
}
// recover(error): for a refusal the user may override, the follow-up (a dialog, then a retry); null otherwise.
export async function act(label, fn, recover) {
  try { const r = await fn(); toast(`${label}: done`); return r; }
  catch (e) {
    const followUp = recover ? recover(e) : null;
    if (followUp) return followUp;
    if (e.status === 403) toast(`${label}: ${e.message}`, true);
    else toast(`${label} failed: ${e.message}`, true);
    return null;
  }
}
