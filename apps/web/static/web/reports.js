// The Reports page's live dashboard: `report.live` frames (app.js hands every frame over as a
// `conversa:frame` event) rewrite its numbers and the queues table without a reload. The server
// sends each reader only the figures of their own teams.
(function () {
  "use strict";

  const strings = JSON.parse((document.getElementById("report-strings") || {}).textContent || "{}");

  function fill(template, values) {
    return (template || "").replace(/%\((\w+)\)(02)?d/g, (_, name, pad) => {
      const text = String(values[name]);
      return pad ? text.padStart(2, "0") : text;
    });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    seconds = Math.round(seconds);
    if (seconds < 60) return fill(strings.s, { n: seconds });
    let minutes = Math.floor(seconds / 60);
    if (minutes < 60) return fill(strings.min, { n: minutes });
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return fill(strings.h, { h: hours, m: minutes });
    return fill(strings.d, { d: Math.floor(hours / 24), h: hours % 24 });
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`;
  }

  function set(name, value) {
    const element = document.querySelector(`#report-live [data-live="${name}"]`);
    if (element) element.textContent = value;
  }

  // Longest waits keep growing between frames (a quiet queue sends none): each row counts on from
  // the wait its last frame (or the page) gave.
  let waitsSince = Date.now();

  function tickWaits() {
    const elapsed = (Date.now() - waitsSince) / 1000;
    for (const cell of document.querySelectorAll('#live-queues [data-live-queue="wait"][data-seconds]')) {
      const seconds = Number(cell.dataset.seconds);
      if (seconds > 0) cell.textContent = duration(seconds + elapsed);
    }
  }

  function showQueues(queues) {
    const body = document.querySelector("#live-queues tbody");
    if (!body || !queues.length) return;
    const rows = queues.map((queue) => {
      const row = document.createElement("tr");
      row.dataset.team = queue.team_id === null ? "none" : String(queue.team_id);
      const name = document.createElement("td");
      name.textContent = queue.name;
      const size = document.createElement("td");
      size.className = "num";
      size.dataset.liveQueue = "size";
      size.textContent = queue.size;
      const wait = document.createElement("td");
      wait.className = "num";
      wait.dataset.liveQueue = "wait";
      wait.dataset.seconds = String(queue.longest_wait_seconds);
      wait.textContent = duration(queue.longest_wait_seconds);
      row.append(name, size, wait);
      return row;
    });
    body.replaceChildren(...rows);
    waitsSince = Date.now();
  }

  function show(data) {
    set("opened", data.conversations_today.opened);
    set("closed", data.conversations_today.closed);
    set("messages-in", data.messages_last_hour.inbound);
    set("messages-out", data.messages_last_hour.outbound);
    set("sla", percent(data.sla_today.compliance));
    for (const [status, count] of Object.entries(data.agents.by_status)) set(`agents-${status}`, count);
    showQueues(data.queues || []);
    const box = document.getElementById("report-live");
    if (box) box.dataset.updatedAt = data.at;
  }

  setInterval(tickWaits, 15000);

  document.addEventListener("conversa:frame", (event) => {
    const frame = event.detail || {};
    if (frame.type === "report.live" && document.getElementById("report-live")) show(frame.data || {});
  });
})();
