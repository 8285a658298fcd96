/* The supervisor dashboard: one chart per /v1/dashboard endpoint over the chosen time window, drawn
 * with the vendored Chart.js, each with its numbers in a table. */
(function () {
  "use strict";
  const SR = window.SupportRouter;
  const { h, clear } = SR;
  const REFRESH_MS = 30000;
  const WINDOWS = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400 };
  const COLORS = ["#2855c8", "#e07b39", "#1c7c4a", "#b3261e", "#6d3fc0", "#0f8a9d", "#9a5b00", "#5b6475"];
  const pct = (share) => (share === null || share === undefined ? null : Math.round(share * 1000) / 10);
  const present = (values) => values.filter((v) => v !== null && v !== undefined).length;
  /** The unit that suits the longest of `seconds`: [name, divisor]. */
  function timeUnit(seconds) {
    const longest = Math.max(0, ...seconds.filter((s) => s !== null && s !== undefined));
    if (longest < 120) return ["seconds", 1];
    if (longest < 2 * 3600) return ["minutes", 60];
    if (longest < 2 * 86400) return ["hours", 3600];
    return ["days", 86400];
  }
  const inUnit = (seconds, divisor) => (seconds === null || seconds === undefined ? null : Math.round((seconds / divisor) * 10) / 10);
  const countAxis = { beginAtZero: true, ticks: { precision: 0 } };
  const percentAxis = { min: 0, max: 100, ticks: { callback: (v) => v + "%" } };

  Chart.defaults.animation = false; // numbers, not motion; also keeps screenshots stable
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#5b6475";

  const CHARTS = {
    sla(data) {
      const tiers = data.tiers;
      const values = tiers.flatMap((t) => [t.first_response.attainment, t.resolution.attainment]);
      return {
        points: present(values),
        type: "bar",
        labels: tiers.map((t) => t.sla_class),
        datasets: [
          { label: "First response on time", data: tiers.map((t) => pct(t.first_response.attainment)) },
          { label: "Resolution on time", data: tiers.map((t) => pct(t.resolution.attainment)) },
        ],
        options: { scales: { y: percentAxis } },
        summary:
          `First response ${SR.percent(data.overall.first_response.attainment)}, resolution ` +
          `${SR.percent(data.overall.resolution.attainment)} on time over ${data.overall.reviews} reviews` +
          (data.overall.first_response.breached ? `; ${data.overall.first_response.breached} open past due` : ""),
        table: [
          ["tier", "reviews", "first response met/missed/breached/running", "resolution met/missed/breached/running"],
          ...tiers.map((t) => [
            t.sla_class,
            t.reviews,
            `${t.first_response.met}/${t.first_response.missed}/${t.first_response.breached}/${t.first_response.running}`,
            `${t.resolution.met}/${t.resolution.missed}/${t.resolution.breached}/${t.resolution.running}`,
          ]),
        ],
      };
    },

    "response-times"(data) {
      const rows = [...data.tiers, data.overall];
      const [unit, divisor] = timeUnit(rows.flatMap((r) => [r.mtta_seconds, r.mttr_seconds]));
      return {
        points: present(data.tiers.flatMap((r) => [r.mtta_seconds, r.mttr_seconds])),
        type: "bar",
        labels: rows.map((r) => r.sla_class),
        datasets: [
          { label: `MTTA (${unit})`, data: rows.map((r) => inUnit(r.mtta_seconds, divisor)) },
          { label: `MTTR (${unit})`, data: rows.map((r) => inUnit(r.mttr_seconds, divisor)) },
        ],
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: unit } } } },
        summary: `MTTA ${SR.duration(data.overall.mtta_seconds)} (${data.overall.acknowledged} acknowledged), MTTR ${SR.duration(data.overall.mttr_seconds)} (${data.overall.resolved} resolved)`,
        table: [
          ["tier", "reviews", "acknowledged", "MTTA", "resolved", "MTTR", "longest"],
          ...rows.map((r) => [r.sla_class, r.reviews, r.acknowledged, SR.duration(r.mtta_seconds), r.resolved, SR.duration(r.mttr_seconds), SR.duration(r.max_ttr_seconds)]),
        ],
      };
    },

    escalations(data) {
      return {
        points: data.reasons.length,
        type: "bar",
        labels: data.reasons.map((r) => SR.label(r.reason)),
        datasets: [{ label: "Share of turns", data: data.reasons.map((r) => pct(r.rate)) }],
        options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { callback: (v) => v + "%" } } }, plugins: { legend: { display: false } } },
        summary: `Escalation rate ${SR.percent(data.escalation_rate)}: ${data.escalated} of ${data.turns} turns went to a person`,
        table: [["reason", "turns", "share of all turns"], ...data.reasons.map((r) => [r.reason, r.turns, SR.percent(r.rate, 1)])],
      };
    },

    deflection(data) {
      const fmt = data.bucket_seconds < 86400
        ? (iso) => new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
        : (iso) => new Date(iso).toLocaleDateString([], { month: "short", day: "numeric" });
      return {
        type: "bar",
        labels: data.series.map((p) => fmt(p.start)),
        datasets: [
          { type: "line", label: "Automated resolution", data: data.series.map((p) => pct(p.rate)), yAxisID: "y", spanGaps: true, tension: 0.25, pointRadius: 2 },
          { type: "bar", label: "Turns", data: data.series.map((p) => p.turns), yAxisID: "turns", backgroundColor: "rgba(91, 100, 117, 0.25)" },
        ],
        options: {
          scales: {
            x: { ticks: { maxTicksLimit: 8, maxRotation: 0 } },
            y: percentAxis,
            turns: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
          },
        },
        summary: `Automated resolution ${SR.percent(data.rate)}: ${data.automated} of ${data.turns} turns answered with no person (per ${data.bucket})`,
        table: [["from", "turns", "automated", "rate"], ...data.series.filter((p) => p.turns).map((p) => [fmt(p.start), p.turns, p.automated, SR.percent(p.rate)])],
        points: data.turns,
      };
    },

    volume(data) {
      const rows = data.categories;
      return {
        points: data.turns,
        type: "bar",
        labels: rows.map((r) => SR.label(r.category)),
        datasets: [
          { label: "Automated", data: rows.map((r) => r.automated), stack: "turns" },
          { label: "Escalated", data: rows.map((r) => r.escalated), stack: "turns" },
          { label: "Other", data: rows.map((r) => r.turns - r.automated - r.escalated), stack: "turns" },
        ],
        options: { scales: { x: { stacked: true }, y: Object.assign({ stacked: true }, countAxis) } },
        summary: `${data.turns} turns in ${rows.length} categories`,
        table: [["category", "turns", "automated", "escalated"], ...rows.map((r) => [r.category, r.turns, r.automated, r.escalated])],
      };
    },

    "policy-versions"(data) {
      const metrics = [
        ["Escalation rate", "escalation_rate"],
        ["Automated resolution", "automated_resolution_rate"],
        ["First response on time", "first_response_attainment"],
        ["Resolution on time", "resolution_attainment"],
      ];
      const name = (v) => `v${v.policy_version} (${v.role === "canary" ? `canary ${v.canary_percent}%` : v.role})`;
      return {
        type: "bar",
        labels: metrics.map(([label]) => label),
        datasets: data.versions.map((v) => ({ label: name(v), data: metrics.map(([, key]) => pct(v[key])) })),
        options: { scales: { y: percentAxis } },
        summary: data.versions.length
          ? data.versions.map((v) => `${name(v)}: ${v.turns} turns`).join(" · ")
          : "No policy version routed a turn in this window",
        table: [
          ["version", "role", "turns", "escalation", "automated", "reviews", "first response", "resolution"],
          ...data.versions.map((v) => [v.policy_version, v.role, v.turns, SR.percent(v.escalation_rate), SR.percent(v.automated_resolution_rate), v.reviews, SR.percent(v.first_response_attainment), SR.percent(v.resolution_attainment)]),
        ],
        points: data.versions.reduce((sum, v) => sum + v.turns, 0),
      };
    },

    confidence(data) {
      return {
        points: data.turns,
        type: "bar",
        labels: data.bins.map((b) => `${b.lower.toFixed(1)}–${b.upper.toFixed(1)}`),
        datasets: [
          { label: "Not escalated", data: data.bins.map((b) => b.not_escalated), stack: "turns" },
          { label: "Escalated", data: data.bins.map((b) => b.escalated), stack: "turns" },
        ],
        options: { scales: { x: { stacked: true, title: { display: true, text: "triage confidence" } }, y: Object.assign({ stacked: true }, countAxis) } },
        summary: data.turns ? `Mean confidence ${data.mean.toFixed(2)} over ${data.turns} turns` : "No turns in this window",
        table: [["confidence", "not escalated", "escalated"], ...data.bins.map((b) => [`${b.lower.toFixed(1)}–${b.upper.toFixed(1)}`, b.not_escalated, b.escalated])],
      };
    },
  };

  class Dashboard {
    constructor(api) {
      this.api = api;
      this.charts = new Map();
      this.form = document.querySelector("[data-role=controls]");
      this.updated = document.querySelector("[data-role=updated]");
    }

    start() {
      const fromHash = new URLSearchParams(location.hash.slice(1)).get("window");
      if (fromHash && this.form.elements.window.querySelector(`option[value="${CSS.escape(fromHash)}"]`)) {
        this.form.elements.window.value = fromHash;
      }
      this.form.elements.window.addEventListener("change", () => {
        const custom = this.form.elements.window.value === "custom";
        for (const field of document.querySelectorAll("[data-role=custom]")) field.hidden = !custom;
        if (!custom) this.load();
      });
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.load();
      });
      this.load();
      setInterval(() => {
        if (document.visibilityState === "visible" && this.form.elements.window.value !== "custom") this.load();
      }, REFRESH_MS);
    }

    query() {
      const choice = this.form.elements.window.value;
      const params = new URLSearchParams();
      if (choice === "custom") {
        const since = this.form.elements.since.value;
        const until = this.form.elements.until.value;
        if (since) params.set("since", new Date(since).toISOString());
        if (until) params.set("until", new Date(until).toISOString());
      } else {
        const until = new Date();
        params.set("since", new Date(until.getTime() - WINDOWS[choice] * 1000).toISOString());
        params.set("until", until.toISOString());
        history.replaceState(null, "", "#window=" + choice);
      }
      return params.toString();
    }

    async load() {
      const query = this.query();
      this.updated.textContent = "Loading…";
      const cards = [...document.querySelectorAll("[data-chart]")];
      const results = await Promise.allSettled(cards.map((card) => this.loadCard(card, query)));
      const failed = results.filter((r) => r.status === "rejected").length;
      this.updated.textContent = failed ? `${failed} chart(s) failed to load` : "Updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "true";
    }

    async loadCard(card, query) {
      const id = card.dataset.chart;
      const summary = card.querySelector("[data-role=summary]");
      try {
        const data = await this.api.get(`/v1/dashboard/${id}?${query}`);
        const spec = CHARTS[id](data);
        this.draw(card, spec);
        summary.textContent = spec.summary;
        card.querySelector("canvas").setAttribute("aria-label", `${card.querySelector("h2").textContent}: ${spec.summary}`);
        this.table(card, spec.table);
        const points = spec.points;
        card.dataset.points = String(points);
        card.querySelector("[data-role=nodata]").hidden = points > 0;
        card.dataset.state = points > 0 ? "ready" : "empty";
      } catch (error) {
        card.dataset.state = "error";
        summary.textContent = "Could not load: " + error.message;
        throw error;
      }
    }

    draw(card, spec) {
      const canvas = card.querySelector("canvas");
      const datasets = spec.datasets.map((d, i) =>
        Object.assign({ backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length] }, d)
      );
      const existing = this.charts.get(card.dataset.chart);
      if (existing) existing.destroy();
      const chart = new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets },
        options: Object.assign({ responsive: true, plugins: { legend: { position: "bottom" } } }, spec.options, {
          plugins: Object.assign({ legend: { position: "bottom" } }, (spec.options || {}).plugins),
        }),
      });
      this.charts.set(card.dataset.chart, chart);
    }

    table(card, rows) {
      const [head, ...body] = rows;
      clear(
        card.querySelector("[data-role=table]"),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col", text: cell })))),
          h("tbody", {}, body.map((row) => h("tr", {}, row.map((cell) => h("td", { text: cell })))))
        )
      );
    }
  }

  SR.staffPage({
    pageName: "dashboard",
    check: (api) => api.get("/v1/dashboard/volume"),
    start: (api) => new Dashboard(api).start(),
  });
})();
