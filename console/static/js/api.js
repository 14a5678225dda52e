// The console's JSON API: one fetch helper, its error, and the banner it shows while the AWS endpoint is down.
import { $, fill, h } from "./dom.js";

// A refusal the user can act on (a rejected version, an active cooldown) has a detail object with a
// message and the facts a follow-up dialog shows; other errors have a detail string.
class ApiError extends Error {
  constructor(status, body) {
    const d = body ? body.detail : null;
    super(typeof d === "string" ? d : d && typeof d.message === "string" ? d.message : d ? JSON.stringify(d) : `HTTP ${status}`);
    this.status = status; this.body = body || {}; this.detail = d && typeof d === "object" && !Array.isArray(d) ? d : {};
  }
}
export async function api(path, { method = "GET", body } = {}) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) { throw new ApiError(0, { detail: "the console server does not answer" }); }
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (resp.status === 503 && data && data.error === "cloud_unavailable") showDown(data.endpoint);
  else if (resp.ok) hideDown();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// ---- the cloud-down banner (every API answer shows or hides it) --------------------------
export function showDown(endpoint) {
  const b = $("#banner");
  fill(b, h("strong", {}, "The AWS endpoint is not reachable. "),
    "The console tried ", h("code", {}, endpoint || "?"), " and got no answer. Is the local cloud running? Start it with ",
    h("code", {}, "make up"), ". This page retries every few seconds.");
  b.hidden = false;
  const c = $("#conn"); c.textContent = "cloud down"; c.className = "pill down";
}
export function hideDown() { $("#banner").hidden = true; }
