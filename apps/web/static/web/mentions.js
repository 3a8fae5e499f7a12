// @mentions in internal notes: typing "@" and the start of a colleague's name in note mode offers
// the company's people (the composer's #mention-list); picking one inserts "@[Name](user:ID)",
// which the server stores and shows as "@Name" and which notifies that person if they may see the
// conversation. Keys are taken in the capture phase so Enter picks a name instead of sending.
(function () {
  "use strict";

  const QUERY = /(^|\s)@([^\s@[\]()]{0,30})$/;

  function list() { return document.getElementById("mention-list"); }

  function noteMode(textarea) { return textarea.form && textarea.form.classList.contains("note-mode"); }

  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }

  function update(textarea) {
    const box = list();
    if (!box) return;
    const match = noteMode(textarea) && textarea.value.slice(0, textarea.selectionStart).match(QUERY);
    if (!match) { box.hidden = true; return; }
    const wanted = fold(match[2]);
    let shown = 0;
    box.querySelectorAll("li").forEach((item) => {
      const visible = shown < 8 && fold(item.dataset.mentionName).split(/\s+/).some((word) => word.startsWith(wanted));
      item.hidden = !visible;
      item.classList.toggle("active", visible && shown === 0);
      if (visible) shown += 1;
    });
    box.hidden = shown === 0;
  }

  function pick(item) {
    const textarea = document.getElementById("composer-text");
    const caret = textarea.selectionStart;
    const before = textarea.value.slice(0, caret).replace(QUERY, (all, space) => `${space}@[${item.dataset.mentionName}](user:${item.dataset.mentionId}) `);
    textarea.value = before + textarea.value.slice(caret);
    textarea.setSelectionRange(before.length, before.length);
    list().hidden = true;
    textarea.focus();
  }

  function move(step) {
    const items = [...list().querySelectorAll("li:not([hidden])")];
    const index = items.findIndex((item) => item.classList.contains("active"));
    items.forEach((item) => item.classList.remove("active"));
    const next = items[(index + step + items.length) % items.length];
    if (next) next.classList.add("active");
  }

  document.addEventListener("input", (event) => {
    if (event.target.id === "composer-text") update(event.target);
  });

  document.addEventListener("keydown", (event) => {
    const box = list();
    if (event.target.id !== "composer-text" || !box || box.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault(); event.stopImmediatePropagation(); move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" || event.key === "Tab") {
      const active = box.querySelector("li.active:not([hidden])");
      if (active) { event.preventDefault(); event.stopImmediatePropagation(); pick(active); }
    } else if (event.key === "Escape") {
      box.hidden = true; event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", (event) => {
    const item = event.target.closest("#mention-list li");
    if (item) pick(item);
  });
})();
