// Formatting of the API's values for reading: times, durations, numbers, ARNs and nested JSON.

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}
export const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
export const fmtNum = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "—");
export const shortArn = (arn) => (arn ? arn.split(":").pop() : "");
// Step Functions nests JSON in strings (inputs, outputs, a Lambda error's cause); unpack them to read.
export function deepParse(value) {
  if (typeof value === "string") {
    const t = value.trim();
    if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
      try { return deepParse(JSON.parse(t)); } catch { return value; }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(deepParse);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepParse(v)]));
  return value;
}
// A Lambda error's cause is its JSON error payload; its errorMessage is what a reader wants first.
export function errorMessage(cause) { const c = deepParse(cause); return c && typeof c === "object" ? c.errorMessage || null : (c || null); }
