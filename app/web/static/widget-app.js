/* The chat widget.
 *
 * Delivery: every message gets an Idempotency-Key when it is typed and keeps it on every retry, and
 * unsent messages survive a reload (local storage), so a dropped network neither loses nor doubles a
 * message. The conversation's event stream is read with fetch (it needs the key's header) and resumed
 * with Last-Event-ID; stored events are applied once each, by id. Replies are shown from the stream
 * only, so each appears once whatever the order of the POST's answer and the stream.
 */
(function () {
  "use strict";
  const SR = window.SupportRouter;
  const { h } = SR;

  const root = document.querySelector("[data-widget]");
  const $ = (role) => root.querySelector(`[data-role=${role}]`);
  const els = {
    log: $("log"),
    banner: $("banner"),
    connection: $("connection"),
    typing: $("typing"),
    dots: $("dots"),
    typingText: $("typing-text"),
    composer: $("composer"),
    input: root.querySelector("#chat-input"),
    send: $("send"),
    title: $("title"),
    close: $("close"),
  };
  const embedded = document.body.classList.contains("embed");
  const SETUP_STORAGE = "support-router.widget-setup";
  const STREAM_SILENCE_MS = 40000; // the server pings every 15 s; this much silence means a dead link
  const MAX_BACKOFF_MS = 8000;
  const local = SR.storage("localStorage");
  const session = SR.storage("sessionStorage");

  const PROGRESS = {
    intake: "Reading your message…",
    enrich: "Reading your message…",
    triage: "Reading your message…",
    route: "Finding the right specialist…",
    billing: "Checking our help articles…",
    access: "Checking our help articles…",
    technical: "Checking our help articles…",
    refunds: "Checking our help articles…",
    general: "Checking our help articles…",
    escalate: "Handing over to a person…",
    finalize: "Writing the answer…",
  };
  const AUTHORS = { customer: "You", assistant: "Support assistant", reviewer: "Support team" };

  /** A short, stable tag of the key, so storage never holds the key itself. */
  function tag(text) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash.toString(16);
  }

  class Chat {
    constructor(config) {
      this.config = config;
      this.api = SR.client(config.key);
      this.storage = `support-router.widget.${tag(config.key)}.${config.customer || "guest"}`;
      this.conversationId = null;
      this.lastEventId = 0;
      this.outbox = []; // {id, text, delivered, confirmed, failed, element}
      this.status = "active";
      this.streaming = null; // the bubble of an answer arriving in chunks
      this.answeredTurn = 0;
      this.wakers = new Set();
      this.streamAbort = null;
      this.stopped = false;
    }

    // Start-up ------------------------------------------------------------------------------------

    async start() {
      root.hidden = false;
      if (this.config.title) els.title.textContent = this.config.title;
      this.bindUi();
      this.system("Hi! Ask us anything about your account, billing or our products.");
      this.setConnection("Connecting…");
      await this.ensureConversation();
      if (this.stopped) return;
      root.dataset.conversationId = this.conversationId;
      this.restoreOutbox();
      els.input.disabled = false;
      els.send.disabled = false;
      if (!embedded || document.hasFocus()) els.input.focus();
      this.stream();
      this.pump();
    }

    bindUi() {
      els.composer.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submit();
      });
      els.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submit();
        }
        if (event.key === "Escape" && embedded) window.parent.postMessage({ type: "support-router:close" }, "*");
      });
      if (els.close) {
        els.close.addEventListener("click", () => window.parent.postMessage({ type: "support-router:close" }, "*"));
      }
      window.addEventListener("online", () => {
        this.restartStream();
        this.wake();
      });
      window.addEventListener("offline", () => {
        this.setConnection("Offline: messages will be sent when you're back online");
        this.restartStream();
      });
    }

    async ensureConversation() {
      let delay = 500;
      for (;;) {
        try {
          let id = local.getItem(this.storage + ".conversation");
          if (id) {
            try {
              await this.api.get(`/v1/conversations/${encodeURIComponent(id)}`);
            } catch (error) {
              if (!(error instanceof SR.ApiError && error.status === 404)) throw error;
              id = null; // another key's, or gone: start afresh
              local.removeItem(this.storage + ".outbox");
            }
          }
          if (!id) {
            const body = { customer_id: this.config.customer || null, channel: "chat" };
            if (this.config.customerToken) body.customer_token = this.config.customerToken;
            const created = await this.api.post("/v1/conversations", body);
            id = created.data.id;
            local.setItem(this.storage + ".conversation", id);
          }
          this.conversationId = id;
          return;
        } catch (error) {
          if (this.fatal(error)) return;
          this.setConnection("Can't reach support: retrying…");
          await this.pause(delay);
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
        }
      }
    }

    /** Errors no retry can fix: a bad or revoked key, a key of another role. */
    fatal(error) {
      if (!(error instanceof SR.ApiError) || ![401, 403].includes(error.status)) return false;
      this.stopped = true;
      this.setConnection("");
      this.system(
        error.status === 401
          ? "This chat is not available: its key was not accepted."
          : "This chat is not available: its key is not a widget key."
      );
      els.input.disabled = true;
      els.send.disabled = true;
      return true;
    }

    // Waiting that a reconnection can cut short ---------------------------------------------------------

    pause(ms) {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.wakers.add(done);
      });
    }

    wake() {
      for (const waker of [...this.wakers]) waker();
    }

    // The event stream ------------------------------------------------------------------------------

    async stream() {
      let delay = 500;
      while (!this.stopped) {
        const abort = new AbortController();
        this.streamAbort = abort;
        let watchdog = null;
        const kick = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => abort.abort(), STREAM_SILENCE_MS);
        };
        try {
          kick();
          await SR.readEvents({
            url: `/v1/conversations/${encodeURIComponent(this.conversationId)}/events`,
            key: this.config.key,
            lastEventId: this.lastEventId,
            signal: abort.signal,
            onOpen: () => {
              delay = 500;
              this.setConnection("");
              root.dataset.stream = "open";
            },
            onBytes: kick,
            onEvent: (event) => this.onEvent(event),
          });
        } catch (error) {
          if (this.fatal(error)) return;
        } finally {
          clearTimeout(watchdog);
          root.dataset.stream = "closed";
        }
        if (this.stopped) return;
        if (!navigator.onLine) this.setConnection("Offline: messages will be sent when you're back online");
        else this.setConnection("Reconnecting…");
        await this.pause(delay);
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      }
    }

    /** Drop the current stream and open a new one at once (it resumes after the last event seen). */
    restartStream() {
      if (this.streamAbort) this.streamAbort.abort();
      this.wake();
    }

    onEvent(event) {
      if (event.id !== null) {
        if (event.id <= this.lastEventId) return; // already applied
        this.lastEventId = event.id;
      }
      const data = event.data || {};
      switch (event.type) {
        case "message":
          this.onMessage(data, event.id);
          break;
        case "escalated":
          this.setStatus("waiting_for_human");
          break;
        case "status":
          this.setStatus(data.status);
          break;
        case "review_claimed":
          if (this.status === "waiting_for_human") {
            this.showBanner("A member of our support team is looking at your conversation now.", "claimed");
          }
          break;
        case "node_started":
          if (PROGRESS[data.node]) this.progress(PROGRESS[data.node]);
          break;
        case "answer_chunk":
          this.chunk(String(data.text || ""));
          break;
        default:
          break;
      }
    }

    onMessage(data, eventId) {
      const role = data.role;
      if (role === "customer") {
        const text = String(data.text || "").trim();
        const mine = this.outbox.find((item) => !item.confirmed && item.text.trim() === text);
        if (mine) {
          // The server has it: whatever its POST still says, it is delivered.
          mine.confirmed = true;
          mine.delivered = true;
          mine.element.dataset.eventId = eventId;
          if (mine.restored) els.log.append(mine.element); // after the history the replay rebuilt
          this.setState(mine, data.held ? "Kept for the person handling your conversation" : "Delivered");
          this.saveOutbox();
        } else {
          const element = this.bubble("customer", text, [], eventId);
          if (data.held) element.append(h("span", { class: "state", text: "Kept for the person handling your conversation" }));
        }
        return;
      }
      const outcome = data.outcome || {};
      if (this.streaming) {
        this.streaming.remove();
        this.streaming = null;
      }
      this.bubble(role === "reviewer" ? "reviewer" : "assistant", String(data.text || ""), outcome.citations || [], eventId);
      if (outcome.turn) this.answeredTurn = Math.max(this.answeredTurn, outcome.turn);
      this.idle();
    }

    // Sending ---------------------------------------------------------------------------------------

    submit() {
      const text = els.input.value.trim();
      if (!text || els.input.disabled) return;
      els.input.value = "";
      const item = { id: SR.uuid(), text, delivered: false, confirmed: false, failed: null, element: null };
      item.element = this.bubble("customer", text, [], null);
      item.element.dataset.idempotencyKey = item.id;
      this.setState(item, "Sending…");
      this.outbox.push(item);
      this.saveOutbox();
      this.pump();
      els.input.focus();
    }

    /** Send queued messages one at a time, in order; each is retried until it is accepted or refused. */
    async pump() {
      if (this.pumping || !this.conversationId) return;
      this.pumping = true;
      try {
        let item;
        while (!this.stopped && (item = this.outbox.find((i) => !i.delivered && !i.failed))) {
          await this.deliver(item);
        }
      } finally {
        this.pumping = false;
      }
    }

    async deliver(item) {
      let delay = 500;
      for (;;) {
        this.progress("Sending…");
        try {
          const response = await this.api.post(
            `/v1/conversations/${encodeURIComponent(this.conversationId)}/messages`,
            { text: item.text },
            { "Idempotency-Key": item.id }
          );
          this.markDelivered(item);
          this.saveOutbox();
          const outcome = response.data || {};
          if (response.status === 202) {
            this.setStatus("waiting_for_human");
            this.idle();
          } else if (outcome.turn) {
            this.expectAnswer(outcome.turn);
          }
          return;
        } catch (error) {
          if (this.fatal(error) || item.confirmed) return;
          const retriable =
            !(error instanceof SR.ApiError) || error.status >= 500 || error.status === 409 || error.status === 429;
          if (!retriable) {
            item.failed = error.message;
            this.setState(item, "Not sent: " + error.message, true);
            this.saveOutbox();
            this.idle();
            return;
          }
          this.setState(item, navigator.onLine ? "Not sent yet: retrying…" : "Waiting for the network…", true);
          const wait = (error instanceof SR.ApiError && error.retryAfter) ? error.retryAfter * 1000 : delay;
          await this.pause(wait);
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
        }
      }
    }

    markDelivered(item) {
      if (item.confirmed) return; // the stream already said so, with more detail
      item.delivered = true;
      this.setState(item, "Delivered");
    }

    /** The answer to `turn` comes on the stream; if it has not within a few seconds, resume the stream. */
    expectAnswer(turn) {
      setTimeout(() => {
        if (this.answeredTurn < turn && !this.stopped) this.restartStream();
      }, 4000);
    }

    saveOutbox() {
      const pending = this.outbox.filter((i) => !i.confirmed && !i.failed).map((i) => ({ id: i.id, text: i.text, delivered: i.delivered }));
      local.setItem(this.storage + ".outbox", JSON.stringify(pending));
    }

    restoreOutbox() {
      let saved = [];
      try {
        saved = JSON.parse(local.getItem(this.storage + ".outbox") || "[]");
      } catch (_) {
        saved = [];
      }
      for (const entry of saved) {
        const item = { id: entry.id, text: entry.text, delivered: !!entry.delivered, confirmed: false, failed: null, restored: true };
        item.element = this.bubble("customer", item.text, [], null);
        item.element.dataset.idempotencyKey = item.id;
        this.setState(item, item.delivered ? "Delivered" : "Sending…");
        this.outbox.push(item);
      }
    }

    // Rendering -------------------------------------------------------------------------------------

    bubble(role, text, citations, eventId) {
      let body = text;
      // Answers end with "Source: title (url); …"; with the citations at hand, show them as links instead.
      const marker = body.lastIndexOf("\n\nSource: ");
      if (citations.length && marker >= 0) body = body.slice(0, marker);
      const item = h(
        "li",
        { class: `msg ${role}`, "data-event-id": eventId },
        h("span", { class: "who", text: AUTHORS[role] || "" }),
        h("div", { class: "bubble", text: body }),
        citations.length
          ? h(
              "ul",
              { class: "sources", "aria-label": "Sources" },
              citations.map((c) =>
                h("li", {}, h("a", { href: c.url, target: "_blank", rel: "noopener noreferrer", "data-article-id": c.article_id, text: c.title }))
              )
            )
          : null
      );
      els.log.append(item);
      this.scroll();
      return item;
    }

    system(text) {
      els.log.append(h("li", { class: "msg system" }, h("div", { class: "bubble", text })));
    }

    setState(item, text, failed) {
      let state = item.element.querySelector(".state");
      if (!state) {
        state = h("span", { class: "state" });
        item.element.append(state);
      }
      state.textContent = text;
      state.classList.toggle("failed", !!failed);
    }

    chunk(text) {
      if (!this.streaming) {
        this.streaming = h("li", { class: "msg assistant streaming", "aria-hidden": "true" }, h("span", { class: "who", text: AUTHORS.assistant }), h("div", { class: "bubble" }));
        els.log.append(this.streaming);
      }
      this.streaming.querySelector(".bubble").textContent += text;
      this.scroll();
    }

    scroll() {
      els.log.scrollTop = els.log.scrollHeight;
    }

    progress(text) {
      els.dots.hidden = false;
      if (els.typingText.textContent !== text) els.typingText.textContent = text;
      root.dataset.typing = "true";
    }

    idle() {
      if (this.outbox.some((i) => !i.delivered && !i.failed)) return;
      els.dots.hidden = true;
      els.typingText.textContent = "";
      root.dataset.typing = "false";
    }

    setConnection(text) {
      els.connection.textContent = text;
    }

    setStatus(status) {
      if (!status || status === this.status) {
        if (status === "waiting_for_human" && els.banner.hidden) this.showHandoff();
        return;
      }
      this.status = status;
      root.dataset.status = status;
      if (status === "waiting_for_human") this.showHandoff();
      else if (status === "closed") this.showBanner("This conversation is closed. Send a message to start a new one.", "closed");
      else this.hideBanner();
    }

    showHandoff() {
      this.showBanner(
        "A person from our support team will reply here. You can keep writing: they will see your messages.",
        "waiting"
      );
      this.idle();
    }

    showBanner(text, kind) {
      els.banner.textContent = text;
      els.banner.className = "chat-banner " + kind;
      els.banner.dataset.kind = kind;
      els.banner.hidden = false;
    }

    hideBanner() {
      els.banner.hidden = true;
      els.banner.dataset.kind = "";
    }
  }

  // Configuration: the embed passes it in the URL fragment (never sent to the server, so never logged);
  // the demo page asks for it.
  function configFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const key = params.get("key");
    if (!key) return null;
    return {
      key,
      customer: params.get("customer") || "",
      customerToken: params.get("customer_token") || "",
      title: params.get("title") || "",
    };
  }

  function run(config) {
    session.setItem(SETUP_STORAGE, JSON.stringify(config));
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    new Chat(config).start();
  }

  function setup() {
    const form = document.querySelector("[data-role=setup]");
    if (!form) {
      root.hidden = false;
      root.querySelector("[data-role=log]").append(h("li", { class: "msg system" }, h("div", { class: "bubble", text: "This widget was embedded without a key." })));
      return;
    }
    form.hidden = false;
    form.querySelector("input[name=key]").focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = form.elements.key.value.trim();
      if (!key) {
        form.querySelector("[data-role=setup-error]").textContent = "Enter a widget key.";
        return;
      }
      form.hidden = true;
      run({ key, customer: form.elements.customer.value.trim(), title: "" });
    });
  }

  let config = configFromFragment();
  if (!config) {
    try {
      config = JSON.parse(session.getItem(SETUP_STORAGE) || "null");
    } catch (_) {
      config = null;
    }
  }
  if (config && config.key) run(config);
  else setup();
})();
