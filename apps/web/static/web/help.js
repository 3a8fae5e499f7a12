// The help centre's feedback: helpful / not helpful and 1–5 stars, POSTed with the CSRF cookie's token.
(function () {
  "use strict";
  var box = document.getElementById("feedback");
  if (!box) return;
  var result = box.querySelector(".feedback-result");

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function send(body, group) {
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (response.ok) {
          result.textContent = data.message;
          group.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        } else {
          result.textContent = (data.error && data.error.message) || result.dataset.error;
        }
      });
    }).catch(function () { result.textContent = result.dataset.error; });
  }

  box.querySelectorAll("[data-helpful]").forEach(function (button) {
    button.addEventListener("click", function () {
      send({ helpful: button.dataset.helpful === "true" }, button.parentNode);
    });
  });
  box.querySelectorAll("[data-stars]").forEach(function (button) {
    button.addEventListener("click", function () {
      send({ stars: parseInt(button.dataset.stars, 10) }, button.parentNode);
      button.setAttribute("aria-pressed", "true");
    });
  });
})();
