/* colloquy web chat.
 *
 * On any site:  <script src="https://ENGINE/widget.js" data-dialog="appointment_booking" async></script>
 *   adds a chat button at the bottom right; the chat opens in a panel inside a shadow root, so
 *   the page's styles and the widget's do not touch.
 * In a page of its own (the engine's /chat):  <script src="widget.js" data-mount="#chat" data-page>
 *   renders into that element; `?dialog=` and `?locale=` in the page's address pick the dialog.
 *
 * Everything the bot or the user says is put on the page as text (textContent), never as
 * HTML. The session id, the transcript and the messages not yet answered are kept in
 * localStorage: a reload shows the conversation again and sends what was still on its way
 * with its first message_id (the webhook answers a repeated message_id with the first answer,
 * so nothing is said twice). A code typed at an `otp_code` question is kept as •••• only.
 * Once the session exists, the widget also reads its event stream, so what this page did not
 * ask for (a message sent from another tab) shows too; it reconnects from the last event id
 * it saw, so a dropped connection loses nothing.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var base = new URL(".", script.src);
  var data = script.dataset;
  var params = new URLSearchParams(data.page !== undefined ? window.location.search : "");
  var options = {
    dialog: params.get("dialog") || data.dialog || "",
    locale: params.get("locale") || data.locale || (navigator.language || "").split("-")[0],
    title: data.title || "Chat",
    // A publishable widget key (`auth.widgets`), for engines with authentication on.
    key: params.get("key") || data.key || "",
  };
  var webhook = new URL("v1/webhook", base).href;
  var storageKey = "colloquy:" + base.href + ":" + options.dialog;

  // Kept small: the newest entries are what a returning user needs.
  var MAX_ENTRIES = 200;
  // Waits between retries of a message that did not get through, in seconds.
  var BACKOFF = [1, 2, 4, 8, 15];
  var REQUEST_TIMEOUT_MS = 30000;
  var MASK = "\u2022\u2022\u2022\u2022";

  function randomId(prefix) {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] + 0x100).toString(16).slice(1);
    }
    return prefix + hex;
  }

  // ---- state, kept in localStorage --------------------------------------------------------

  function freshState() {
    return {
      sessionId: randomId("w-"),
      turn: 0,
      expecting: null,
      entries: [],
      pending: [],
      // The last event of the session's stream seen, and the newest answers shown (an answer
      // arrives twice when the stream is open: in the stream and as the webhook's answer).
      lastEventId: "",
      shown: [],
      // What the engine gave this conversation to prove it is ours (with a widget key).
      sessionToken: "",
    };
  }

  function load() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      if (stored && typeof stored.sessionId === "string" && Array.isArray(stored.entries)) {
        stored.pending = Array.isArray(stored.pending) ? stored.pending : [];
        return stored;
      }
    } catch (e) {
      // Storage blocked or unreadable: the conversation lasts as long as the page.
    }
    return freshState();
  }

  function save() {
    if (state.entries.length > MAX_ENTRIES) {
      state.entries.splice(0, state.entries.length - MAX_ENTRIES);
      rebuildLog();
    }
    try {
      window.localStorage.setItem(storageKey, JSON.stringify(state));
    } catch (e) {
      // Full or blocked: nothing to do but go on without it.
    }
  }

  var state = load();

  // ---- DOM --------------------------------------------------------------------------------

  var uid = randomId("cq");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  var root = el("section", "cq-chat");
  root.setAttribute("aria-label", options.title);

  var header = el("header", "cq-header");
  var heading = el("h2", "cq-title", options.title);
  heading.id = uid + "-title";
  var restart = el("button", "cq-restart", "New conversation");
  restart.type = "button";
  header.appendChild(heading);
  header.appendChild(restart);

  var log = el("div", "cq-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;

  var empty = el("p", "cq-empty", "Send a message to start.");

  var typing = el("div", "cq-typing");
  typing.setAttribute("role", "status");
  var typingText = el("span", "cq-sr-only", "");
  var dots = el("span", "cq-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  typing.appendChild(dots);
  typing.appendChild(typingText);
  typing.hidden = true;

  var status = el("div", "cq-status");
  status.setAttribute("role", "status");
  var statusText = el("span", "cq-status-text");
  var retryNow = el("button", "cq-retry", "Retry now");
  retryNow.type = "button";
  status.appendChild(statusText);
  status.appendChild(retryNow);
  status.hidden = true;

  var form = el("form", "cq-form");
  var label = el("label", "cq-sr-only", "Message");
  var input = el("input", "cq-input");
  input.id = uid + "-input";
  label.htmlFor = input.id;
  input.type = "text";
  input.autocomplete = "off";
  input.placeholder = "Type a message";
  input.maxLength = 2000;
  input.setAttribute("enterkeyhint", "send");
  var sendButton = el("button", "cq-send", "Send");
  sendButton.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendButton);

  root.appendChild(header);
  root.appendChild(log);
  root.appendChild(typing);
  root.appendChild(status);
  root.appendChild(form);

  // ---- rendering --------------------------------------------------------------------------

  var rendered = 0;

  function renderEntry(entry, index) {
    if (entry.from === "note") {
      return el("p", "cq-note", entry.text);
    }
    if (entry.from === "agent") {
      // A person's message: their name shown above it, said before it to screen readers.
      var name = entry.agent || "Agent";
      var line = el("div", "cq-msg cq-agent");
      line.appendChild(el("span", "cq-agent-name", name));
      line.appendChild(el("span", "cq-sr-only", ": "));
      line.appendChild(el("span", "cq-text", entry.text));
      return line;
    }
    var bot = entry.from === "bot";
    var item = el("div", "cq-msg " + (bot ? "cq-bot" : "cq-user"));
    item.appendChild(el("span", "cq-sr-only", bot ? "Bot: " : "You: "));
    item.appendChild(el("span", "cq-text", entry.text));
    if (bot && entry.options && entry.options.length) {
      var group = el("div", "cq-choices");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", entry.text);
      entry.options.forEach(function (option) {
        var chosen = entry.chosen === option.value;
        var button = el("button", chosen ? "cq-choice cq-chosen" : "cq-choice", String(option.label));
        button.type = "button";
        button.dataset.entry = String(index);
        button.setAttribute("aria-pressed", String(chosen));
        button.addEventListener("click", function () {
          if (!button.disabled) {
            entry.chosen = option.value;
            button.classList.add("cq-chosen");
            button.setAttribute("aria-pressed", "true");
            send(String(option.value), String(option.label));
            input.focus();
          }
        });
        group.appendChild(button);
      });
      item.appendChild(group);
    }
    return item;
  }

  /** Appends the entries not on the page yet: a screen reader hears only what is new. */
  function render() {
    for (; rendered < state.entries.length; rendered++) {
      log.appendChild(renderEntry(state.entries[rendered], rendered));
    }
    empty.hidden = state.entries.length > 0;
    // Only the newest question's buttons answer it, and only while nothing is on its way.
    var last = state.entries.length - 1;
    var buttons = log.querySelectorAll(".cq-choice");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = Number(buttons[i].dataset.entry) !== last || state.pending.length > 0;
    }
    var expecting = state.expecting;
    input.inputMode = expecting === "otp_code" || expecting === "number" || expecting === "integer"
      ? "numeric"
      : expecting === "email" ? "email" : "text";
    input.autocomplete = expecting === "otp_code" ? "one-time-code"
      : expecting === "email" ? "email" : "off";
    log.scrollTop = log.scrollHeight;
  }

  function rebuildLog() {
    while (log.firstChild) {
      log.removeChild(log.firstChild);
    }
    log.appendChild(empty);
    rendered = 0;
  }

  function add(entry) {
    state.entries.push(entry);
  }

  // ---- sending ----------------------------------------------------------------------------

  var busy = false;
  var attempt = 0;
  var retryTimer = null;

  function send(text, shown) {
    if (!text.trim()) {
      return;
    }
    var secret = state.expecting === "otp_code";
    add({ from: "user", text: secret ? MASK : shown || text });
    state.pending.push({ id: randomId("m-"), text: text });
    save();
    render();
    pump();
  }

  function setTyping(on) {
    typing.hidden = !on;
    typingText.textContent = on ? "The bot is typing\u2026" : "";
  }

  function setStatus(text, canRetry) {
    status.hidden = !text;
    statusText.textContent = text || "";
    retryNow.hidden = !canRetry;
  }

  /** Sends the oldest pending message; the next one goes when it is answered. */
  function pump() {
    if (busy || state.pending.length === 0) {
      return;
    }
    busy = true;
    setTyping(true);
    if (attempt > 0) {
      setStatus("Sending again\u2026", false);
    }
    var message = state.pending[0];
    var current = state;
    post(message).then(
      function (answer) {
        busy = false;
        if (state !== current) {
          // "New conversation" was pressed meanwhile: this answer belongs to the old one.
          pump();
          return;
        }
        attempt = 0;
        setStatus("");
        state.pending.shift();
        if ((state.shown || []).indexOf(answerKey(answer)) < 0) {
          apply(answer);
        }
        save();
        render();
        setTyping(false);
        openStream();
        pump();
      },
      function (failure) {
        busy = false;
        setTyping(false);
        if (state !== current) {
          pump();
          return;
        }
        if (failure.retry) {
          var wait = failure.after || BACKOFF[Math.min(attempt, BACKOFF.length - 1)];
          attempt++;
          setStatus(failure.text + " Retrying in " + wait + " s\u2026", true);
          retryTimer = window.setTimeout(retry, wait * 1000);
        } else if (failure.code === "session_forbidden") {
          // This browser cannot prove the conversation is its own any more (its token was
          // lost): the message begins a new one instead.
          var waiting = state.pending;
          closeStream();
          state = freshState();
          state.pending = waiting;
          attempt = 0;
          setStatus("");
          add({ from: "note", text: "The earlier conversation could not be continued; this is a new one." });
          save();
          rebuildLog();
          render();
          pump();
        } else {
          // The server refused this message: say why and go on with the next one.
          state.pending.shift();
          attempt = 0;
          setStatus("");
          add({ from: "note", text: "Not sent: " + failure.text });
          save();
          render();
          pump();
        }
      }
    );
  }

  function retry() {
    if (retryTimer !== null) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
    }
    if (!busy) {
      pump();
    }
  }

  function post(message) {
    var body = { session_id: state.sessionId, message_id: message.id, text: message.text };
    if (options.dialog) {
      body.dialog = options.dialog;
    }
    if (options.locale) {
      body.locale = options.locale;
    }
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return window
      .fetch(webhook, {
        method: "POST",
        headers: credentials({ "content-type": "application/json" }),
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      })
      .then(
        function (response) {
          window.clearTimeout(timer);
          return response.json().then(
            function (json) { return { response: response, json: json }; },
            function () { return { response: response, json: null }; }
          );
        },
        function () {
          window.clearTimeout(timer);
          throw { retry: true, text: "Connection lost." };
        }
      )
      .then(function (result) {
        var response = result.response;
        if (response.ok && result.json) {
          return result.json;
        }
        var error = (result.json && result.json.error) || {};
        var transient = response.status === 408 || response.status === 429 || response.status >= 500;
        var after = parseInt(response.headers.get("retry-after") || "", 10);
        throw {
          code: String(error.code || ""),
          retry: transient,
          after: after > 0 ? Math.min(after, 60) : 0,
          text: transient ? "The chat is busy." : String(error.message || "error " + response.status),
        };
      });
  }

  /** Adds the widget key and the session's token, when there are any, to `headers`. */
  function credentials(headers) {
    if (options.key) {
      headers["x-colloquy-widget-key"] = options.key;
    }
    if (state.sessionToken) {
      headers["x-colloquy-session-token"] = state.sessionToken;
    }
    return headers;
  }

  function answerKey(answer) {
    return [answer.turn, answer.node, JSON.stringify(answer.replies || [])].join("|");
  }

  function apply(answer) {
    if (answer.session_token) {
      state.sessionToken = String(answer.session_token);
    }
    state.shown = (state.shown || []).concat([answerKey(answer)]).slice(-8);
    if (state.turn > 0 && answer.turn <= state.turn) {
      // The engine no longer knew this session (it expired): this answer begins anew.
      add({ from: "note", text: "The earlier conversation had expired; this is a new one." });
    }
    state.turn = answer.turn;
    state.expecting = answer.expecting || null;
    var withAgent = answer.with_agent === true;
    (answer.replies || []).forEach(function (reply) {
      add({
        from: "bot",
        text: String(reply.text),
        options: (reply.options || []).map(function (o) {
          return { label: String(o.label), value: String(o.value) };
        }),
      });
    });
    if (withAgent && !state.withAgent) {
      add({ from: "note", text: "You're now talking with a person." });
    }
    state.withAgent = withAgent;
    if (answer.ended) {
      add({
        from: "note",
        text: "The conversation has ended" + (answer.result ? " (" + answer.result + ")." : "."),
      });
    }
  }

  // ---- the session's event stream ---------------------------------------------------------
  // Read with fetch rather than EventSource so that the first connection can say where to go
  // on from (Last-Event-ID) too. A turn this page already shows is not shown again.

  var STREAM_PATH = "v1/sessions/";
  var stream = null;
  var streamAttempt = 0;
  var streamTimer = null;

  function openStream() {
    if (stream || streamTimer !== null || state.turn === 0 || !window.ReadableStream || !window.TextDecoder) {
      return;
    }
    var current = state;
    var controller = new AbortController();
    stream = controller;
    var headers = credentials({ accept: "text/event-stream" });
    if (current.lastEventId) {
      headers["last-event-id"] = current.lastEventId;
    }
    var url = new URL(STREAM_PATH + encodeURIComponent(current.sessionId) + "/events", base).href;
    window
      .fetch(url, { headers: headers, credentials: "omit", cache: "no-store", signal: controller.signal })
      .then(function (response) {
        if (response.status === 404 || response.status === 403) {
          return "gone";
        }
        if (!response.ok || !response.body) {
          throw new Error("event stream: " + response.status);
        }
        streamAttempt = 0;
        return readStream(response.body.getReader(), current);
      })
      .then(finish, function () { finish("failed"); });

    function finish(how) {
      if (stream === controller) {
        stream = null;
      }
      // The session is gone (a new message starts anew), or the page moved on.
      if (how === "gone" || state !== current || controller.signal.aborted) {
        return;
      }
      var wait = BACKOFF[Math.min(streamAttempt, BACKOFF.length - 1)];
      streamAttempt++;
      streamTimer = window.setTimeout(function () {
        streamTimer = null;
        openStream();
      }, wait * 1000);
    }
  }

  function closeStream() {
    if (stream) {
      stream.abort();
      stream = null;
    }
    if (streamTimer !== null) {
      window.clearTimeout(streamTimer);
      streamTimer = null;
    }
    streamAttempt = 0;
  }

  /** Reads Server-Sent Events until the stream ends; resolves to "ended". */
  function readStream(reader, current) {
    var decoder = new TextDecoder();
    var buffer = "";
    function next() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          return "ended";
        }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          onEvent(parseEvent(block), current);
        }
        return next();
      });
    }
    return next();
  }

  function parseEvent(block) {
    var event = { id: "", type: "message", data: [] };
    block.split("\n").forEach(function (line) {
      var colon = line.indexOf(":");
      if (colon <= 0) {
        return; // a comment (keep-alive) or nothing
      }
      var field = line.slice(0, colon);
      var value = line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") {
        event.id = value;
      } else if (field === "event") {
        event.type = value;
      } else if (field === "data") {
        event.data.push(value);
      }
    });
    return event;
  }

  function onEvent(event, current) {
    if (state !== current || event.data.length === 0) {
      return;
    }
    if (event.id) {
      state.lastEventId = event.id;
    }
    var data;
    try {
      data = JSON.parse(event.data.join("\n"));
    } catch (e) {
      return;
    }
    if (event.type === "turn" || event.type === "handback") {
      // Newer than what this page shows (sent from another tab, or the bot going on after
      // people handed the conversation back); this page's own answers come back through the
      // webhook as well, and a new conversation starts there.
      if (data.turn > state.turn) {
        apply(data);
      }
    } else if (event.type === "agent_message") {
      add({ from: "agent", text: String(data.text), agent: data.agent ? String(data.agent) : "" });
    } else if (event.type === "missed") {
      add({ from: "note", text: "Some earlier messages could not be shown here." });
    }
    save();
    render();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (text.trim()) {
      input.value = "";
      send(text);
    }
    input.focus();
  });

  retryNow.addEventListener("click", function () {
    retry();
    input.focus();
  });
  window.addEventListener("online", function () {
    retry();
    if (streamTimer !== null) {
      window.clearTimeout(streamTimer);
      streamTimer = null;
      openStream();
    }
  });

  restart.addEventListener("click", function () {
    closeStream();
    state = freshState();
    attempt = 0;
    if (retryTimer !== null) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
    }
    setStatus("");
    setTyping(false);
    rebuildLog();
    save();
    render();
    input.focus();
  });

  // ---- mounting ---------------------------------------------------------------------------

  rebuildLog();
  render();

  if (data.mount) {
    var target = document.querySelector(data.mount);
    if (!target) {
      return;
    }
    target.appendChild(root);
    input.focus();
  } else {
    mountFloating();
  }
  pump();
  openStream();

  function mountFloating() {
    var host = el("div");
    host.hidden = true;
    var shadow = host.attachShadow({ mode: "open" });
    var link = el("link");
    link.rel = "stylesheet";
    link.href = new URL("widget.css", base).href;
    // Shown once styled, so the page never flashes an unstyled chat.
    link.addEventListener("load", function () { host.hidden = false; });
    shadow.appendChild(link);

    var launcher = el("button", "cq-launcher", options.title);
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    var panel = el("div", "cq-panel");
    panel.id = uid + "-panel";
    panel.hidden = true;
    launcher.setAttribute("aria-controls", panel.id);
    var close = el("button", "cq-close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", "Close the chat");
    header.appendChild(close);
    panel.appendChild(root);
    shadow.appendChild(panel);
    shadow.appendChild(launcher);

    function setOpen(open) {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      if (open) {
        render();
        input.focus();
      } else {
        launcher.focus();
      }
    }
    launcher.addEventListener("click", function () { setOpen(panel.hidden); });
    close.addEventListener("click", function () { setOpen(false); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        setOpen(false);
      }
    });
    host.className = "colloquy-widget";
    document.body.appendChild(host);
  }
})();
