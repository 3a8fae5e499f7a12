// Conversa agents' UI: the live connection, the composer and keyboard shortcuts.
// Server-rendered HTML does the rest (htmx); this file only reacts to realtime frames by asking the
// server for the fragments that changed, so the browser never renders data the server did not.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("ui-config").textContent);
  const strings = JSON.parse(document.getElementById("ui-strings").textContent || "{}");
  const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value ||
    (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const format = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
  const assignees = new Map(); // conversation id → assignee id, as the last frame told
  let socket = null;
  let token = null;
  let retry = 0;
  let subscribed = null;
  let viewersText = { id: null, text: "" }; // survives the header's live refreshes

  // --- fragments --------------------------------------------------------------------------------

  async function fragment(url, target) {
    const headers = { "HX-Request": "true" };
    if (target) headers["HX-Target"] = target;
    const response = await fetch(url, { headers, credentials: "same-origin" });
    if (response.status === 204 && response.headers.get("HX-Redirect")) {
      window.location = response.headers.get("HX-Redirect");
      return null;
    }
    if (!response.ok) return null;
    return response.text();
  }

  function toElement(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function openConversationId() {
    const pane = document.getElementById("conversation");
    return pane ? Number(pane.dataset.id) : null;
  }

  function listElement() {
    return document.getElementById("conversation-list");
  }

  // --- inbox list and counts --------------------------------------------------------------------

  async function refreshRow(id) {
    const list = listElement();
    if (!list) return;
    const html = await fragment(`/app/c/${id}/row/?${list.dataset.filters || ""}`);
    if (html === null) return;
    const current = document.getElementById(`row-${id}`);
    const rows = document.getElementById("conversation-rows");
    if (!html.trim()) {
      if (current) current.remove();
    } else {
      const row = toElement(html);
      // The row keeps the agent's pick, which may be ahead of the open pane (its request in flight).
      const selected = current ? current.classList.contains("selected") : id === openConversationId();
      if (selected) row.classList.add("selected");
      if (current) current.remove();
      // Newest activity first, then the highest id, as the server orders them: the row goes before
      // the first one that comes after it (equal activity alone must not move it up).
      const activity = Number(row.dataset.activity);
      const after = [...rows.querySelectorAll(".conversation-row")].find((r) => {
        const other = Number(r.dataset.activity);
        return other < activity || (other === activity && Number(r.dataset.id) < id);
      });
      rows.insertBefore(row, after || rows.querySelector(".load-more"));
      htmx.process(row);
    }
    const empty = list.querySelector(".empty-list");
    if (empty) empty.hidden = rows.querySelector(".conversation-row") !== null;
  }

  function catchUp() {
    const list = listElement();
    if (list) htmx.ajax("GET", `/app/?${list.dataset.filters || ""}`, { target: "#conversation-list", swap: "outerHTML" });
    refreshCounts();
  }

  // Frames published between the page's render and its socket's first subscription reach nobody:
  // if the counts moved meanwhile (a customer wrote in that second), read the list again.
  async function catchUpIfMoved() {
    if (!listElement()) return;
    const response = await fetch("/app/counts/", { credentials: "same-origin" });
    if (!response.ok) return;
    const counts = await response.json();
    const shown = (selector) => document.querySelector(selector)?.textContent.trim();
    const moved = Object.entries(counts).some(([tab, value]) =>
      [[`[data-count="${tab}"]`, value.count], [`[data-unread="${tab}"]`, value.unread]]
        .some(([selector, now]) => shown(selector) !== undefined && shown(selector) !== String(now)));
    if (moved) catchUp();
  }

  let countsTimer = null;
  function refreshCounts() {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(async () => {
      const response = await fetch("/app/counts/", { credentials: "same-origin" });
      if (!response.ok) return;
      const counts = await response.json();
      for (const [tab, value] of Object.entries(counts)) {
        const count = document.querySelector(`[data-count="${tab}"]`);
        const unread = document.querySelector(`[data-unread="${tab}"]`);
        if (count) count.textContent = value.count;
        // The number only: the badge's word ("unread") stays as rendered.
        if (unread) { unread.textContent = value.unread; unread.closest(".badge").hidden = !value.unread; }
      }
    }, 150);
  }

  // --- the open conversation --------------------------------------------------------------------

  function addDaySeparator(timeline, element) {
    const day = element.dataset.day;
    const items = [...timeline.querySelectorAll("[data-day]")];
    const last = items[items.length - 1];
    if (day && (!last || last.dataset.day !== day)) {
      const separator = document.createElement("li");
      separator.className = "day-separator";
      separator.dataset.day = day;
      separator.innerHTML = `<span>${new Date(day + "T12:00:00").toLocaleDateString(document.documentElement.lang)}</span>`;
      timeline.appendChild(separator);
    }
  }

  function placeItem(element) {
    const timeline = document.getElementById("timeline");
    if (!timeline || !element) return;
    const existing = document.getElementById(element.id);
    if (existing) {
      existing.replaceWith(element);
    } else {
      const nearBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 120;
      addDaySeparator(timeline, element);
      timeline.appendChild(element);
      if (nearBottom) timeline.scrollTop = timeline.scrollHeight;
    }
    htmx.process(element);
  }

  async function refreshItem(conversationId, kind, id) {
    const html = await fragment(`/app/c/${conversationId}/item/${kind}/${id}/`);
    if (html && html.trim()) placeItem(toElement(html));
  }

  async function refreshHeader(conversationId) {
    const html = await fragment(`/app/c/${conversationId}/head/`);
    const now = document.getElementById("conversation-head");
    if (!html || !now || openConversationId() !== conversationId) return;
    const next = toElement(html);
    now.replaceWith(next);
    htmx.process(next);
    const viewersElement = document.getElementById("viewers");
    if (viewersElement && viewersText.id === conversationId) viewersElement.textContent = viewersText.text;
  }

  async function refreshNewer(conversationId) {
    const stamps = [...document.querySelectorAll("#timeline [data-ts]")].map((item) => Number(item.dataset.ts));
    const after = stamps.length ? Math.max(...stamps) : 0;
    const html = await fragment(`/app/c/${conversationId}/newer/?after=${after}`);
    if (!html || openConversationId() !== conversationId) return;
    const box = toElement(`<ol>${html}</ol>`);
    [...box.children].forEach((element) => { if (element.id) placeItem(element); });
  }

  function subscribe() {
    const id = openConversationId();
    if (!socket || socket.readyState !== WebSocket.OPEN || !socket.ready) return;
    if (subscribed && subscribed !== id) socket.send(JSON.stringify({ type: "unsubscribe", topic: "conversation", id: subscribed }));
    if (id && subscribed !== id) socket.send(JSON.stringify({ type: "subscribe", topic: "conversation", id }));
    subscribed = id;
  }

  // --- realtime ---------------------------------------------------------------------------------

  function setConnection(state) {
    const element = document.getElementById("connection");
    if (!element) return;
    element.dataset.state = state;
    const label = element.querySelector("[data-live-label]");
    if (label) label.textContent = strings[state] || state;
    element.title = strings[state] || state;
  }

  async function fetchToken() {
    const response = await fetch(config.tokenUrl, { credentials: "same-origin" });
    if (response.status === 401 || response.redirected) { window.location = "/app/login/"; return null; }
    if (!response.ok) return null;
    return (await response.json()).token;
  }

  async function connect() {
    setConnection(retry ? "offline" : "connecting");
    token = await fetchToken().catch(() => null);
    if (!token) return scheduleReconnect();
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/v1/`);
    socket.ready = false;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token })));
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      socket = null;
      subscribed = null;
      if (event.code === 4402) { window.location.reload(); return; }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    setConnection("offline");
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, 500 * 2 ** retry * (0.5 + Math.random()));
  }

  const handlers = {
    ready() {
      const missed = retry > 0;
      retry = 0;
      socket.ready = true;
      setConnection("connected");
      document.body.dataset.live = "true";
      subscribe();
      if (missed) catchUp(); // frames were lost while offline
      else catchUpIfMoved();
    },
    "message.created"(data) {
      // The frame carries its conversation's row: the list, the counts and the open pane follow it.
      if (data.conversation) onConversation(data.conversation);
      if (data.conversation_id === openConversationId()) refreshItem(data.conversation_id, "m", data.id);
      if (data.direction === "inbound" && assignees.get(data.conversation_id) === config.userId) {
        notifyDesktop(strings.newMessage, data.text || "", `/app/c/${data.conversation_id}/`);
      }
    },
    "message.updated"(data) {
      if (data.conversation_id === openConversationId()) refreshItem(data.conversation_id, "m", data.id);
    },
    "conversation.created": onConversation,
    "conversation.updated": onConversation,
    "conversation.status_changed": onConversation,
    "conversation.assigned"(data) {
      onConversation(data);
      if (data.assignee_id === config.userId && data.id !== openConversationId()) {
        notifyDesktop(strings.newMessage, "", `/app/c/${data.id}/`);
      }
    },
    "presence.updated"(data) {
      if (!data.viewers || data.conversation_id !== openConversationId()) return;
      const element = document.getElementById("viewers");
      if (!element) return;
      const others = data.viewers.filter((viewer) => viewer.user_id !== config.userId).map((viewer) => viewer.name);
      viewersText = { id: data.conversation_id, text: others.length ? format(strings.viewing, { names: others.join(", ") }) : "" };
      element.textContent = viewersText.text;
    },
    "typing.started"(data) { showTyping(data, true); },
    "typing.stopped"(data) { showTyping(data, false); },
    "media.scanned"(data) {
      Conversa.mediaScanned(data);
      document.querySelectorAll(`#timeline [data-media-id="${data.id}"]`).forEach((element) => {
        refreshItem(openConversationId(), "m", element.dataset.messageId);
      });
    },
    "team_chat.message.created"(data) {
      // The team chat page keeps this badge itself (it knows which room is open and read).
      if (document.getElementById("team-chat") || data.held || (data.author && data.author.id === config.userId)) return;
      const badge = document.getElementById("team-chat-badge");
      if (badge) { badge.textContent = Number(badge.textContent || 0) + 1; badge.hidden = false; }
    },
    "notification.created"(data) {
      const badge = document.getElementById("notifications-badge");
      if (badge) { badge.textContent = Number(badge.textContent || 0) + 1; badge.hidden = false; }
      const conversationId = data.data && Number(data.data.conversation_id);
      const roomId = data.data && Number(data.data.room_id); // a mention in the team chat
      notifyDesktop(data.title || strings.newMessage, data.body || "",
        conversationId ? `/app/c/${conversationId}/` : roomId ? `/app/team-chat/?room=${roomId}` : "/app/");
    },
  };

  function onConversation(data) {
    const id = data.id;
    if ("assignee_id" in data) assignees.set(id, data.assignee_id);
    refreshRow(id);
    refreshCounts();
    if (id === openConversationId()) { refreshHeader(id); refreshNewer(id); }
  }

  function onFrame(frame) {
    const handler = handlers[frame.type];
    if (handler) handler(frame.data || {});
    // Page scripts (imports.js) follow the frames they care about without a handler here.
    document.dispatchEvent(new CustomEvent("conversa:frame", { detail: frame }));
  }

  let typingTimer = null;
  function showTyping(data, on) {
    if (data.conversation_id !== openConversationId()) return;
    const element = document.getElementById("typing");
    if (!element) return;
    element.textContent = format(strings.typing, { name: data.name || strings.someone });
    element.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => { element.hidden = true; }, 6000);
  }

  let lastTypingSent = 0;
  function sendTyping(state) {
    const id = openConversationId();
    if (!socket || !socket.ready || !id) return;
    const now = Date.now();
    if (state === "started" && now - lastTypingSent < 3000) return;
    lastTypingSent = state === "started" ? now : 0;
    socket.send(JSON.stringify({ type: "typing", conversation_id: id, state }));
  }

  // --- desktop notifications --------------------------------------------------------------------

  let audio = null;
  function chime() {
    // A short two-note chime from an oscillator: no sound file to ship.
    try {
      audio = audio || new AudioContext();
      [660, 880].forEach((frequency, index) => {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        const start = audio.currentTime + index * 0.15;
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.15, start);
        gain.gain.exponentialRampToValueAtTime(0.001, start + 0.14);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(start);
        oscillator.stop(start + 0.15);
      });
    } catch (error) { /* no audio device: the notification alone will do */ }
  }

  function notifyDesktop(title, body, url) {
    if (!document.hidden) return;
    chime();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const notification = new Notification(title, { body: body.slice(0, 140), tag: url });
    notification.onclick = () => { window.focus(); window.location = url; };
  }

  function askNotificationPermission() {
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  }

  // --- composer ---------------------------------------------------------------------------------

  const Conversa = (window.Conversa = {
    // Page scripts (teamchat.js) send their own frames (a room's subscription, typing) on this
    // socket; false while it is not signed in (they send again on the next `ready` frame).
    send(frame) {
      if (!socket || socket.readyState !== WebSocket.OPEN || !socket.ready) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
    composerSent(form) {
      form.reset();
      form.querySelector("[name=reply_to]").value = "";
      form.querySelector("[name=media_id]").value = "";
      form.querySelector(".reply-preview").hidden = true;
      form.querySelector(".attachment").hidden = true;
      form.classList.remove("note-mode");
      sendTyping("stopped");
      const timeline = document.getElementById("timeline");
      if (timeline) timeline.scrollTop = timeline.scrollHeight;
    },
    mediaScanned(data) {
      const form = document.getElementById("composer-form");
      if (!form || form.querySelector("[name=media_id]").value !== String(data.id)) return;
      const state = form.querySelector(".attachment-state");
      state.textContent = strings[data.status] || data.status;
      state.dataset.state = data.status;
      if (data.status !== "clean") form.querySelector("[name=media_id]").value = "";
    },
  });

  // The composer resets after a send here rather than in an hx-on attribute: that would be inline
  // script, which the Content-Security-Policy refuses (and htmx would need eval to run it).
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (form && form.id === "composer-form" && event.detail.successful &&
        !event.detail.xhr.getResponseHeader("HX-Retarget")) {
      Conversa.composerSent(form);
    }
  });

  function upload(input) {
    const form = input.closest("form");
    const file = input.files[0];
    if (!form || !file) return;
    const box = form.querySelector(".attachment");
    const progress = box.querySelector("progress");
    const state = box.querySelector(".attachment-state");
    box.hidden = false;
    box.querySelector(".attachment-name").textContent = file.name;
    progress.value = 0;
    state.textContent = "";
    state.dataset.state = "uploading";
    const body = new FormData();
    body.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v1/media");
    request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.upload.onprogress = (event) => { if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total; };
    request.onload = () => {
      input.value = "";
      let payload = {};
      try { payload = JSON.parse(request.responseText); } catch (error) { /* not JSON: a proxy error */ }
      if (request.status !== 201) {
        state.dataset.state = "failed";
        state.textContent = `${strings.uploadFailed}: ${(payload.error && payload.error.message) || request.status}`;
        return;
      }
      progress.value = 100;
      form.querySelector("[name=media_id]").value = payload.id;
      state.dataset.state = payload.status;
      state.textContent = strings[payload.status] || payload.status;
      if (payload.status !== "scanning") Conversa.mediaScanned(payload);
    };
    request.onerror = () => { state.dataset.state = "failed"; state.textContent = strings.uploadFailed; };
    request.send(body);
  }

  function quickReplies(textarea) {
    const list = document.getElementById("quick-replies");
    if (!list) return;
    const match = textarea.value.match(/^\/(\S*)$/);
    if (!match) { list.hidden = true; return; }
    let shown = 0;
    list.querySelectorAll("li").forEach((item) => {
      const visible = item.dataset.shortcut.startsWith(match[1]);
      item.hidden = !visible;
      item.classList.toggle("active", visible && shown === 0);
      if (visible) shown += 1;
    });
    list.hidden = shown === 0;
  }

  function pickQuickReply(item) {
    const textarea = document.getElementById("composer-text");
    textarea.value = item.dataset.content;
    document.getElementById("quick-replies").hidden = true;
    textarea.focus();
  }

  function moveQuickReply(step) {
    const items = [...document.querySelectorAll("#quick-replies li:not([hidden])")];
    const index = items.findIndex((item) => item.classList.contains("active"));
    items.forEach((item) => item.classList.remove("active"));
    const next = items[(index + step + items.length) % items.length];
    if (next) next.classList.add("active");
  }

  function renderTemplateVariables(select) {
    const form = select.closest("form");
    const option = select.selectedOptions[0];
    const box = form.querySelector("[data-template-variables]");
    const preview = form.querySelector("[data-template-preview]");
    const count = Number(option ? option.dataset.variables : 0);
    box.innerHTML = "";
    for (let index = 1; index <= count; index += 1) {
      const label = document.createElement("label");
      label.htmlFor = `template-var-${index}`;
      label.textContent = `{{${index}}}`;
      const input = document.createElement("input");
      input.id = `template-var-${index}`;
      input.name = `var${index}`;
      input.required = true;
      box.append(label, input);
    }
    if (preview) preview.textContent = option ? option.dataset.body : "";
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.id === "composer-text") {
      const list = document.getElementById("quick-replies");
      if (list && !list.hidden) {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") { event.preventDefault(); moveQuickReply(event.key === "ArrowDown" ? 1 : -1); return; }
        if (event.key === "Enter" || event.key === "Tab") {
          const active = list.querySelector("li.active:not([hidden])");
          if (active) { event.preventDefault(); pickQuickReply(active); return; }
        }
        if (event.key === "Escape") { list.hidden = true; return; }
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (target.value.trim() || target.form.querySelector("[name=media_id]").value) target.form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable) return;
    if (event.key === "j" || event.key === "k") {
      const rows = [...document.querySelectorAll(".conversation-row a")];
      if (!rows.length) return;
      const index = rows.findIndex((link) => link.closest(".conversation-row").classList.contains("selected"));
      const next = rows[Math.max(0, Math.min(rows.length - 1, index + (event.key === "j" ? 1 : -1)))];
      if (next) { event.preventDefault(); next.click(); next.focus(); }
    } else if (event.key === "a") {
      const button = document.querySelector('#conversation button[data-shortcut="a"]');
      if (button) { event.preventDefault(); button.click(); }
    } else if (event.key === "e") {
      const menu = document.getElementById("close-menu");
      if (menu) { event.preventDefault(); menu.open = true; menu.querySelector("input, select").focus(); }
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.id === "composer-text") {
      quickReplies(event.target);
      if (event.target.value) sendTyping("started");
    }
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-upload]")) upload(target);
    if (target.matches("[data-template-select]")) renderTemplateVariables(target);
    if (target.name === "mode" && target.form && target.form.id === "composer-form") {
      target.form.classList.toggle("note-mode", target.value === "note");
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target;
    const reply = target.closest("[data-reply-to]");
    if (reply) {
      const form = document.getElementById("composer-form");
      if (!form) return;
      form.querySelector("[name=reply_to]").value = reply.dataset.replyTo;
      const preview = form.querySelector(".reply-preview");
      preview.querySelector("span").textContent = format(strings.replyingTo, { text: reply.dataset.replyText });
      preview.hidden = false;
      document.getElementById("composer-text").focus();
      return;
    }
    if (target.closest("[data-cancel-reply]")) {
      const form = target.closest("form");
      form.querySelector("[name=reply_to]").value = "";
      form.querySelector(".reply-preview").hidden = true;
    }
    if (target.closest("[data-cancel-attachment]")) {
      const form = target.closest("form");
      form.querySelector("[name=media_id]").value = "";
      form.querySelector(".attachment").hidden = true;
    }
    const item = target.closest("#quick-replies li");
    if (item) pickQuickReply(item);
    const toggle = target.closest("[data-toggle]");
    if (toggle) {
      const panel = document.getElementById(toggle.dataset.toggle);
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) document.getElementById("notifications-badge").hidden = true;
    }
    const row = target.closest(".conversation-row");
    if (row) {
      document.querySelectorAll(".conversation-row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
    }
    askNotificationPermission();
  });

  // --- the "New conversation" dialog -------------------------------------------------------------

  async function openNewConversation(opener) {
    const dialog = document.getElementById("new-conversation-dialog");
    if (!dialog) return;
    const params = new URLSearchParams();
    if (opener.dataset.contactId) params.set("contact_id", opener.dataset.contactId);
    const html = await fragment(`/app/new/?${params}`);
    if (html === null) return;
    const body = dialog.querySelector(".dialog-body");
    body.innerHTML = html;
    htmx.process(body);
    renderStartPreview();
    dialog.showModal();
    const first = body.querySelector("#new-contact-q, #new-template, #new-var1");
    if (first) first.focus();
  }

  // The template's text with the variables typed so far; the ones still empty keep their {{n}}.
  function renderStartPreview() {
    const preview = document.getElementById("new-template-preview");
    if (!preview) return;
    const form = preview.closest("form");
    preview.textContent = preview.dataset.body.replace(/\{\{(\d+)\}\}/g, (whole, index) => {
      const input = form.querySelector(`[data-variable="${index}"]`);
      return input && input.value.trim() ? input.value : whole;
    });
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches("#new-conversation-form [data-variable]")) renderStartPreview();
  });

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-new-conversation]");
    if (opener) { event.preventDefault(); openNewConversation(opener); return; }
    if (event.target.closest("[data-close-dialog]")) {
      const dialog = event.target.closest("dialog");
      if (dialog) dialog.close();
    }
  });

  document.body.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRFToken"] = csrf();
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (document.getElementById("new-template-preview")) renderStartPreview();
    if (target.id === "conversation-pane") {
      document.querySelector("main").classList.add("has-conversation");
      const timeline = document.getElementById("timeline");
      if (timeline) timeline.scrollTop = timeline.scrollHeight;
      const select = document.querySelector("[data-template-select]");
      if (select) renderTemplateVariables(select);
      subscribe();
    }
  });

  // A live refresh may place the agent's own message before the composer's answer arrives: that
  // item is at least as fresh, so the answer must not add it a second time.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id !== "timeline" || !event.detail.serverResponse) return;
    const element = toElement(event.detail.serverResponse);
    if (element && element.id && document.getElementById(element.id)) event.detail.shouldSwap = false;
  });

  // Older messages arrive above what the agent is reading: keep their place.
  let heightBefore = 0;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.classList.contains("load-older")) heightBefore = document.getElementById("timeline").scrollHeight;
  });
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (heightBefore && event.detail.target && !document.body.contains(event.detail.target)) {
      const timeline = document.getElementById("timeline");
      timeline.scrollTop += timeline.scrollHeight - heightBefore;
      heightBefore = 0;
    }
  });

  // htmx swaps nothing for a refused request (a rate limit, a lost right, a server error) or one
  // that never left: without a word the agent would think the click did nothing.
  let flashTimer = null;
  function flashError(text) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    flash.textContent = text;
    flash.className = "flash error";
    flash.setAttribute("role", "alert");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { flash.textContent = ""; flash.className = ""; flash.removeAttribute("role"); }, 8000);
  }
  document.body.addEventListener("htmx:responseError", (event) => {
    const request = event.detail.xhr;
    if (request.status === 429) {
      flashError(format(strings.tooFast, { n: request.getResponseHeader("Retry-After") || "60" }));
    } else if (request.status >= 500) {
      flashError(strings.serverError);
    } else if (request.status === 403 || request.status === 404 || request.status === 409) {
      flashError(strings.refusedAction);
    }
  });
  document.body.addEventListener("htmx:sendError", () => flashError(strings.notSent));

  window.addEventListener("popstate", () => window.location.reload());

  const timeline = document.getElementById("timeline");
  if (timeline) timeline.scrollTop = timeline.scrollHeight;
  const templateSelect = document.querySelector("[data-template-select]");
  if (templateSelect) renderTemplateVariables(templateSelect);
  document.querySelectorAll(".conversation-row").forEach((row) => {
    if (row.dataset.assignee) assignees.set(Number(row.dataset.id), Number(row.dataset.assignee));
  });
  connect();
})();
