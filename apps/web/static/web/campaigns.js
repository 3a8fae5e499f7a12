// Campaigns pages. The progress page follows `campaign.progress` frames (app.js hands every frame
// over as a `conversa:frame` event): the counts and the bar move at once; the rest of the live
// section (status, buttons, chart, report) is fetched again when the status changes and at most
// every few seconds while sending. The builder inserts variables, shows the inbox's rate cap and
// only the fields of the chosen message kind.
(function () {
  "use strict";

  const FIELDS = ["total", "queued", "sent", "delivered", "read", "failed", "skipped"];
  const CHART_EVERY_MS = 5000;
  const FINAL = ["completed", "cancelled", "failed"];

  function live() { return document.getElementById("campaign-live"); }

  let reloading = false;
  let lastReload = 0;
  let pendingTimer = null;

  async function reload() {
    const current = live();
    if (!current || reloading) return;
    reloading = true;
    lastReload = Date.now();
    try {
      const response = await fetch(current.dataset.url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      if (!response.ok) return;
      const template = document.createElement("template");
      template.innerHTML = (await response.text()).trim();
      const fresh = template.content.firstElementChild;
      if (fresh && live()) {
        live().replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh); // the cancel form's confirmation
      }
    } finally {
      reloading = false;
    }
  }

  function reloadSoon() {
    if (pendingTimer) return;
    const wait = Math.max(0, CHART_EVERY_MS - (Date.now() - lastReload));
    pendingTimer = setTimeout(() => { pendingTimer = null; reload(); }, wait);
  }

  function show(data) {
    const box = live();
    if (!box || Number(box.dataset.campaignId) !== data.id) return;
    for (const name of FIELDS) {
      const element = box.querySelector(`[data-field="${name}"]`);
      if (element && name in data) element.textContent = data[name];
    }
    const done = (data.sent || 0) + (data.failed || 0) + (data.skipped || 0);
    const percent = data.total ? Math.min(100, Math.floor((100 * done) / data.total)) : 0;
    const bar = document.getElementById("campaign-bar");
    if (bar) { bar.value = percent; bar.textContent = `${percent}%`; }
    const label = document.getElementById("campaign-percent");
    if (label) label.textContent = `${percent}%`;
    if (data.status !== box.dataset.status) {
      box.dataset.status = data.status;
      reload(); // the status in the user's language, its buttons, and the report once it is over
    } else if (data.status === "running") {
      reloadSoon(); // the chart of sends per minute
    }
  }

  document.addEventListener("conversa:frame", (event) => {
    const frame = event.detail || {};
    if (frame.type === "campaign.progress") show(frame.data || {});
    // Frames sent before the socket was ready are lost: read the state once it is (a draft's does
    // not move by itself, and its schedule form may be being filled in).
    if (frame.type === "ready" && live() && !["draft", ...FINAL].includes(live().dataset.status)) reload();
  });

  // --- the builder ---------------------------------------------------------------------------

  function insertVariable(button) {
    const target = document.getElementById(button.dataset.target);
    if (!target) return;
    const text = `{{${button.dataset.insertVariable}}}`;
    const start = target.selectionStart ?? target.value.length;
    const end = target.selectionEnd ?? target.value.length;
    target.value = target.value.slice(0, start) + text + target.value.slice(end);
    target.focus();
    target.selectionStart = target.selectionEnd = start + text.length;
    target.dispatchEvent(new Event("input", { bubbles: true })); // the preview follows
  }

  function showRateCap() {
    const select = document.querySelector("[data-rate-target]");
    if (!select) return;
    const cap = document.getElementById(select.dataset.rateTarget);
    const option = select.selectedOptions[0];
    if (cap && option) cap.textContent = cap.dataset.template.replace("{rate}", option.dataset.rate);
  }

  function showKind() {
    const chosen = document.querySelector('input[name="kind"]:checked');
    const kind = chosen ? chosen.value : "text";
    for (const part of document.querySelectorAll("[data-kind]")) part.hidden = part.dataset.kind !== kind;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-insert-variable]");
    if (button) insertVariable(button);
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-rate-target]")) showRateCap();
    if (event.target.matches('input[name="kind"]')) showKind();
  });
  function setUp() { showRateCap(); if (document.getElementById("campaign-builder")) showKind(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
