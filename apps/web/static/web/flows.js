// The flow editor's tester: plays the saved draft through the simulator (nothing is sent). The
// simulator is stateless, so each answer replays every answer typed so far.
(() => {
  "use strict";
  const tester = document.getElementById("flow-tester");
  if (!tester) return;
  const strings = JSON.parse(document.getElementById("flow-tester-strings").textContent);
  const transcript = document.getElementById("flow-transcript");
  const state = document.getElementById("flow-tester-state");
  const form = document.getElementById("flow-tester-form");
  const input = document.getElementById("flow-tester-input");
  const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
  let inputs = [];

  const bubble = (line) => {
    const item = document.createElement("li");
    item.className = "sandbox-message " + (line.from === "bot" ? "outbound" : "inbound");
    item.dataset.from = line.from;
    const box = document.createElement("div");
    box.className = "bubble";
    const text = document.createElement("p");
    text.textContent = line.text;
    box.appendChild(text);
    item.appendChild(box);
    return item;
  };

  const play = async () => {
    let response;
    try {
      response = await fetch(tester.dataset.simulateUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
        body: JSON.stringify({inputs}),
      });
    } catch (error) {
      state.textContent = strings.failed;
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      state.textContent = strings.failed + " " + (body.error || response.status);
      tester.dataset.endedBy = "failed";
      return;
    }
    transcript.replaceChildren(...body.transcript.map(bubble));
    tester.dataset.endedBy = body.ended_by;
    state.textContent = strings[body.ended_by] || body.ended_by;
    input.disabled = body.ended_by !== "waiting";
    if (!input.disabled) input.focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    inputs.push(text);
    input.value = "";
    play();
  });
  document.getElementById("flow-tester-restart").addEventListener("click", () => {
    inputs = [];
    play();
  });
  play();
})();
