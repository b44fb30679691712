/* The live dashboard: polls the monitoring and status endpoints every few seconds and draws
 * v3 beside v4. The admin token (from the sign-in form) lives in sessionStorage only. */
(function () {
  "use strict";
  const POLL_MS = 3000;
  const TOKEN_KEY = "bistro.dashboard.token";
  const C = { v3: "#f5a524", v4: "#3fb8f5", cache: "#4cc38a" };
  const $ = (id) => document.getElementById(id);
  const { lineChart, barChart } = window.BistroCharts;
  let timer = null;
  let polls = 0;

  function headers() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: "Bearer " + token } : {};
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: headers() });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { status: response.status, body };
  }

  function showLogin(message) {
    $("main").hidden = true;
    $("login").hidden = false;
    $("sign-out").hidden = true;
    $("login-error").textContent = message || "";
    $("status-line").textContent = "sign-in required";
  }

  function text(el, value) { el.textContent = value; return el; }
  function li(content, cls) {
    const item = document.createElement("li");
    if (cls) item.className = cls;
    item.textContent = content;
    return item;
  }
  function pct(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(2) + " %"; }
  function ms(value) { return value === null || value === undefined ? "–" : value.toFixed(1) + " ms"; }

  function drawSummary(versions) {
    const box = $("summary");
    box.innerHTML = "";
    for (const version of ["v3", "v4"]) {
      const v = versions[version];
      const tile = document.createElement("div");
      tile.className = "tile " + version;
      tile.dataset.version = version;
      const lat = v.latency_ms;
      tile.innerHTML = "";
      tile.appendChild(text(document.createElement("div"), version.toUpperCase()));
      tile.appendChild(text(document.createElement("div"), v.requests + " requests · " + v.rps + " req/s")).className = "big";
      tile.appendChild(text(document.createElement("div"),
        "errors " + pct(v.error_rate) + " · p50 " + ms(lat.p50) + " · p95 " + ms(lat.p95) + " · p99 " + ms(lat.p99)));
      tile.appendChild(text(document.createElement("div"),
        "avg " + ms(lat.avg) + (version === "v4" ? " · cache hit " + pct(v.cache_hit_rate) : " · no cache (baseline)"))).className = "muted";
      box.appendChild(tile);
    }
  }

  function drawCharts(data) {
    const ts = data.timeseries;
    const s = ts.series;
    // Both versions on one chart and one scale: a v4 regression is visible at a glance.
    const latency = [];
    for (const version of ["v3", "v4"]) {
      latency.push(
        { name: version + " p50", color: C[version], values: s[version].p50, width: 1.5 },
        { name: version + " p95", color: C[version], values: s[version].p95, dash: [6, 3] },
        { name: version + " p99", color: C[version], values: s[version].p99, dash: [2, 3], width: 1 },
      );
    }
    lineChart($("chart-latency"), { times: ts.times, unit: "", series: latency });
    const toPct = (values) => values.map((v) => (v === null ? null : v * 100));
    lineChart($("chart-errors"), {
      times: ts.times, unit: "%",
      series: [
        { name: "v3", color: C.v3, values: toPct(s.v3.error_rate) },
        { name: "v4", color: C.v4, values: toPct(s.v4.error_rate) },
      ],
    });
    lineChart($("chart-throughput"), {
      times: ts.times, unit: "",
      series: [
        { name: "v3", color: C.v3, values: s.v3.rps },
        { name: "v4", color: C.v4, values: s.v4.rps },
      ],
    });
    lineChart($("chart-cache"), {
      times: ts.times, unit: "%", yMax: 100,
      series: [{ name: "v4 cache", color: C.cache, values: toPct(s.cache_hit_rate) }],
    });
  }

  function drawAlerts(alerts) {
    const active = $("alerts");
    active.innerHTML = "";
    if (!alerts.active.length) active.appendChild(li("No active alerts", "resolved"));
    for (const a of alerts.active) {
      active.appendChild(li("FIRING " + a.rule + " (" + a.subject + "): " + a.message + " since " +
        new Date(a.since).toLocaleTimeString(), "firing"));
    }
    const history = $("alert-history");
    history.innerHTML = "";
    if (!alerts.recent.length) history.appendChild(li("No alert events yet", "muted"));
    for (const e of alerts.recent) {
      history.appendChild(li(new Date(e.at).toLocaleTimeString() + " " + e.state.toUpperCase() +
        " " + e.rule + " (" + e.subject + "): " + e.message, e.state));
    }
  }

  function flagList(flags) {
    if (!flags) return [];
    const list = Array.isArray(flags) ? flags : Object.entries(flags).map(([name, f]) => ({ name, ...f }));
    return list.map((f) => ({
      name: f.name, stage: f.stage, routing: f.routing !== false,
      percentage: Number(f.percentage || 0), source: f.source && f.source.percentage,
    })).filter((f) => f.name);
  }

  function drawRollout(data) {
    const note = $("rollout-note");
    const flags = flagList(data.flags);
    barChart($("chart-rollout"), flags.map((f) => ({
      label: f.name.replace(/^api_v4_/, "v4 "), value: f.percentage,
      color: f.routing ? (f.percentage >= 100 ? C.cache : C.v4) : "#8b98a5",
      caption: f.percentage + "% · " + (f.stage || "?"),
    })), 100);
    note.textContent = data.flags === undefined
      ? "Flag status is not available on this service."
      : (flags.length ? "grey: sub-feature switches" : "No flags reported.");
    drawController(data.rollout);
  }

  function num(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  // The one line of numbers behind a decision: error rates, p95s and the verdict's reasons.
  function decisionNumbers(numbers) {
    const checks = (numbers && numbers.checks) || {};
    const parts = [];
    const c = checks.canary || {};
    const b = checks.baseline || {};
    for (const [name, side] of [["v4", c], ["v3", b]]) {
      if (side.requests === undefined) continue;
      parts.push(name + " " + side.requests + " req, " + num(side.error_rate_percent, 2) +
        " % 5xx, p95 " + num(side.p95_ms, 1) + " ms");
    }
    return parts.join(" · ");
  }

  async function act(flag, verb, body) {
    const result = $("rollout-action-result");
    const response = await fetch("/api/v4/migration/rollout/" + verb, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, headers()),
      body: JSON.stringify(Object.assign({ flag: flag, reason: "from the dashboard" }, body || {})),
    });
    const answer = await response.json().catch(() => null);
    const what = verb === "force" ? "roll back" : verb;
    result.textContent = response.status === 200
      ? flag + ": " + what + " done"
      : flag + ": " + what + " refused (" + ((answer && answer.error) || "HTTP " + response.status) + ")";
    result.dataset.status = String(response.status);
    poll();
  }

  function button(label, flag, verb, body, enabled) {
    const b = document.createElement("button");
    b.textContent = label;
    b.dataset.action = verb === "force" ? "rollback" : verb;
    b.dataset.flag = flag;
    b.disabled = !enabled;
    b.addEventListener("click", () => {
      if (verb === "force" && !window.confirm("Roll " + flag + " back to v3 for everyone?")) return;
      act(flag, verb, body);
    });
    return b;
  }

  function drawController(rollout) {
    rollout = rollout || {};
    const line = $("controller-line");
    line.textContent = rollout.controller
      ? "controller: " + rollout.controller.instance
      : "no instance holds the controller lease";
    const body = $("rollouts").querySelector("tbody");
    body.innerHTML = "";
    const rows = rollout.rollouts || [];
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6;
      td.className = "muted";
      td.textContent = "No rollout started (bistro rollout start).";
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.dataset.flag = r.flag;
      tr.dataset.state = r.state;
      tr.dataset.percentage = String(r.percentage);
      const next = r.next || {};
      const cells = [
        r.flag.replace(/^api_v4_/, ""),
        r.state + (r.dry_run ? " (dry run)" : ""),
        String(r.percentage),
        r.last_verdict || "–",
        (next.action || "") + (next.at ? " at " + new Date(next.at).toLocaleTimeString() : ""),
      ];
      for (const c of cells) tr.appendChild(text(document.createElement("td"), c));
      const actions = document.createElement("td");
      const active = r.state === "running" || r.state === "paused";
      actions.appendChild(button("Pause", r.flag, "pause", null, r.state === "running"));
      actions.appendChild(button("Resume", r.flag, "resume", null, r.state === "paused"));
      actions.appendChild(button("Promote", r.flag, "promote", null, active));
      actions.appendChild(button("Roll back", r.flag, "force", { percentage: 0 }, active));
      tr.appendChild(actions);
      body.appendChild(tr);
    }
    const decisions = $("decisions");
    decisions.innerHTML = "";
    const items = rollout.decisions || [];
    if (!items.length) decisions.appendChild(li("No controller decisions yet.", "muted"));
    for (const d of items) {
      const item = li(new Date(d.at).toLocaleTimeString() + " " + d.flag.replace(/^api_v4_/, "") + " " +
        d.action + (d.verdict ? " [" + d.verdict + "]" : "") + " " + d.from_percentage + " → " +
        d.to_percentage + " % by " + d.actor + ": " + d.reason, d.action);
      const numbers = decisionNumbers(d.numbers);
      if (numbers) {
        const small = document.createElement("div");
        small.className = "muted";
        small.textContent = numbers;
        item.appendChild(small);
      }
      decisions.appendChild(item);
    }
  }

  function drawParity(parity) {
    const table = $("parity");
    const examples = $("parity-examples");
    table.innerHTML = "";
    examples.innerHTML = "";
    if (!parity) {
      examples.appendChild(li("Parity figures are not available on this service.", "muted"));
      return;
    }
    const columns = ["group", "compared", "mismatched", "rate", "noise", "errors", "skipped",
      "dropped"];
    const head = document.createElement("tr");
    for (const name of columns) {
      const th = document.createElement("th");
      th.textContent = name;
      head.appendChild(th);
    }
    table.appendChild(head);
    const rows = Object.entries(parity.groups).concat([["all", parity.overall]]);
    for (const [group, counts] of rows) {
      const tr = document.createElement("tr");
      tr.dataset.group = group;
      for (const name of columns) {
        const td = document.createElement("td");
        if (name === "group") td.textContent = group;
        else if (name === "rate") {
          td.textContent = counts.mismatch_rate === null ? "-"
            : (counts.mismatch_rate * 100).toFixed(2) + "%";
        } else td.textContent = String(counts[name]);
        tr.appendChild(td);
      }
      table.appendChild(tr);
    }
    if (!parity.examples.length) examples.appendChild(li("No mismatches in the store.", "muted"));
    for (const e of parity.examples) {
      const first = e.differences[0] || {};
      examples.appendChild(li(e.endpoint + " " + e.path + (e.query ? "?" + e.query : "") +
        ": " + (first.path || "") + " v3 " + JSON.stringify(first.v3) + " v4 " +
        JSON.stringify(first.v4), "firing"));
    }
  }

  async function poll() {
    const windowValue = $("window").value;
    try {
      const monitoring = await getJSON("/api/v4/migration/monitoring?window=" + windowValue);
      if (monitoring.status === 401 || monitoring.status === 403) {
        showLogin(monitoring.status === 403 ? "That account is not an admin." : "");
        return;
      }
      if (monitoring.status !== 200) {
        $("status-line").textContent = "monitoring unavailable (HTTP " + monitoring.status + ")";
        return;
      }
      $("login").hidden = true;
      $("main").hidden = false;
      $("sign-out").hidden = !sessionStorage.getItem(TOKEN_KEY);
      const data = monitoring.body.data;
      drawSummary(data.versions);
      drawCharts(data);
      drawAlerts(data.alerts);
      drawRollout(data);
      drawParity(data.parity);
      polls += 1;
      document.body.dataset.polls = String(polls);
      $("status-line").textContent = "updated " + new Date().toLocaleTimeString() +
        " · every " + POLL_MS / 1000 + " s · all instances";
    } catch (error) {
      $("status-line").textContent = "connection problem: " + error;
    }
  }

  function start() {
    if (timer) clearInterval(timer);
    poll();
    timer = setInterval(poll, POLL_MS);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/v4/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: $("email").value, password: $("password").value }),
    });
    const body = await response.json().catch(() => null);
    if (response.status !== 200 || !body) {
      $("login-error").textContent = (body && body.error) || "Sign-in failed";
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, body.data.token);
    $("password").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(""); });
  $("window").addEventListener("change", start);
  start();
})();
