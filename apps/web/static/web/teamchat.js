// Team chat page. Rooms and messages come from /api/v1/team-chat (signed with the page's access
// token, so the API's rules are the page's rules); frames arrive through app.js's socket as
// `conversa:frame` events. Every text is written with textContent: nothing a user typed is ever
// parsed as HTML.
(function () {
  "use strict";

  const root = document.getElementById("team-chat");
  if (!root) return;
  const config = JSON.parse(document.getElementById("ui-config").textContent);
  const strings = JSON.parse(document.getElementById("tc-strings").textContent);
  const colleagues = new Map(JSON.parse(document.getElementById("tc-colleagues").textContent)
    .map((person) => [person.id, person]));
  const me = config.userId;
  // This page's own socket makes its user online; no presence frame says so to the user themselves.
  if (colleagues.has(me)) colleagues.get(me).online = true;
  const format = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
  const $ = (id) => document.getElementById(id);

  const rooms = new Map(); // id → room as the API returns it
  let current = null; // open room id
  let replyTo = null; // {id, name}
  let pendingMedia = null; // {id, filename, status}
  let searching = false;
  let token = null;

  // --- API --------------------------------------------------------------------------------------

  async function fetchToken() {
    const response = await fetch(config.tokenUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error("token");
    token = (await response.json()).token;
  }

  async function api(method, path, body, retried) {
    if (!token) await fetchToken();
    const headers = { Authorization: `Bearer ${token}` };
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(`/api/v1${path}`, { method, headers, body: payload });
    if (response.status === 401 && !retried) { token = null; return api(method, path, body, true); }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || strings.failed);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function complain(error) {
    const flash = $("flash");
    if (!flash) return;
    flash.textContent = error.message || strings.failed;
    setTimeout(() => { flash.textContent = ""; }, 5000);
  }

  // --- rooms ------------------------------------------------------------------------------------

  function roomTitle(room) {
    if (room.kind === "group") return room.name;
    const other = room.members.find((member) => member.id !== me) || room.members[0];
    return other ? other.name : "";
  }

  function isOnline(userId) {
    const person = colleagues.get(userId);
    return Boolean(person && person.online);
  }

  function dot(userId) {
    const element = document.createElement("span");
    element.className = "tc-dot";
    element.dataset.userId = userId;
    element.dataset.online = isOnline(userId);
    element.title = isOnline(userId) ? strings.online : strings.offline;
    return element;
  }

  function renderRooms() {
    const total = [...rooms.values()].reduce((sum, room) => sum + (room.unread_count || 0), 0);
    const navBadge = $("team-chat-badge");
    if (navBadge) { navBadge.textContent = total || ""; navBadge.hidden = !total; }
    const list = $("tc-rooms");
    list.replaceChildren();
    const sorted = [...rooms.values()].sort((a, b) =>
      (b.last_message_at || b.created_at || "").localeCompare(a.last_message_at || a.created_at || "") || b.id - a.id);
    for (const room of sorted) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tc-room-button";
      button.dataset.roomId = room.id;
      if (room.id === current) button.setAttribute("aria-current", "true");
      if (room.kind === "direct") {
        const other = room.members.find((member) => member.id !== me);
        if (other) button.append(dot(other.id));
      } else {
        const mark = document.createElement("span");
        mark.className = "tc-hash";
        mark.textContent = "#";
        button.append(mark);
      }
      const name = document.createElement("span");
      name.className = "tc-room-title";
      name.textContent = roomTitle(room);
      button.append(name);
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.dataset.unread = room.id;
      badge.textContent = room.unread_count || "";
      badge.title = `${room.unread_count} ${strings.unread}`;
      badge.hidden = !room.unread_count;
      button.append(badge);
      button.addEventListener("click", () => openRoom(room.id));
      item.append(button);
      list.append(item);
    }
  }

  async function loadRooms() {
    const page = await api("GET", "/team-chat/rooms?limit=100");
    rooms.clear();
    for (const room of page.items) rooms.set(room.id, room);
    renderRooms();
  }

  function renderRoomHead() {
    const room = rooms.get(current);
    if (!room) return;
    $("tc-room-name").textContent = roomTitle(room);
    $("tc-room-description").textContent = room.description || "";
    const members = $("tc-members");
    members.replaceChildren();
    const mine = room.members.find((member) => member.id === me);
    const owner = mine && mine.role === "owner" && room.kind === "group";
    for (const member of room.members) {
      const item = document.createElement("li");
      item.append(dot(member.id), document.createTextNode(` ${member.name}`));
      if (owner && member.id !== me) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link tc-remove";
        remove.textContent = strings.remove;
        remove.addEventListener("click", () =>
          api("DELETE", `/team-chat/rooms/${room.id}/members/${member.id}`).then(refreshRoom).catch(complain));
        item.append(" ", remove);
      }
      members.append(item);
    }
    $("tc-add-form").hidden = !owner;
    $("tc-leave").hidden = room.kind !== "group";
  }

  async function refreshRoom() {
    if (!current) return;
    const room = await api("GET", `/team-chat/rooms/${current}`);
    rooms.set(room.id, { ...room, unread_count: 0 });
    renderRoomHead();
    renderRooms();
  }

  function subscribeRoom(id) {
    return window.Conversa && window.Conversa.send({ type: "subscribe", topic: "team_chat_room", id });
  }

  async function openRoom(id) {
    if (current && current !== id && window.Conversa) {
      window.Conversa.send({ type: "unsubscribe", topic: "team_chat_room", id: current });
    }
    current = id;
    replyTo = null;
    searching = false;
    $("tc-search").value = "";
    $("tc-replying").hidden = true;
    $("tc-thread").hidden = true;
    $("tc-typing").hidden = true;
    $("tc-room").hidden = false;
    $("tc-empty").hidden = true;
    subscribeRoom(id);
    renderRoomHead();
    renderRooms();
    await loadMessages();
    markRead();
  }

  let readTimer = null;
  function markRead() {
    const room = rooms.get(current);
    if (!room) return;
    room.unread_count = 0;
    renderRooms();
    clearTimeout(readTimer);
    const id = current;
    readTimer = setTimeout(() => api("POST", `/team-chat/rooms/${id}/read`, {}).catch(() => {}), 200);
  }

  // --- messages ---------------------------------------------------------------------------------

  function time(iso) {
    const element = document.createElement("time");
    element.dateTime = iso;
    element.textContent = new Date(iso).toLocaleTimeString(document.documentElement.lang,
      { hour: "2-digit", minute: "2-digit" });
    return element;
  }

  function mediaElement(media, held) {
    const box = document.createElement("div");
    box.className = "tc-media";
    if (media.status === "clean" && media.download_url) {
      if (media.thumbnail_url) {
        const image = document.createElement("img");
        image.src = media.thumbnail_url;
        image.alt = media.filename;
        box.append(image);
      }
      const link = document.createElement("a");
      link.href = media.download_url;
      link.textContent = `${strings.download} ${media.filename}`;
      box.append(link);
    } else {
      const state = document.createElement("span");
      state.className = "tc-media-state";
      state.dataset.state = media.status;
      state.textContent = strings[media.status] || (held ? strings.scanning : media.status);
      box.append(media.filename, " — ", state);
    }
    return box;
  }

  function messageElement(message, inThread) {
    const item = document.createElement("li");
    item.className = "tc-message";
    item.id = `${inThread ? "tc-t" : "tc-m"}-${message.id}`;
    item.dataset.messageId = message.id;
    if (message.author && message.author.id === me) item.classList.add("mine");
    if (message.held) item.classList.add("held");
    const head = document.createElement("div");
    head.className = "tc-message-head";
    const author = document.createElement("strong");
    author.textContent = message.author ? message.author.name : "";
    head.append(author, " ", time(message.created_at));
    if (message.edited_at && !message.deleted) {
      const edited = document.createElement("span");
      edited.className = "tc-edited";
      edited.textContent = `(${strings.edited})`;
      head.append(" ", edited);
    }
    item.append(head);
    if (message.reply_to) {
      const quote = document.createElement("blockquote");
      quote.className = "quoted";
      quote.textContent = `${message.reply_to.author ? message.reply_to.author.name : ""}: ` +
        (message.reply_to.deleted ? strings.messageDeleted : message.reply_to.text);
      item.append(quote);
    }
    const text = document.createElement("p");
    text.className = "tc-text";
    if (message.deleted) {
      text.classList.add("tc-deleted");
      text.textContent = strings.messageDeleted;
    } else {
      text.textContent = message.text;
    }
    item.append(text);
    if (message.media) item.append(mediaElement(message.media, message.held));
    if (!message.deleted) item.append(actions(message, inThread));
    return item;
  }

  function actionButton(label, name, handler) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.dataset.action = name;
    button.textContent = label;
    button.addEventListener("click", handler);
    return button;
  }

  function actions(message, inThread) {
    const bar = document.createElement("div");
    bar.className = "tc-actions";
    if (!message.held) {
      bar.append(actionButton(strings.reply, "reply", () => startReply(message)));
      if (!inThread && !message.reply_to) {
        const button = actionButton(strings.thread, "thread", () => openThread(message.id));
        showReplyCount(button, message.reply_count || 0);
        bar.append(button);
      }
    }
    if (message.author && message.author.id === me) {
      bar.append(actionButton(strings.edit, "edit", () => startEdit(message)));
      bar.append(actionButton(strings.delete, "delete", () => {
        if (window.confirm(strings.confirmDelete)) {
          api("DELETE", `/team-chat/rooms/${message.room_id}/messages/${message.id}`).then(place).catch(complain);
        }
      }));
    }
    return bar;
  }

  function showReplyCount(button, count) {
    button.dataset.count = count;
    button.textContent = count ? format(strings.replies, { count }) : strings.thread;
  }

  function place(message) {
    if (message.room_id !== current) return;
    if (message.reply_to && !document.getElementById(`tc-m-${message.id}`)) {
      // A new reply: its root's thread link counts it (frames carry no counts).
      const root = document.querySelector(`#tc-m-${message.reply_to.id} [data-action=thread]`);
      if (root) showReplyCount(root, Number(root.dataset.count || 0) + 1);
    }
    for (const [prefix, listId] of [["tc-m", "tc-messages"], ["tc-t", "tc-thread-messages"]]) {
      const existing = document.getElementById(`${prefix}-${message.id}`);
      if (existing) existing.replaceWith(messageElement(message, prefix === "tc-t"));
      else if (prefix === "tc-m" && !searching) append($(listId), messageElement(message, false));
    }
    const thread = $("tc-thread");
    if (!thread.hidden && message.reply_to && Number(thread.dataset.root) === message.reply_to.id &&
        !document.getElementById(`tc-t-${message.id}`)) {
      append($("tc-thread-messages"), messageElement(message, true));
    }
  }

  function append(list, element) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 160;
    const later = [...list.children].find((child) => child.dataset.messageId &&
      Number(child.dataset.messageId) > Number(element.dataset.messageId));
    list.insertBefore(element, later || null);
    list.querySelector(".tc-none")?.remove();
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  function fill(list, messages, emptyText) {
    list.replaceChildren(...messages.map((message) => messageElement(message, list.id === "tc-thread-messages")));
    if (!messages.length) {
      const none = document.createElement("li");
      none.className = "tc-none";
      none.textContent = emptyText;
      list.append(none);
    }
    list.scrollTop = list.scrollHeight;
  }

  async function loadMessages(query) {
    const id = current;
    const search = query ? `&q=${encodeURIComponent(query)}` : "";
    const page = await api("GET", `/team-chat/rooms/${id}/messages?limit=50${search}`);
    if (id !== current) return;
    fill($("tc-messages"), page.items.reverse(), query ? strings.noResults : strings.noMessages);
    olderButton(page.next_cursor, search);
  }

  function olderButton(cursor, search) {
    const list = $("tc-messages");
    list.querySelector(".tc-older")?.remove();
    if (!cursor) return;
    const item = document.createElement("li");
    item.className = "tc-older";
    const id = current;
    item.append(actionButton(strings.older, "older", async () => {
      const page = await api("GET", `/team-chat/rooms/${id}/messages?limit=50${search}&cursor=${encodeURIComponent(cursor)}`)
        .catch(complain);
      if (!page || id !== current) return;
      const height = list.scrollHeight;
      item.remove();
      list.prepend(...page.items.reverse().map((message) => messageElement(message, false)));
      list.scrollTop += list.scrollHeight - height; // the message in view stays in view
      olderButton(page.next_cursor, search);
    }));
    list.prepend(item);
  }

  async function openThread(rootId) {
    const page = await api("GET", `/team-chat/rooms/${current}/messages?limit=100&thread=${rootId}`);
    const thread = $("tc-thread");
    thread.dataset.root = rootId;
    thread.hidden = false;
    fill($("tc-thread-messages"), page.items.reverse(), "");
  }

  function startReply(message) {
    replyTo = { id: message.id, name: message.author ? message.author.name : "" };
    const box = $("tc-replying");
    box.querySelector("span").textContent = format(strings.replyingTo, { name: replyTo.name });
    box.hidden = false;
    $("tc-text").focus();
  }

  function startEdit(message) {
    const item = document.getElementById(`tc-m-${message.id}`) || document.getElementById(`tc-t-${message.id}`);
    if (!item) return;
    const form = document.createElement("form");
    form.className = "tc-edit";
    const area = document.createElement("textarea");
    area.value = message.text;
    area.maxLength = 4096;
    area.setAttribute("aria-label", strings.edit);
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button primary";
    save.textContent = strings.save;
    const cancel = actionButton(strings.cancel, "cancel", () => form.replaceWith(textOf(message)));
    form.append(area, save, cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      api("PATCH", `/team-chat/rooms/${message.room_id}/messages/${message.id}`, { text: area.value })
        .then(place).catch(complain);
    });
    item.querySelector(".tc-text").replaceWith(form);
    area.focus();
  }

  function textOf(message) {
    const text = document.createElement("p");
    text.className = "tc-text";
    text.textContent = message.text;
    return text;
  }

  // --- composer: send, upload, typing, mentions -------------------------------------------------

  let lastTyping = 0;
  function typing(state) {
    if (!current || !window.Conversa) return;
    const now = Date.now();
    if (state === "started" && now - lastTyping < 3000) return;
    lastTyping = state === "started" ? now : 0;
    window.Conversa.send({ type: "typing", room_id: current, state });
  }

  async function send(event) {
    event.preventDefault();
    const area = $("tc-text");
    const text = area.value;
    if (!text.trim() && !pendingMedia) return;
    const body = { text: text.trim() ? text : null };
    if (pendingMedia) body.media_id = pendingMedia.id;
    if (replyTo) body.reply_to = replyTo.id;
    try {
      const message = await api("POST", `/team-chat/rooms/${current}/messages`, body);
      area.value = "";
      replyTo = null;
      pendingMedia = null;
      $("tc-replying").hidden = true;
      $("tc-attachment").hidden = true;
      typing("stopped");
      place(message);
      const room = rooms.get(current);
      if (room) { room.last_message_at = message.created_at; renderRooms(); }
    } catch (error) { complain(error); }
  }

  async function upload() {
    const input = $("tc-file");
    if (!input.files.length) return;
    const data = new FormData();
    data.append("file", input.files[0]);
    input.value = "";
    try {
      const media = await api("POST", "/media", data);
      pendingMedia = { id: media.id, filename: media.filename, status: media.status };
      showAttachment();
    } catch (error) { complain(error); }
  }

  function showAttachment() {
    const box = $("tc-attachment");
    box.textContent = `${pendingMedia.filename} — ${strings[pendingMedia.status] || pendingMedia.status}`;
    box.dataset.state = pendingMedia.status;
    box.hidden = false;
  }

  function mentionQuery() {
    const area = $("tc-text");
    const before = area.value.slice(0, area.selectionStart);
    const match = before.match(/(?:^|\s)@([^\s@]*)$/);
    return match ? match[1] : null;
  }

  function showMentions() {
    const list = $("tc-mentions");
    const query = mentionQuery();
    const room = rooms.get(current);
    list.replaceChildren();
    if (query === null || !room) { list.hidden = true; return; }
    const matches = room.members.filter((member) => member.id !== me &&
      member.name.toLowerCase().includes(query.toLowerCase())).slice(0, 8);
    for (const [index, member] of matches.entries()) {
      const option = document.createElement("li");
      option.role = "option";
      option.dataset.name = member.name;
      option.setAttribute("aria-selected", index === 0 ? "true" : "false");
      option.append(dot(member.id), document.createTextNode(` ${member.name}`));
      option.addEventListener("mousedown", (event) => { event.preventDefault(); insertMention(member.name); });
      list.append(option);
    }
    list.hidden = !matches.length;
  }

  function insertMention(name) {
    const area = $("tc-text");
    const caret = area.selectionStart;
    const before = area.value.slice(0, caret).replace(/@([^\s@]*)$/, `@${name} `);
    area.value = before + area.value.slice(caret);
    area.selectionStart = area.selectionEnd = before.length;
    $("tc-mentions").hidden = true;
    area.focus();
  }

  function onComposerKey(event) {
    const list = $("tc-mentions");
    if (!list.hidden && (event.key === "Enter" || event.key === "Tab")) {
      const chosen = list.querySelector("[aria-selected=true]");
      if (chosen) { event.preventDefault(); insertMention(chosen.dataset.name); return; }
    }
    if (!list.hidden && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const options = [...list.children];
      const at = options.findIndex((option) => option.getAttribute("aria-selected") === "true");
      const next = (at + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options.forEach((option, index) => option.setAttribute("aria-selected", index === next ? "true" : "false"));
      return;
    }
    if (event.key === "Escape") list.hidden = true;
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("tc-composer").requestSubmit(); }
  }

  // --- frames -----------------------------------------------------------------------------------

  let typingTimer = null;
  const handlers = {
    ready() { if (current) subscribeRoom(current); },
    "team_chat.message.created"(data) {
      const room = rooms.get(data.room_id);
      if (!room) { loadRooms().catch(() => {}); return; }
      if (!data.held) room.last_message_at = data.created_at;
      const mine = data.author && data.author.id === me;
      if (data.room_id === current) {
        place(data);
        if (!mine && !data.held && !document.hidden) markRead();
        else if (!mine && !data.held) room.unread_count += 1;
        if (data.author) $("tc-typing").hidden = true;
      } else if (!mine && !data.held) {
        room.unread_count += 1;
      }
      renderRooms();
    },
    "team_chat.message.updated"(data) { place(data); },
    "team_chat.message.deleted"(data) { place(data); },
    "team_chat.room.updated"(data) {
      if (data.removed) {
        rooms.delete(data.id);
        if (current === data.id) {
          current = null;
          $("tc-room").hidden = true;
          $("tc-empty").hidden = false;
        }
        renderRooms();
        return;
      }
      // The frame names the members; their roles and this user's unread count come with the room.
      api("GET", `/team-chat/rooms/${data.id}`).then((room) => {
        if (room.id === current) room.unread_count = 0;
        rooms.set(room.id, room);
        renderRooms();
        if (room.id === current) renderRoomHead();
      }).catch(() => {});
    },
    "typing.started"(data) { showTyping(data, true); },
    "typing.stopped"(data) { showTyping(data, false); },
    "presence.updated"(data) {
      if (data.user_id === undefined) return;
      const person = colleagues.get(data.user_id);
      if (person) person.online = data.online;
      document.querySelectorAll(`#team-chat .tc-dot[data-user-id="${data.user_id}"]`).forEach((element) => {
        element.dataset.online = data.online;
        element.title = data.online ? strings.online : strings.offline;
      });
    },
    "media.scanned"(data) {
      if (pendingMedia && pendingMedia.id === data.id) {
        pendingMedia.status = data.status;
        showAttachment();
        if (data.status !== "clean") pendingMedia = null;
      }
    },
  };

  function showTyping(data, on) {
    if (data.room_id === undefined || data.room_id !== current || data.user_id === me) return;
    const element = $("tc-typing");
    element.textContent = format(strings.typingIn, { name: data.name || "" });
    element.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => { element.hidden = true; }, 6000);
  }

  document.addEventListener("conversa:frame", (event) => {
    const handler = handlers[event.detail.type];
    if (handler) handler(event.detail.data || {});
  });
  document.addEventListener("visibilitychange", () => {
    const room = rooms.get(current);
    if (!document.hidden && room && room.unread_count) markRead();
  });

  // --- forms ------------------------------------------------------------------------------------

  $("tc-composer").addEventListener("submit", send);
  $("tc-text").addEventListener("keydown", onComposerKey);
  $("tc-text").addEventListener("input", () => { typing("started"); showMentions(); });
  $("tc-text").addEventListener("blur", () => { $("tc-mentions").hidden = true; });
  $("tc-file").addEventListener("change", upload);
  $("tc-reply-cancel").addEventListener("click", () => { replyTo = null; $("tc-replying").hidden = true; });
  $("tc-thread-close").addEventListener("click", () => { $("tc-thread").hidden = true; });
  $("tc-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("tc-search").value.trim();
    searching = Boolean(query);
    loadMessages(query).catch(complain);
  });
  $("tc-search").addEventListener("search", () => {
    if (!$("tc-search").value) { searching = false; loadMessages().catch(complain); }
  });
  $("tc-direct-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const room = await api("POST", "/team-chat/direct", { user_id: Number($("tc-direct-user").value) });
      rooms.set(room.id, room);
      $("tc-new-direct").open = false;
      await openRoom(room.id);
    } catch (error) { complain(error); }
  });
  $("tc-group-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = {
      name: form.elements.name.value,
      description: form.elements.description.value,
      member_ids: [...form.querySelectorAll("[name=member_ids]:checked")].map((box) => Number(box.value)),
    };
    try {
      const room = await api("POST", "/team-chat/rooms", body);
      rooms.set(room.id, room);
      form.reset();
      $("tc-new-group").open = false;
      await openRoom(room.id);
    } catch (error) { complain(error); }
  });
  $("tc-add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    api("POST", `/team-chat/rooms/${current}/members`, { user_id: Number($("tc-add-user").value) })
      .then(refreshRoom).catch(complain);
  });
  $("tc-leave").addEventListener("click", () => {
    const id = current;
    api("POST", `/team-chat/rooms/${id}/leave`).then(() => {
      rooms.delete(id);
      current = null;
      $("tc-room").hidden = true;
      $("tc-empty").hidden = false;
      renderRooms();
    }).catch(complain);
  });

  loadRooms().then(() => {
    const wanted = Number(new URLSearchParams(window.location.search).get("room"));
    if (wanted && rooms.has(wanted)) openRoom(wanted);
  }).catch(complain);
})();
