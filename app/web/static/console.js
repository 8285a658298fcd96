/* The reviewer console: the queue (polled), one review's whole handoff, and the four decisions, with
 * keyboard shortcuts. Everything goes through the /v1 API with the reviewer's key. */
(function () {
  "use strict";
  const SR = window.SupportRouter;
  const { h, clear } = SR;
  const POLL_MS = 3000;
  const MY_KEY_ID = "support-router.my-key-id";
  const session = SR.storage("sessionStorage");

  const $ = (role) => document.querySelector(`[data-role=${role}]`);
  const els = {
    queue: $("queue"),
    queueCount: $("queue-count"),
    queueEmpty: $("queue-empty"),
    queueUpdated: $("queue-updated"),
    detail: $("detail"),
    detailEmpty: $("detail-empty"),
    detailBody: $("detail-body"),
    title: $("detail-title"),
    badges: $("detail-badges"),
    clocks: $("clocks"),
    status: $("detail-status"),
    actions: $("actions"),
    composer: $("composer"),
    rerouter: $("rerouter"),
    closer: $("closer"),
    transcript: $("transcript"),
    draft: $("draft"),
    classification: $("classification"),
    policy: $("policy"),
    customer: $("customer"),
    articles: $("articles"),
    audit: $("audit"),
  };
  const button = (action) => els.actions.querySelector(`[data-action=${action}]`);

  function category(review) {
    const classification = review.handoff && review.handoff.classification;
    return classification ? classification.category : null;
  }

  function riskBadge(review) {
    const state = review.first_response && review.first_response.state;
    if (state === "breached") return h("span", { class: "badge breached", text: "SLA breached" });
    if (state === "at_risk") return h("span", { class: "badge at_risk", text: "Breach risk" });
    return null;
  }

  function badges(review) {
    const cat = category(review);
    const risks = (review.handoff.classification && review.handoff.classification.risk_signals) || [];
    return [
      review.sla_class === "vip" ? h("span", { class: "badge vip", text: "VIP" }) : null,
      riskBadge(review),
      cat ? h("span", { class: "badge category", text: SR.label(cat) }) : null,
      review.priority ? h("span", { class: `badge ${review.priority}`, text: review.priority }) : null,
      risks.length ? h("span", { class: "badge risk", text: "risk: " + risks.map(SR.label).join(", ") }) : null,
    ];
  }

  class Console {
    constructor(api) {
      this.api = api;
      this.reviews = [];
      this.selected = null; // review id
      this.current = null; // the selected review, fresh from the API
      this.busy = false;
      this.myKeyId = session.getItem(MY_KEY_ID);
    }

    start(firstQueue) {
      this.bind();
      this.showQueue(firstQueue);
      if (this.reviews.length) this.select(this.reviews[0].id, false);
      setInterval(() => {
        if (document.visibilityState === "visible") this.refresh();
      }, POLL_MS);
    }

    bind() {
      els.actions.addEventListener("click", (event) => {
        const target = event.target.closest("[data-action]");
        if (target && !target.disabled) this.act(target.dataset.action);
      });
      els.composer.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = els.composer.elements.text.value.trim();
        if (text) this.resolve({ action: "reply", text }, "Reply sent");
      });
      els.composer.elements.text.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          els.composer.requestSubmit();
        }
      });
      els.rerouter.addEventListener("submit", (event) => {
        event.preventDefault();
        const target = els.rerouter.elements.target.value;
        this.resolve({ action: "reroute", target }, `Rerouted to ${target}`);
      });
      els.closer.addEventListener("submit", (event) => {
        event.preventDefault();
        this.resolve({ action: "close" }, "Conversation closed");
      });
      for (const form of [els.composer, els.rerouter, els.closer]) {
        form.querySelector("[data-role=cancel]").addEventListener("click", () => this.hideForms(true));
      }
      document.addEventListener("keydown", (event) => this.onKey(event));
    }

    onKey(event) {
      if (event.key === "Escape") {
        if (this.hideForms(true)) event.preventDefault();
        return;
      }
      const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.toLowerCase();
      const moves = { j: 1, k: -1 };
      if (key in moves) {
        event.preventDefault();
        this.move(moves[key]);
        return;
      }
      const action = { t: "claim", a: "approve", e: "edit", r: "reroute", c: "close" }[key];
      if (action && this.current) {
        event.preventDefault();
        const target = button(action);
        if (!target.disabled) this.act(action);
      }
    }

    move(step) {
      if (!this.reviews.length) return;
      const index = this.reviews.findIndex((r) => r.id === this.selected);
      const next = Math.min(Math.max(index + step, 0), this.reviews.length - 1);
      this.select(this.reviews[index < 0 ? 0 : next].id, true);
    }

    // The queue -------------------------------------------------------------------------------------

    async refresh() {
      try {
        this.showQueue(await this.api.get("/v1/reviews"));
      } catch (error) {
        els.queueUpdated.textContent = "Could not refresh: " + error.message;
      }
    }

    showQueue(reviews) {
      this.reviews = reviews;
      els.queueCount.textContent = `(${reviews.length})`;
      els.queueEmpty.hidden = reviews.length > 0;
      els.queueUpdated.textContent = "Updated " + new Date().toLocaleTimeString();
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".queue li");
      const focusedId = focused ? focused.dataset.reviewId : null;
      clear(els.queue, reviews.map((review) => this.queueItem(review)));
      if (focusedId) {
        const again = els.queue.querySelector(`li[data-review-id="${CSS.escape(focusedId)}"] button`);
        if (again) again.focus();
      }
      if (this.selected && this.current && !reviews.some((r) => r.id === this.selected)) {
        this.setStatus("This review is no longer pending: someone else has decided it.", "bad");
        this.enableActions(false);
      }
    }

    queueItem(review) {
      const due = review.first_response ? review.first_response.due : null;
      const claimed = review.claimed_by
        ? h("span", { class: "badge", text: review.claimed_by === this.myKeyId ? "claimed by you" : "claimed" })
        : null;
      return h(
        "li",
        { "data-review-id": review.id, "data-conversation-id": review.conversation_id },
        h(
          "button",
          {
            type: "button",
            "aria-current": review.id === this.selected ? "true" : "false",
            onclick: () => this.select(review.id, true),
          },
          h(
            "span",
            { class: "line1" },
            h("span", { text: review.customer_id || "Unknown customer" }),
            h("span", { class: "due", text: due ? "due " + SR.relative(due) : "no SLA" })
          ),
          h("span", { class: "reason", text: SR.label(review.reason) }),
          h("span", { class: "badges" }, badges(review), claimed)
        )
      );
    }

    // One review ------------------------------------------------------------------------------------

    async select(reviewId, focus) {
      this.selected = reviewId;
      this.hideForms(false);
      for (const item of els.queue.querySelectorAll("li")) {
        item.querySelector("button").setAttribute("aria-current", item.dataset.reviewId === reviewId ? "true" : "false");
      }
      if (focus) {
        const item = els.queue.querySelector(`li[data-review-id="${CSS.escape(reviewId)}"] button`);
        if (item) item.focus();
      }
      let review;
      try {
        review = await this.api.get(`/v1/reviews/${encodeURIComponent(reviewId)}`);
      } catch (error) {
        this.setStatus("Could not load the review: " + error.message, "bad");
        return;
      }
      if (this.selected !== reviewId) return; // another was selected meanwhile
      this.current = review;
      this.render(review);
      const [customer, audit] = await Promise.allSettled([
        review.customer_id ? this.api.get(`/v1/customers/${encodeURIComponent(review.customer_id)}`) : Promise.reject(null),
        this.api.get(`/v1/conversations/${encodeURIComponent(review.conversation_id)}/audit`),
      ]);
      if (this.selected !== reviewId) return;
      this.renderCustomer(review, customer.status === "fulfilled" ? customer.value : null);
      this.renderAudit(review, audit.status === "fulfilled" ? audit.value : []);
    }

    render(review) {
      const handoff = review.handoff || {};
      els.detailEmpty.hidden = true;
      els.detailBody.hidden = false;
      els.detail.dataset.reviewId = review.id;
      els.detail.dataset.conversationId = review.conversation_id;
      els.title.textContent = `${review.customer_id || "Unknown customer"} · ${SR.label(review.reason)}`;
      clear(els.badges, badges(review));
      clear(
        els.clocks,
        this.clock("First response", review.first_response),
        this.clock("Resolution", review.resolution),
        h("dt", { text: "Value score" }),
        h("dd", { text: review.value_score === null ? "–" : review.value_score.toFixed(1) + " / 100" }),
        h("dt", { text: "Service tier" }),
        h("dd", { text: `${review.sla_class || "–"} · priority ${review.priority || "–"} · policy v${review.policy_version || "–"}` })
      );
      this.updateActions(review);
      this.renderTranscript(review);
      this.renderDraft(handoff);
      this.renderClassification(handoff.classification);
      this.renderArticles(handoff.retrieved || []);
      clear(els.policy, h("p", { class: "empty", text: "Loading…" }));
      clear(els.customer, h("p", { class: "empty", text: "Loading…" }));
      clear(els.audit);
    }

    clock(name, value) {
      if (!value) return [h("dt", { text: name }), h("dd", { text: "no SLA" })];
      return [
        h("dt", { text: name }),
        h(
          "dd",
          {},
          `due ${SR.clock(value.due)} (${SR.relative(value.due)}) `,
          h("span", { class: `badge ${value.state}`, text: SR.label(value.state) })
        ),
      ];
    }

    updateActions(review) {
      const mine = review.claimed_by && review.claimed_by === this.myKeyId;
      const someoneElse = review.claimed_by && !mine;
      const pending = review.status === "pending";
      const canAct = pending && !someoneElse;
      button("claim").disabled = !pending || !!review.claimed_by;
      button("approve").disabled = !canAct || !(review.handoff && review.handoff.draft);
      for (const action of ["edit", "reroute", "close"]) button(action).disabled = !canAct;
      if (!pending) this.setStatus(`This review is ${review.status}.`);
      else if (mine) this.setStatus("You have claimed this review: approve, edit and send, reroute or close it.", "ok");
      else if (someoneElse) this.setStatus(`Claimed by another reviewer (${review.claimed_by}).`, "bad");
      else this.setStatus("Unclaimed: claim it (t) so no one else works on it, then decide.");
    }

    enableActions(enabled) {
      for (const b of els.actions.querySelectorAll("button")) b.disabled = !enabled;
    }

    setStatus(text, kind) {
      els.status.textContent = text;
      els.status.className = "notice" + (kind ? " " + kind : "");
    }

    renderTranscript(review) {
      const lines = (review.handoff.transcript || []).map((line) =>
        h("li", { class: line.role }, h("span", { class: "who", text: line.role === "customer" ? "Customer" : "Assistant" }), line.text)
      );
      const waiting = (review.waiting_messages || []).map((text) =>
        h("li", { class: "customer waiting" }, h("span", { class: "who", text: "Customer, while waiting" }), text)
      );
      clear(els.transcript, lines, waiting);
    }

    renderDraft(handoff) {
      const draft = handoff.draft;
      const action = handoff.proposed_action;
      clear(
        els.draft,
        draft
          ? [
              h("div", { class: "draft", "data-role": "draft-text", text: draft.text }),
              (draft.citations || []).length
                ? h("p", {}, "Cites: ", draft.citations.map((c, i) => [i ? ", " : "", h("a", { href: c.url, target: "_blank", rel: "noopener noreferrer", text: c.title })]))
                : null,
            ]
          : h("p", { class: "empty", text: "No draft: write a reply (e), reroute (r) or close (c)." }),
        action
          ? h(
              "div",
              {},
              h("h3", { text: "Proposed action (runs once if you approve)" }),
              h("dl", { class: "facts" }, h("dt", { text: "Action" }), h("dd", { text: action.name }), Object.entries(action.arguments || {}).map(([k, v]) => [h("dt", { text: k }), h("dd", { text: typeof v === "object" ? JSON.stringify(v) : String(v) })]))
            )
          : null
      );
    }

    renderClassification(classification) {
      if (!classification) {
        clear(els.classification, h("p", { class: "empty", text: "No classification." }));
        return;
      }
      const probabilities = Object.entries(classification.probabilities || {}).sort((a, b) => b[1] - a[1]);
      clear(
        els.classification,
        h(
          "dl",
          { class: "facts" },
          h("dt", { text: "Category" }),
          h("dd", {}, h("span", { class: "badge category", text: SR.label(classification.category) })),
          h("dt", { text: "Confidence" }),
          h("dd", { text: SR.percent(classification.confidence, 1) }),
          h("dt", { text: "Decided by" }),
          h("dd", { text: SR.label(classification.decided_by || "local_classifier") }),
          h("dt", { text: "Risk signals" }),
          h("dd", {}, (classification.risk_signals || []).length ? classification.risk_signals.map((s) => [h("span", { class: "badge risk", text: SR.label(s) }), " "]) : "none"),
          h("dt", { text: "Also about" }),
          h("dd", { text: (classification.secondary_intents || []).map(SR.label).join(", ") || "nothing else" })
        ),
        h(
          "ul",
          { class: "bars", "aria-label": "Probability per category" },
          probabilities.map(([name, p]) =>
            h("li", {}, h("span", { text: SR.label(name) }), h("span", { class: "bar", style: null, "data-width": p }), h("span", { class: "num", text: SR.percent(p) }))
          )
        )
      );
      for (const bar of els.classification.querySelectorAll(".bar")) bar.style.width = Number(bar.dataset.width) * 100 + "%";
    }

    renderArticles(passages) {
      if (!passages.length) {
        clear(els.articles, h("p", { class: "empty", text: "Nothing relevant was found in the knowledge base." }));
        return;
      }
      clear(
        els.articles,
        h(
          "ol",
          { class: "articles" },
          passages.map((p) =>
            h(
              "li",
              {},
              h("a", { href: p.url, target: "_blank", rel: "noopener noreferrer", text: p.title }),
              p.distance !== undefined ? ` (distance ${Number(p.distance).toFixed(2)})` : "",
              p.text ? h("span", { class: "passage", text: p.text.length > 280 ? p.text.slice(0, 280) + "…" : p.text }) : null
            )
          )
        )
      );
    }

    renderCustomer(review, customer) {
      if (!customer) {
        clear(els.customer, h("p", { class: "empty", text: review.customer_id ? `No profile for ${review.customer_id}.` : "The customer is not known." }));
        return;
      }
      const money = new Intl.NumberFormat([], { style: "currency", currency: "USD", maximumFractionDigits: 0 });
      const contributions = Object.entries(customer.value_contributions || {});
      const largest = Math.max(1, ...contributions.map(([, points]) => points));
      clear(
        els.customer,
        h(
          "dl",
          { class: "facts" },
          h("dt", { text: "Name" }),
          h("dd", { text: customer.name }),
          h("dt", { text: "Tier" }),
          h("dd", { text: customer.tier }),
          h("dt", { text: "Contract" }),
          h("dd", { text: money.format(customer.annual_contract_value) + " / year" }),
          h("dt", { text: "Renewal" }),
          h("dd", { text: customer.renewal_date || "–" }),
          h("dt", { text: "Region" }),
          h("dd", { text: customer.region || "–" }),
          h("dt", { text: "Products" }),
          h("dd", { text: (customer.products || []).join(", ") || "–" }),
          h("dt", { text: "Open incidents" }),
          h("dd", { text: String(customer.open_incidents) }),
          h("dt", { text: "Churn signals" }),
          h("dd", { text: (customer.churn_signals || []).map(SR.label).join(", ") || "none" }),
          h("dt", { text: "Satisfaction" }),
          h("dd", { text: customer.satisfaction === null ? "–" : customer.satisfaction.toFixed(1) + " / 5" }),
          h("dt", { text: "Value score now" }),
          h("dd", { text: `${customer.value_score.toFixed(1)} / 100 (policy v${customer.policy_version})` })
        ),
        h(
          "ul",
          { class: "bars", "aria-label": "Value score breakdown" },
          contributions.map(([name, points]) =>
            h("li", {}, h("span", { text: SR.label(name) }), h("span", { class: "bar", "data-width": points / largest }), h("span", { class: "num", text: points.toFixed(1) }))
          )
        )
      );
      for (const bar of els.customer.querySelectorAll(".bar")) bar.style.width = Math.min(Number(bar.dataset.width), 1) * 100 + "%";
    }

    renderAudit(review, records) {
      const decision = records.filter((r) => r.kind === "routing_decision" && r.details && r.details.turn === review.turn).pop();
      const policy = decision && decision.details.policy;
      if (policy) {
        clear(
          els.policy,
          h(
            "dl",
            { class: "facts" },
            h("dt", { text: "Rule" }),
            h("dd", {}, h("code", { text: policy.rule })),
            h("dt", { text: "Path" }),
            h("dd", { text: SR.label(policy.path) }),
            h("dt", { text: "Segment" }),
            h("dd", { text: `${policy.segment} (SLA class ${policy.sla_class}, priority ${policy.priority})` }),
            h("dt", { text: "Version" }),
            h("dd", { text: "policy v" + policy.policy_version }),
            h("dt", { text: "Value score" }),
            h("dd", {
              text:
                `${Number(policy.value_score).toFixed(1)}: ` +
                Object.entries(policy.value_contributions || {})
                  .map(([name, points]) => `${SR.label(name)} ${Number(points).toFixed(1)}`)
                  .join(", "),
            })
          ),
          h("p", { class: "explanation", "data-role": "explanation", text: policy.explanation })
        );
      } else {
        clear(els.policy, h("p", { class: "empty", text: "No routing decision on record for this turn." }));
      }
      clear(
        els.audit,
        records.map((r) =>
          h(
            "li",
            {},
            h("time", { datetime: r.at, text: SR.clock(r.at) }),
            h("strong", { text: SR.label(r.kind) }),
            ` by ${r.actor}: `,
            r.kind === "routing_decision"
              ? `turn ${r.details.turn}, ${r.details.policy ? r.details.policy.path.replace(/_/g, " ") : "no policy"}, ${r.details.outcome ? r.details.outcome.status.replace(/_/g, " ") : ""}`
              : SR.label(r.details.action || "")
          )
        )
      );
    }

    // Decisions -------------------------------------------------------------------------------------

    hideForms(restoreFocus) {
      const open = [els.composer, els.rerouter, els.closer].some((f) => !f.hidden);
      for (const form of [els.composer, els.rerouter, els.closer]) form.hidden = true;
      if (open && restoreFocus) els.actions.querySelector("button:not(:disabled)")?.focus();
      return open;
    }

    act(action) {
      const review = this.current;
      if (!review || this.busy) return;
      this.hideForms(false);
      if (action === "claim") this.claim(review);
      else if (action === "approve") this.resolve({ action: "approve" }, "Draft approved and sent");
      else if (action === "edit") {
        els.composer.hidden = false;
        const textarea = els.composer.elements.text;
        textarea.value = review.handoff.draft ? review.handoff.draft.text : "";
        textarea.focus();
      } else if (action === "reroute") {
        els.rerouter.hidden = false;
        els.rerouter.elements.target.focus();
      } else if (action === "close") {
        els.closer.hidden = false;
        els.closer.querySelector("button[type=submit]").focus();
      }
    }

    async claim(review) {
      this.busy = true;
      try {
        const claimed = await this.api.post(`/v1/reviews/${encodeURIComponent(review.id)}/claim`);
        this.myKeyId = claimed.data.claimed_by;
        session.setItem(MY_KEY_ID, this.myKeyId);
        this.current = claimed.data;
        this.updateActions(claimed.data);
        SR.toast("Claimed: it is yours now");
        this.refresh();
      } catch (error) {
        this.setStatus("Could not claim it: " + error.message, "bad");
      } finally {
        this.busy = false;
      }
    }

    async resolve(decision, done) {
      const review = this.current;
      if (!review || this.busy) return;
      this.busy = true;
      this.enableActions(false);
      try {
        await this.api.post(`/v1/reviews/${encodeURIComponent(review.id)}/resolve`, decision);
        this.hideForms(false);
        SR.toast(done);
        const index = this.reviews.findIndex((r) => r.id === review.id);
        await this.refresh();
        this.current = null;
        const next = this.reviews[Math.min(Math.max(index, 0), this.reviews.length - 1)];
        if (next) this.select(next.id, true);
        else {
          this.selected = null;
          els.detailBody.hidden = true;
          els.detailEmpty.hidden = false;
          els.detailEmpty.textContent = "Done: nothing else is waiting.";
          els.detail.focus();
        }
      } catch (error) {
        this.setStatus("Not sent: " + error.message, "bad");
        this.updateActions(review);
      } finally {
        this.busy = false;
      }
    }
  }

  SR.staffPage({
    pageName: "reviewer console",
    check: (api) => api.get("/v1/reviews"),
    start: (api, queue) => new Console(api).start(queue),
  });
})();
