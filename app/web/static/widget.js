/* support-router chat widget, embedded with one tag:
 *
 *   <script src="https://support.example.com/static/widget.js" data-key="sr_…" data-customer="c-42" async></script>
 *
 * data-key (required): a widget API key. data-customer: the signed-in customer's id.
 * data-customer-token: the token the site's backend signed for that customer (required when the service
 * has a customer token secret). data-title: the chat's heading. data-open="true": start open.
 *
 * It adds a chat button (in a shadow root, so the page's styles cannot reach it) that opens the widget
 * in an iframe served by the same server as this script. The widget therefore calls its own API
 * (no CORS), and the key travels in the iframe's URL fragment, which browsers never send to a server.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__supportRouterWidget) return;
  window.__supportRouterWidget = true;
  const key = script.dataset.key;
  if (!key) {
    console.error("support-router widget: the <script> tag needs a data-key attribute (a widget API key)");
    return;
  }
  const origin = new URL(script.src, location.href).origin;
  const fragment = new URLSearchParams({ key });
  if (script.dataset.customer) fragment.set("customer", script.dataset.customer);
  if (script.dataset.customerToken) fragment.set("customer_token", script.dataset.customerToken);
  if (script.dataset.title) fragment.set("title", script.dataset.title);

  const host = document.createElement("div");
  host.setAttribute("data-support-router", "");
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = `
    :host { all: initial; }
    button.launcher {
      position: fixed; right: 20px; bottom: 20px; z-index: 2147483646;
      padding: 12px 18px; border: 0; border-radius: 999px; cursor: pointer;
      font: 600 15px/1 system-ui, sans-serif; color: #fff; background: #2855c8;
      box-shadow: 0 4px 14px rgba(20, 30, 50, 0.25);
    }
    button.launcher:focus-visible { outline: 3px solid #7aa2ff; outline-offset: 2px; }
    .panel {
      position: fixed; right: 20px; bottom: 76px; z-index: 2147483647;
      width: 380px; height: min(600px, calc(100vh - 96px));
      border-radius: 12px; overflow: hidden; background: #fff;
      box-shadow: 0 8px 30px rgba(20, 30, 50, 0.3);
    }
    .panel[hidden] { display: none; }
    iframe { border: 0; width: 100%; height: 100%; display: block; }
    @media (max-width: 480px) {
      .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }
    }
  `;
  const launcher = document.createElement("button");
  launcher.className = "launcher";
  launcher.type = "button";
  launcher.textContent = "Chat with support";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "support-router-panel");
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "support-router-panel";
  panel.hidden = true;
  shadow.append(style, panel, launcher);

  let frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = script.dataset.title || "Support chat";
      frame.src = `${origin}/widget?embed=1#${fragment}`;
      panel.append(frame);
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.textContent = "Close chat";
    frame.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.textContent = "Chat with support";
    launcher.focus();
  }
  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  window.addEventListener("message", (event) => {
    if (event.origin === origin && event.data && event.data.type === "support-router:close") close();
  });

  function mount() {
    document.body.append(host);
    if (script.dataset.open === "true") open();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
