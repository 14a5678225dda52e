// What the page keeps across views: the overview (stack outputs, authorization), the shown view's
// route and timers, and the audit actions' catalog (fetched once).
export const app = { overview: null, timers: [], route: null, actions: null };
