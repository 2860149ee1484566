// ember's web UI: the code both pages share (window.EmberUi: formats, fetching, live polling,
// the connection banner) and the streaming statistics page (index.html), which starts when the
// page says <body data-page="streaming">. batch.js builds the batch page on the shared part.
//
// Plain JavaScript run as is, with no build step and nothing from the network: the data comes
// from Spark's REST API under /api/v1 (plus ember's own /streaming/ember endpoint), the charts
// from the vendored uPlot. The page polls instead of holding a connection open, so the server
// stays a plain request/response one and a page left open costs a few small requests per batch.
"use strict";

window.EmberUi = (function () {
  const API = "/api/v1/applications";
  // Polling faster than this buys nothing (a batch is never shorter in practice) and would make
  // an open page cost more than the stream it watches.
  const MIN_POLL_MS = 500;
  // While the server does not answer, retry less and less often: a fetch to a closed port makes
  // the browser log its own network error each time, which no script can silence.
  const MAX_RETRY_MS = 30000;
  const FETCH_TIMEOUT_MS = 10000;

  // ---------------------------------------------------------------------------------------------
  // Formats (Spark's, so that figures read as in Spark's UI)

  const pad = (n, w = 2) => String(n).padStart(w, "0");

  /** Spark's batch time: "2026/12/03 10:00:01", with milliseconds when batches are sub-second. */
  function batchTime(ms, batchDurationMs) {
    const d = new Date(ms);
    const s = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return batchDurationMs !== undefined && batchDurationMs < 1000 ? `${s}.${pad(d.getMilliseconds(), 3)}` : s;
  }

  /** Spark's short duration (UIUtils.formatDuration): "45 ms", "0.3 s", "12 s", "1.5 min", "2.0 h". */
  function duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return "-";
    if (ms < 100) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 1) return `${s.toFixed(1)} s`;
    if (s < 60) return `${s.toFixed(0)} s`;
    const min = s / 60;
    if (min < 10) return `${min.toFixed(1)} min`;
    if (min < 60) return `${min.toFixed(0)} min`;
    return `${(min / 60).toFixed(1)} h`;
  }

  /** Spark's verbose duration (UIUtils.formatDurationVerbose): "1 second", "3 minutes 20 seconds". */
  function durationVerbose(ms) {
    ms = Math.max(0, Math.round(ms));
    const SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
    const WEEK = 7 * DAY, YEAR = 365 * DAY;
    const unit = (n, name) => (n === 0 ? "" : n === 1 ? `1 ${name}` : `${n} ${name}s`);
    const millis = ms >= SECOND && ms % SECOND === 0 ? "" : `${ms % SECOND} ms`;
    const seconds = unit(Math.floor((ms % MINUTE) / SECOND), "second");
    const minutes = unit(Math.floor((ms % HOUR) / MINUTE), "minute");
    const hours = unit(Math.floor((ms % DAY) / HOUR), "hour");
    const days = unit(Math.floor((ms % WEEK) / DAY), "day");
    const weeks = unit(Math.floor((ms % YEAR) / WEEK), "week");
    const years = unit(Math.floor(ms / YEAR), "year");
    const parts = ms < SECOND ? [millis]
      : ms < MINUTE ? [seconds, millis]
      : ms < HOUR ? [minutes, seconds]
      : ms < DAY ? [hours, minutes, seconds]
      : ms < WEEK ? [days, hours, minutes]
      : ms < YEAR ? [weeks, days, hours]
      : [years, weeks, days];
    return parts.filter(Boolean).join(" ") || "0 ms";
  }

  const count = (n) => (n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"));
  const rate = (r) => (r === null || r === undefined ? "-" : `${r.toFixed(2)} records/sec`);

  /** Bytes in binary units, as Spark's Utils.bytesToString. */
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }

  /** Spark's REST dates look like "2026-12-03T10:00:00.000GMT", which Date.parse refuses. */
  function parseSparkDate(s) {
    if (!s) return null;
    const ms = Date.parse(s.replace(/GMT$/, "Z"));
    return Number.isNaN(ms) ? null : ms;
  }

  // ---------------------------------------------------------------------------------------------
  // DOM

  /** el("td", {class: "x"}, "text", child): builds an element; strings become text, never HTML. */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  /** Replaces the rows of a tbody; an empty list shows one row saying so. */
  function fillRows(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows
      : [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))]));
  }

  /** An error message: its first line, the whole text behind a toggle when there is more. */
  function errorCell(text) {
    if (!text) return el("td", {}, "-");
    const [first, ...rest] = String(text).split("\n");
    if (!rest.length) return el("td", { class: "error" }, first);
    return el("td", { class: "error" },
      el("details", {}, el("summary", {}, first), el("pre", {}, String(text))));
  }

  const batchLink = (id, batchDurationMs) =>
    el("a", { href: `/streaming/batch/?id=${id}` }, batchTime(id, batchDurationMs));

  // ---------------------------------------------------------------------------------------------
  // Fetching and polling

  /** An HTTP answer that is not 2xx: the server is there, but says no. */
  class HttpError extends Error {
    constructor(status, text) {
      super(`HTTP ${status}: ${text}`);
      this.status = status;
    }
  }

  async function getJson(path) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(path, { signal: abort.signal, cache: "no-store" });
      if (!r.ok) throw new HttpError(r.status, (await r.text()).trim());
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  /** The application this server runs (one per ember process): its id, name and version. */
  async function application() {
    const apps = await getJson(API);
    if (!apps.length) throw new Error("the server lists no application yet");
    const a = apps[0];
    return { id: a.id, name: a.name, version: (a.attempts[0] || {}).appSparkVersion || "",
      base: `${API}/${encodeURIComponent(a.id)}/streaming` };
  }

  // The connection banner: live, or stopped/unreachable with the time the last figures are from.
  let lastGood = null;
  let warned = false;
  function connected() {
    lastGood = Date.now();
    warned = false;
    const c = document.getElementById("connection");
    c.className = "connection live";
    c.textContent = `live · updated ${new Date(lastGood).toLocaleTimeString()}`;
    document.body.classList.remove("stale");
  }
  function disconnected(err) {
    const c = document.getElementById("connection");
    c.className = "connection down";
    c.textContent = "stream stopped / unreachable" +
      (lastGood ? ` · last figures from ${new Date(lastGood).toLocaleTimeString()}` : "");
    document.body.classList.add("stale");
    // Once per outage: the banner says it all, and a console line per retry would be noise.
    if (!warned) {
      warned = true;
      console.warn(`ember ui: stream stopped or unreachable (${err && err.message}); showing the last figures`);
    }
  }

  /**
   * Runs `tick()` now and again after `interval()` ms each time it succeeds (never overlapping:
   * the next poll is planned when the last one ends). A failure shows the banner, keeps what is
   * on the page and retries with a growing delay; `tick` returns false to stop polling.
   */
  function poll(tick, interval) {
    let retry = 0;
    const run = async () => {
      let wait;
      try {
        const more = await tick();
        connected();
        retry = 0;
        if (more === false) return;
        wait = Math.max(MIN_POLL_MS, interval());
      } catch (err) {
        disconnected(err);
        retry = Math.min(MAX_RETRY_MS, retry ? retry * 2 : Math.max(MIN_POLL_MS, interval()));
        wait = retry;
      }
      setTimeout(run, wait);
    };
    run();
  }

  return { API, MIN_POLL_MS, batchTime, duration, durationVerbose, count, rate, bytes,
    parseSparkDate, el, fillRows, errorCell, batchLink, HttpError, getJson, application, poll };
})();

// =================================================================================================
// The streaming statistics page

(function () {
  if (document.body.dataset.page !== "streaming") return;
  const U = window.EmberUi;
  const { el } = U;
  const PAGE_SIZE = 25; // completed batches per page, as a screenful
  const HISTOGRAM_BINS = 10;

  const METRICS = [
    // [row key, value of a completed batch, axis format, is it a time to compare with the interval?]
    ["inputRate", (b, bd) => (b.inputSize * 1000) / bd, (v) => v.toFixed(0), false],
    ["schedulingDelay", (b) => b.schedulingDelay, U.duration, true],
    ["processingTime", (b) => b.processingTime, U.duration, true],
    ["totalDelay", (b) => b.totalDelay, U.duration, true],
  ];

  let app = null; // {id, name, version, base}
  let batchDuration = 1000;
  let completedPage = 0;
  let lastBatches = [];
  const charts = {}; // metric -> {timeline, histogram}
  let lastChartKey = "";

  // Exposed for people debugging from the console and for the browser test: what each chart drew.
  window.EmberUi.charts = charts;

  // -----------------------------------------------------------------------------------------------
  // Charts

  const COLORS = { line: "#1f77b4", fill: "rgba(31,119,180,0.15)", interval: "#d62728" };

  function chartWidth(cell) {
    return Math.max(240, cell.clientWidth - 8);
  }

  function timelineOpts(cell, format, withInterval, onPick) {
    const series = [
      {},
      { label: "batch", stroke: COLORS.line, fill: COLORS.fill, width: 1.5,
        points: { show: true, size: 5, fill: COLORS.line }, value: (u, v) => (v == null ? "-" : format(v)) },
    ];
    if (withInterval) {
      // The batch interval as a dashed line: the stream keeps up while the points stay under it.
      series.push({ label: "batch interval", stroke: COLORS.interval, width: 1, dash: [6, 4],
        points: { show: false }, value: (u, v) => (v == null ? "-" : format(v)) });
    }
    return {
      width: chartWidth(cell), height: 180,
      series,
      scales: { y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] } },
      axes: [{}, { size: 60, values: (u, vals) => vals.map(format) }],
      cursor: { drag: { x: false, y: false } },
      hooks: { ready: [(u) => u.over.addEventListener("click", () => onPick(u))] },
    };
  }

  function histogramOpts(cell, format) {
    return {
      width: chartWidth(cell), height: 180,
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
      series: [
        { value: (u, v) => (v == null ? "-" : format(v)) },
        { label: "batches", stroke: COLORS.line, fill: COLORS.fill, width: 1,
          paths: uPlot.paths.bars({ size: [0.9, 80] }), points: { show: false } },
      ],
      axes: [{ values: (u, vals) => vals.map(format) }, { size: 40 }],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  /** Bins the values into at most HISTOGRAM_BINS equal bins: [bin centres, counts]. */
  function histogram(values) {
    if (!values.length) return [[], []];
    const min = Math.min(...values), max = Math.max(...values);
    const bins = max === min ? 1 : Math.min(HISTOGRAM_BINS, values.length);
    const width = max === min ? 1 : (max - min) / bins;
    const counts = new Array(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor((v - min) / width))]++;
    const centres = counts.map((_, i) => (max === min ? min : min + (i + 0.5) * width));
    return [centres, counts];
  }

  function openBatchAt(u) {
    const i = u.cursor.idx;
    if (i === null || i === undefined) return;
    const ms = Math.round(u.data[0][i] * 1000);
    window.location.href = `/streaming/batch/?id=${ms}`;
  }

  /** Redraws the eight charts from the completed batches (oldest first), only when they changed. */
  function drawCharts(completed) {
    const key = `${completed.length}:${completed.length ? completed[completed.length - 1].batchId : ""}:${batchDuration}`;
    if (key === lastChartKey) return;
    lastChartKey = key;
    const xs = completed.map((b) => b.batchId / 1000); // uPlot's time axis is in seconds
    for (const [metric, value, format, withInterval] of METRICS) {
      const row = document.querySelector(`tr[data-metric="${metric}"]`);
      const ys = completed.map((b) => {
        const v = value(b, batchDuration);
        return v === undefined ? null : v;
      });
      const timeline = [xs, ys];
      if (withInterval) timeline.push(xs.map(() => batchDuration));
      const hist = histogram(ys.filter((v) => v !== null));
      let c = charts[metric];
      if (!c) {
        const tCell = row.querySelector("[data-timeline]"), hCell = row.querySelector("[data-histogram]");
        c = charts[metric] = {
          timeline: new uPlot(timelineOpts(tCell, format, withInterval, openBatchAt), timeline, tCell),
          histogram: new uPlot(histogramOpts(hCell, format), hist, hCell),
        };
      } else {
        c.timeline.setData(timeline);
        c.histogram.setData(hist);
      }
    }
  }

  window.addEventListener("resize", () => {
    for (const metric of Object.keys(charts)) {
      const row = document.querySelector(`tr[data-metric="${metric}"]`);
      const { timeline, histogram } = charts[metric];
      timeline.setSize({ width: chartWidth(row.querySelector("[data-timeline]")), height: 180 });
      histogram.setSize({ width: chartWidth(row.querySelector("[data-histogram]")), height: 180 });
    }
  });

  // -----------------------------------------------------------------------------------------------
  // Header, averages, receivers

  function drawSummary(stats, extras) {
    const s = document.getElementById("summary");
    const start = U.parseSparkDate(stats.startTime) ?? extras.startTimeEpoch;
    s.replaceChildren(
      "Running batches of ", el("strong", {}, U.durationVerbose(stats.batchDuration)),
      " for ", el("strong", {}, U.durationVerbose(extras.uptime)),
      " since ", el("strong", {}, U.batchTime(start)),
      " (", el("strong", {}, U.count(stats.numTotalCompletedBatches)), " completed batches, ",
      el("strong", {}, U.count(stats.numReceivedRecords)), " records)");
    document.getElementById("timelines-title").textContent =
      `Timelines (Last ${stats.numRetainedCompletedBatches} batches, ${stats.numActiveBatches} active, ` +
      `${stats.numTotalCompletedBatches} completed)`;
    const avg = {
      inputRate: stats.avgInputRate == null ? "-" : `Avg: ${U.rate(stats.avgInputRate)}`,
      schedulingDelay: stats.avgSchedulingDelay == null ? "-" : `Avg: ${U.duration(stats.avgSchedulingDelay)}`,
      processingTime: stats.avgProcessingTime == null ? "-" : `Avg: ${U.duration(stats.avgProcessingTime)}`,
      totalDelay: stats.avgTotalDelay == null ? "-" : `Avg: ${U.duration(stats.avgTotalDelay)}`,
    };
    for (const [metric, text] of Object.entries(avg)) {
      document.querySelector(`tr[data-metric="${metric}"] [data-avg]`).textContent = text;
    }
  }

  function drawReceivers(stats, receivers) {
    document.getElementById("receivers-title").textContent =
      `Receivers: ${stats.numActiveReceivers} / ${stats.numReceivers} active`;
    const rows = receivers.map((r) => {
      const last = r.eventRates && r.eventRates.length ? r.eventRates[r.eventRates.length - 1][1] : null;
      return el("tr", {},
        el("td", {}, r.streamName || `stream ${r.streamId}`),
        el("td", { class: r.isActive ? "ok" : "bad" }, r.isActive ? "ACTIVE" : "INACTIVE"),
        el("td", {}, `${r.executorId || "-"} / ${r.executorHost || "-"}`),
        el("td", { class: "num" }, U.rate(r.avgEventRate)),
        el("td", { class: "num" }, U.rate(last)),
        el("td", {}, r.lastErrorTime ? U.batchTime(U.parseSparkDate(r.lastErrorTime)) : "-"),
        U.errorCell(r.lastErrorMessage || r.lastError));
    });
    U.fillRows(document.querySelector("#receivers tbody"), rows, 7, "This stream has no receivers.");
  }

  // -----------------------------------------------------------------------------------------------
  // ember's own figures

  function drawExtras(x) {
    const sources = x.sources.map((s) => el("tr", {},
      el("td", { class: "num" }, s.streamId),
      el("td", {}, `${s.name} (${s.kind})`),
      el("td", { class: "num" }, U.count(s.receivedRecords)),
      el("td", { class: "num" }, U.count(s.processedRecords)),
      el("td", { class: "num" + (s.lagRecords > 0 ? " warn" : "") }, U.count(s.lagRecords)),
      el("td", { class: "num" }, s.rateLimit == null ? "none" : U.rate(s.rateLimit)),
      el("td", { class: s.throttled ? "warn" : "" }, s.throttled ? "yes" : "no")));
    U.fillRows(document.querySelector("#sources tbody"), sources, 7, "No sources.");

    const state = x.state.map((s) => el("tr", {},
      el("td", { class: "num" }, s.streamId), el("td", {}, s.name),
      el("td", { class: "num" }, U.count(s.keys)), el("td", { class: "num" }, U.bytes(s.bytes))));
    U.fillRows(document.querySelector("#state tbody"), state, 4, "No stateful streams.");

    document.getElementById("wal").textContent = x.wal.enabled
      ? `enabled · ${U.bytes(x.wal.bytes)} on disk` : "disabled";

    const progress = x.progress.map((p) => el("tr", {},
      el("td", {}, p.task),
      el("td", {}, el("progress", { value: p.done, max: Math.max(1, p.total) })),
      el("td", { class: "num" }, `${U.count(p.done)} / ${U.count(p.total)}`),
      el("td", {}, p.finished ? "finished" : "running")));
    document.getElementById("progress-block").hidden = !progress.length;
    U.fillRows(document.querySelector("#progress tbody"), progress, 4, "");

    document.getElementById("checkpoints-title").textContent = `Checkpoints (${x.checkpoints.length})`;
    const checkpoints = x.checkpoints.map((c) => el("tr", {},
      el("td", {}, U.batchTime(c.batchTimeEpoch, batchDuration)),
      el("td", {}, U.batchTime(c.startTimeEpoch, 1)),
      el("td", { class: "num" }, U.duration(c.durationMs)),
      el("td", { class: "num" }, U.bytes(c.bytes)),
      el("td", {}, c.kind),
      el("td", { class: c.status === "ok" ? "ok" : "bad" }, c.status),
      U.errorCell(c.error)));
    U.fillRows(document.querySelector("#checkpoints tbody"), checkpoints, 7,
      "No checkpoints (the stream has no checkpoint directory, or none was written yet).");

    const kill = document.getElementById("kill");
    kill.hidden = !x.killEnabled;
  }

  // -----------------------------------------------------------------------------------------------
  // Batch tables

  const BATCH_COLUMNS = ["Batch Time", "Records", "Scheduling Delay", "Processing Time", "Total Delay",
    "Output Ops: Succeeded/Total", "Status", "Error"];

  function batchRow(b) {
    const ok = b.numCompletedOutputOps - b.numFailedOutputOps;
    const status = b.status === "COMPLETED" ? (b.numFailedOutputOps ? "failed" : "completed")
      : b.status.toLowerCase(); // Spark shows "processing" / "queued" for active batches
    return el("tr", { "data-batch": b.batchId },
      el("td", {}, U.batchLink(b.batchId, batchDuration)),
      el("td", { class: "num" }, `${U.count(b.inputSize)} records`),
      el("td", { class: "num" }, U.duration(b.schedulingDelay)),
      el("td", { class: "num" }, U.duration(b.processingTime)),
      el("td", { class: "num" }, U.duration(b.totalDelay)),
      el("td", { class: "num" }, `${ok}/${b.numTotalOutputOps}` +
        (b.numFailedOutputOps ? ` (${b.numFailedOutputOps} failed)` : "")),
      el("td", { class: b.numFailedOutputOps ? "bad" : "" }, status),
      U.errorCell(b.firstFailureReason));
  }

  function drawBatchTable(id, title, batches) {
    const table = document.getElementById(id);
    if (!table.tHead.rows.length) {
      table.tHead.append(el("tr", {}, BATCH_COLUMNS.map((c) => el("th", {}, c))));
    }
    document.getElementById(`${id}-title`).textContent = title;
    U.fillRows(table.tBodies[0], batches.map(batchRow), BATCH_COLUMNS.length, "No batches.");
  }

  function drawCompleted(stats) {
    const completed = lastBatches.filter((b) => b.status === "COMPLETED"); // newest first
    const pages = Math.max(1, Math.ceil(completed.length / PAGE_SIZE));
    completedPage = Math.min(completedPage, pages - 1);
    const shown = completed.slice(completedPage * PAGE_SIZE, (completedPage + 1) * PAGE_SIZE);
    drawBatchTable("completed",
      `Completed Batches (last ${completed.length} out of ${stats ? stats.numTotalCompletedBatches : completed.length})`,
      shown);
    const pager = document.getElementById("completed-pager");
    pager.hidden = pages < 2;
    pager.querySelector("[data-label]").textContent = `page ${completedPage + 1} of ${pages}`;
    pager.querySelector('[data-step="-1"]').disabled = completedPage === 0;
    pager.querySelector('[data-step="1"]').disabled = completedPage >= pages - 1;
  }

  let lastStats = null;
  document.getElementById("completed-pager").addEventListener("click", (e) => {
    const step = Number(e.target.dataset && e.target.dataset.step);
    if (!step) return;
    completedPage = Math.max(0, completedPage + step);
    drawCompleted(lastStats);
  });

  document.getElementById("kill").addEventListener("click", async () => {
    if (!window.confirm("Stop the stream gracefully?")) return;
    const r = await fetch("/streaming/kill/", { method: "POST" });
    document.getElementById("kill").textContent = r.ok ? "stopping…" : `kill refused (${r.status})`;
  });

  // -----------------------------------------------------------------------------------------------
  // One poll

  async function tick() {
    try {
      if (!app) {
        app = await U.application();
        document.getElementById("app-name").textContent = `${app.name} · ${app.version}`;
        document.title = `${app.name} - Streaming Statistics`;
      }
      const [stats, receivers, batches, extras] = await Promise.all([
        U.getJson(`${app.base}/statistics`), U.getJson(`${app.base}/receivers`),
        U.getJson(`${app.base}/batches`), U.getJson(`${app.base}/ember`)]);
      batchDuration = stats.batchDuration;
      lastBatches = batches;
      lastStats = stats;
      drawSummary(stats, extras);
      drawReceivers(stats, receivers);
      drawExtras(extras);
      const byStatus = (s) => batches.filter((b) => b.status === s);
      drawBatchTable("running", `Running Batches (${byStatus("PROCESSING").length})`, byStatus("PROCESSING"));
      drawBatchTable("waiting", `Waiting Batches (${byStatus("QUEUED").length})`, byStatus("QUEUED"));
      drawCompleted(stats);
      drawCharts(byStatus("COMPLETED").reverse());
    } catch (err) {
      // Another process may now answer on this port (a restarted stream): find its app again.
      if (err instanceof U.HttpError && err.status === 404) app = null;
      throw err;
    }
  }

  U.poll(tick, () => batchDuration);
})();
