// The import progress page: the bar and counts follow `import.progress` frames (app.js hands every
// frame over as a `conversa:frame` event); the result (errors, download) is fetched once it is over.
(function () {
  "use strict";

  const FINAL = ["completed", "failed"];

  function section() { return document.getElementById("import-status"); }

  async function reload() {
    const current = section();
    if (!current) return;
    const response = await fetch(current.dataset.url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    if (fresh && section()) section().replaceWith(fresh);
  }

  function show(data) {
    const box = section();
    if (!box || Number(box.dataset.importId) !== data.id || FINAL.includes(box.dataset.status)) return;
    for (const name of ["processed", "total", "imported", "updated", "skipped"]) {
      const element = box.querySelector(`[data-field="${name}"]`);
      if (element && name in data) element.textContent = data[name];
    }
    const percent = data.status === "completed" ? 100 : data.total ? Math.min(100, Math.floor((100 * data.processed) / data.total)) : 0;
    document.getElementById("import-bar").value = percent;
    document.getElementById("import-bar").textContent = `${percent}%`;
    document.getElementById("import-percent").textContent = `${percent}%`;
    if (data.status !== box.dataset.status) {
      box.dataset.status = data.status;
      reload(); // the status label in the user's language, and the result once it is over
    }
  }

  document.addEventListener("conversa:frame", (event) => {
    const frame = event.detail || {};
    if (frame.type === "import.progress") show(frame.data || {});
    // Frames sent before the socket was ready are lost: read the state once it is.
    if (frame.type === "ready" && section() && !FINAL.includes(section().dataset.status)) reload();
  });
})();
