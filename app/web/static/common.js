/* Shared by the pages: the /v1 API client, an event-stream reader over fetch (EventSource cannot send
 * the API key's header), DOM building that never parses data as HTML, formatting, and the sign-in of
 * the staff pages. Exposed as window.SupportRouter. */
(function () {
  "use strict";

  class ApiError extends Error {
    constructor(status, message, body, headers) {
      super(message);
      this.name = "ApiError";
      this.status = status;
      this.body = body;
      this.headers = headers;
    }

    /** Seconds the server asked us to wait (429, 409 with Retry-After), if it did. */
    get retryAfter() {
      const value = this.headers && this.headers.get("Retry-After");
      const seconds = value ? Number(value) : NaN;
      return Number.isFinite(seconds) ? seconds : null;
    }
  }

  /** A client of the /v1 API with one key. Network failures reject with a TypeError. */
  function client(key) {
    async function request(method, path, body, extraHeaders) {
      const headers = Object.assign({ Authorization: "Bearer " + key, Accept: "application/json" }, extraHeaders);
      const init = { method, headers, cache: "no-store" };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(path, init);
      const text = await response.text();
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch (_) {
        data = text;
      }
      if (!response.ok) {
        const message = (data && data.error && data.error.message) || response.statusText || "request failed";
        throw new ApiError(response.status, message, data, response.headers);
      }
      return { status: response.status, data, headers: response.headers };
    }
    return {
      request,
      get: (path) => request("GET", path).then((r) => r.data),
      post: (path, body, headers) => request("POST", path, body, headers),
    };
  }

  /** One event-stream frame → {type, id, data}; comment-only frames (keep-alive pings) → null. */
  function parseFrame(frame) {
    let type = "message";
    let id = null;
    const data = [];
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (!data.length) return null;
    let parsed = data.join("\n");
    try {
      parsed = JSON.parse(parsed);
    } catch (_) {
      /* keep the text */
    }
    return { type, id: id === null || id === "" ? null : Number(id), data: parsed };
  }

  /**
   * Read a Server-Sent Events stream with the key in a header, resuming after `lastEventId`.
   * Resolves when the server ends the stream, rejects on a network error, an abort or an HTTP error.
   * `onBytes` is called on every chunk (pings included), for a watchdog.
   */
  async function readEvents({ url, key, lastEventId, signal, onOpen, onEvent, onBytes }) {
    const headers = { Authorization: "Bearer " + key, Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = String(lastEventId);
    const response = await fetch(url, { headers, signal, cache: "no-store" });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        /* not JSON */
      }
      const message = (body && body.error && body.error.message) || response.statusText;
      throw new ApiError(response.status, message, body, response.headers);
    }
    if (onOpen) onOpen();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (onBytes) onBytes();
      buffer += decoder.decode(value, { stream: true });
      // A CR at the very end may be half of a CRLF: leave it for the next chunk.
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const complete = buffer.slice(0, cut).replace(/\r\n?/g, "\n");
      buffer = complete + buffer.slice(cut);
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseFrame(frame);
        if (event) onEvent(event);
      }
    }
  }

  /**
   * h("li", {class: "x", "data-id": 3, onclick: fn}, "text", child): an element. Strings become text
   * nodes, so data from the API is never interpreted as HTML.
   */
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
      else if (name === "class") element.className = value;
      else if (name === "text") element.textContent = value;
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    append(element, children);
    return element;
  }

  function append(element, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function clear(element, ...children) {
    element.replaceChildren();
    return append(element, children);
  }

  // Formatting ----------------------------------------------------------------------------------

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    const s = Math.abs(seconds);
    if (s < 60) return Math.round(s) + " s";
    const totalMinutes = Math.round(s / 60);
    if (totalMinutes < 60) return totalMinutes + " min";
    if (totalMinutes < 24 * 60) {
      const hours = Math.floor(totalMinutes / 60);
      const minutes = totalMinutes % 60;
      return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
    }
    const totalHours = Math.round(s / 3600);
    const days = Math.floor(totalHours / 24);
    const hours = totalHours % 24;
    return hours ? `${days} d ${hours} h` : `${days} d`;
  }

  function percent(share, digits) {
    if (share === null || share === undefined) return "–";
    return (share * 100).toFixed(digits === undefined ? 0 : digits) + "%";
  }

  function relative(iso, now) {
    const seconds = (new Date(iso).getTime() - (now || Date.now())) / 1000;
    return seconds >= 0 ? "in " + duration(seconds) : duration(seconds) + " ago";
  }

  function clock(iso) {
    const date = new Date(iso);
    const sameDay = date.toDateString() === new Date().toDateString();
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return sameDay ? time : date.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
  }

  function label(value) {
    return String(value || "").replace(/_/g, " ");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /**
   * Web storage that never throws: a framed widget may be denied storage (third-party storage
   * blocked), and then it keeps what it would have stored in memory for as long as the page lives.
   */
  function storage(kind) {
    try {
      const store = window[kind];
      const probe = "__support-router__";
      store.setItem(probe, probe);
      store.removeItem(probe);
      return store;
    } catch (_) {
      const memory = new Map();
      return {
        getItem: (name) => (memory.has(name) ? memory.get(name) : null),
        setItem: (name, value) => memory.set(name, String(value)),
        removeItem: (name) => memory.delete(name),
      };
    }
  }

  // Staff pages: sign in with a key kept in this tab's session storage ----------------------------

  const KEY_STORAGE = "support-router.staff-key";

  function toast(message, ms) {
    const element = document.querySelector("[data-role=toast]");
    if (!element) return;
    element.textContent = message;
    element.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (element.hidden = true), ms || 3500);
  }

  /** Why a key was refused, in words a person can act on. */
  function refusal(error, pageName) {
    if (error instanceof ApiError && error.status === 401) {
      return "That key was not accepted: it is mistyped or has been revoked.";
    }
    if (error instanceof ApiError && error.status === 403) {
      return `This key cannot open the ${pageName}: it needs a reviewer or admin key (the API answered: ${error.message}).`;
    }
    if (error instanceof ApiError && error.status === 429) {
      return "Too many requests with this key; wait a moment and try again.";
    }
    return `Could not reach the server (${error.message}). Try again.`;
  }

  /**
   * The sign-in flow of the console and the dashboard: `check(api)` makes an API call only a key with
   * the right role passes; once it does, `start(api, checked)` runs the page.
   */
  function staffPage({ pageName, check, start }) {
    const session = storage("sessionStorage");
    const form = document.querySelector("[data-role=sign-in]");
    const input = form.querySelector("input[name=key]");
    const errorBox = document.querySelector("[data-role=sign-in-error]");
    const app = document.querySelector("[data-role=app]");
    const signOut = document.querySelector("[data-role=sign-out]");
    const who = document.querySelector("[data-role=who]");

    function showForm(message) {
      app.hidden = true;
      form.hidden = false;
      signOut.hidden = true;
      who.hidden = true;
      errorBox.textContent = message || "";
      document.body.dataset.signedIn = "false";
      input.focus();
    }

    async function tryKey(key) {
      const api = client(key);
      let checked;
      try {
        checked = await check(api);
      } catch (error) {
        session.removeItem(KEY_STORAGE);
        showForm(refusal(error, pageName));
        return;
      }
      session.setItem(KEY_STORAGE, key);
      form.hidden = true;
      app.hidden = false;
      signOut.hidden = false;
      who.hidden = false;
      who.textContent = "Signed in with key …" + key.slice(-4);
      document.body.dataset.signedIn = "true";
      if (document.activeElement === input) input.blur(); // the form is gone: shortcuts go to the page
      start(api, checked);
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) {
        showForm("Enter an API key.");
        return;
      }
      errorBox.textContent = "Checking…";
      tryKey(key);
    });
    signOut.addEventListener("click", () => {
      session.removeItem(KEY_STORAGE);
      location.reload();
    });

    const saved = session.getItem(KEY_STORAGE);
    if (saved) tryKey(saved);
    else showForm();
  }

  window.SupportRouter = {
    ApiError,
    client,
    readEvents,
    parseFrame,
    h,
    append,
    clear,
    duration,
    percent,
    relative,
    clock,
    label,
    sleep,
    uuid,
    storage,
    toast,
    staffPage,
  };
})();
