// The composer's article picker: search published help-centre articles and insert a link to one.
(function () {
  "use strict";

  function picker() { return document.getElementById("kb-picker"); }

  function setOpen(open) {
    var panel = picker();
    var toggle = document.querySelector("[data-kb-picker-toggle]");
    if (!panel || !toggle) return;
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var input = panel.querySelector("input[type=search]");
      input.focus();
      if (window.htmx) window.htmx.trigger(input, "kb-open");
    }
  }

  function insert(url) {
    var text = document.getElementById("composer-text");
    if (!text) return;
    var start = text.selectionStart || 0;
    var end = text.selectionEnd || 0;
    var before = text.value.slice(0, start);
    var spaced = (before && !/\s$/.test(before) ? " " : "") + url + " ";
    text.value = before + spaced + text.value.slice(end);
    text.focus();
    var caret = start + spaced.length;
    text.setSelectionRange(caret, caret);
    text.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-kb-picker-toggle]");
    if (toggle) {
      setOpen(picker() && picker().hidden);
      return;
    }
    var choice = event.target.closest("[data-insert-url]");
    if (choice) {
      insert(choice.dataset.insertUrl);
      setOpen(false);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && picker() && !picker().hidden) setOpen(false);
    // Enter in the picker's search box must not send the reply.
    if (event.key === "Enter" && event.target.id === "kb-picker-q") event.preventDefault();
  });
})();
