// The DOM builders every view uses: h() for HTML, s() for SVG, and the small pieces made of them.
// Every text from the API goes into the page through textContent (h() appends text nodes), never as HTML.
import { deepParse } from "./format.js";

export const $ = (sel, root = document) => root.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  append(el, children);
  return el;
}
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
}
// replaceChildren that skips null/false and flattens arrays, like h() does.
export function fill(el, ...children) { el.replaceChildren(); append(el, children); return el; }
function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
export const pill = (status, text) => h("span", { class: `pill st-${status}`, "data-status": status }, text || status.replace("_", " "));
// An audit action's or an alert kind's tone (from the API) as the status class of its pill.
export const TONE_CLASS = { good: "succeeded", bad: "failed", warn: "caught", active: "running", neutral: "previous" };
export const jsonBlock = (value, cls = "") => h("pre", { class: `json ${cls}` },
  typeof value === "string" && !value.trim().match(/^[[{]/) ? value : JSON.stringify(deepParse(value), null, 2));
