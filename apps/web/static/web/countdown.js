// SLA countdowns: each <time data-countdown> says how long until (or since) its deadline in the
// page's language, refreshed every half minute and after every htmx swap; its badge turns "soon"
// in the last quarter of an hour and "late" once the deadline passes.
(function () {
  "use strict";
  const SOON_MS = 15 * 60 * 1000;
  const node = document.getElementById("ui-strings");
  const strings = node ? JSON.parse(node.textContent) : {};

  function refresh() {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (time) {
      const due = Date.parse(time.getAttribute("datetime"));
      if (Number.isNaN(due)) return;
      const left = due - now;
      const minutes = Math.max(1, Math.round(Math.abs(left) / 60000));
      const template = left <= 0 ? strings.slaLate : strings.slaIn;
      if (template) time.textContent = template.replace("%(n)d", String(minutes));
      const badge = time.closest("[data-sla]");
      if (badge) {
        const state = left <= 0 ? "late" : left < SOON_MS ? "soon" : "ok";
        badge.classList.remove("sla-ok", "sla-soon", "sla-late");
        badge.classList.add("sla-" + state);
        badge.dataset.sla = state;
      }
    });
  }

  refresh();
  setInterval(refresh, 30000);
  document.addEventListener("htmx:afterSwap", refresh);
})();
