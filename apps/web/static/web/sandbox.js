// The sandbox customer page: the customer's phone acknowledges the company's messages.
// A reply shown on the page is "delivered"; while the page is visible it is also "read". The server
// turns each into a sandbox status webhook, so the agent's ticks move as they would on WhatsApp.
(function () {
  "use strict";

  const acknowledged = new Set(); // "id:status" already posted from this page
  const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value ||
    (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";

  function post(url, status, ids) {
    if (!ids.length) return;
    ids.forEach((id) => acknowledged.add(`${id}:${status}`));
    const body = new URLSearchParams({ status });
    ids.forEach((id) => body.append("id", id));
    fetch(url, { method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
      .then((response) => { if (!response.ok) throw new Error(String(response.status)); })
      // Forget them, so the next refresh of the thread tries again.
      .catch(() => ids.forEach((id) => acknowledged.delete(`${id}:${status}`)));
  }

  function acknowledge() {
    const thread = document.getElementById("sandbox-thread");
    if (!thread) return;
    const visible = document.visibilityState === "visible";
    const delivered = [];
    const read = [];
    thread.querySelectorAll("[data-reply-id]").forEach((item) => {
      const id = item.dataset.replyId;
      const status = item.dataset.status;
      if (status === "sent" && !acknowledged.has(`${id}:delivered`)) delivered.push(id);
      if (visible && (status === "sent" || status === "delivered") && !acknowledged.has(`${id}:read`)) read.push(id);
    });
    post(thread.dataset.receiptsUrl, "delivered", delivered);
    post(thread.dataset.receiptsUrl, "read", read);
  }

  function scrollToEnd() {
    const thread = document.getElementById("sandbox-thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target.id === "sandbox-thread" || event.detail.target?.id === "sandbox-thread") {
      scrollToEnd();
      acknowledge();
    }
  });
  document.addEventListener("visibilitychange", acknowledge);

  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.target;
    if (form.id === "sandbox-compose" && event.detail.successful && !event.detail.xhr.getResponseHeader("HX-Retarget")) {
      form.reset();
      const error = document.getElementById("sandbox-send-error");
      if (error) error.textContent = "";
      form.querySelector("textarea").focus();
    }
  });

  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (box.matches && box.matches("#sandbox-compose textarea") && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });

  function start() {
    scrollToEnd();
    acknowledge();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
