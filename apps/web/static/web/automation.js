// Settings → Automation and Macros: each condition or action row shows only the inputs of the
// type chosen in it (without this script every input shows, and the server reads only the right ones).
(function () {
  "use strict";

  function showKind(row) {
    const select = row.querySelector("[data-kind-select]");
    const kind = select ? select.value : "";
    row.querySelectorAll("[data-kind]").forEach((box) => {
      box.hidden = !box.dataset.kind.split(" ").includes(kind);
    });
  }

  function init() {
    document.querySelectorAll("[data-rule-row]").forEach(showKind);
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-kind-select]")) showKind(event.target.closest("[data-rule-row]"));
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
