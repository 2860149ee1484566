// The batch page (batch.html): one batch's figures and its output operations, from
// .../streaming/batches and .../batches/{id}/operations. It polls like the statistics page while
// the batch is still queued or running, and stops once the batch has completed, since a
// completed batch never changes. Uses the shared code of app.js (window.EmberUi).
"use strict";

(function () {
  const U = window.EmberUi;
  const { el } = U;
  const id = new URLSearchParams(window.location.search).get("id");
  let app = null;
  let batchDuration = 1000;

  function problem(text) {
    const p = document.getElementById("problem");
    p.hidden = !text;
    p.textContent = text || "";
  }

  if (!/^\d+$/.test(id || "")) {
    problem(`This page needs a batch: /streaming/batch/?id=<batch time in ms> (got ${JSON.stringify(id)}).`);
    return;
  }
  const batchId = Number(id);

  function fact(name, text) {
    document.querySelector(`[data-fact="${name}"]`).textContent = text;
  }

  function drawBatch(b) {
    batchDuration = b.batchDuration;
    document.getElementById("title").textContent = `Details of batch at ${U.batchTime(b.batchId, b.batchDuration)}`;
    document.title = `Batch ${U.batchTime(b.batchId, b.batchDuration)}`;
    fact("batchDuration", U.durationVerbose(b.batchDuration));
    fact("inputSize", `${U.count(b.inputSize)} records`);
    fact("schedulingDelay", U.duration(b.schedulingDelay));
    fact("processingTime", U.duration(b.processingTime));
    fact("totalDelay", U.duration(b.totalDelay));
    fact("status", b.status === "COMPLETED" && b.numFailedOutputOps
      ? `COMPLETED with ${b.numFailedOutputOps} failed output operation(s)` : b.status);
  }

  function drawOperations(ops) {
    ops.sort((a, b) => a.outputOpId - b.outputOpId);
    const rows = ops.map((op) => {
      const ended = U.parseSparkDate(op.endTime);
      const status = op.failureReason ? "Failed" : ended === null ? "Running" : "Succeeded";
      return el("tr", { "data-op": op.outputOpId },
        el("td", { class: "num" }, op.outputOpId),
        el("td", {}, op.description && op.description !== op.name
          ? el("details", {}, el("summary", {}, op.name), el("pre", {}, op.description))
          : op.name),
        el("td", { class: "num" }, ended === null ? "-" : U.duration(op.duration)),
        el("td", { class: status === "Failed" ? "bad" : status === "Succeeded" ? "ok" : "" }, status),
        el("td", {}, op.startTime ? U.batchTime(U.parseSparkDate(op.startTime), 1) : "-"),
        U.errorCell(op.failureReason));
    });
    document.getElementById("operations-title").textContent = `Output Operations (${ops.length})`;
    U.fillRows(document.querySelector("#operations tbody"), rows, 6, "No output operation has started yet.");
  }

  async function tick() {
    if (!app) {
      app = await U.application();
      document.getElementById("app-name").textContent = `${app.name} · ${app.version}`;
    }
    // The list holds every retained batch; Spark's API has no single-batch path in its contract here.
    const batches = await U.getJson(`${app.base}/batches`);
    const b = batches.find((x) => x.batchId === batchId);
    if (!b) {
      problem(`unknown batch: ${batchId} (not run yet, or older than the retained batches)`);
      return true;
    }
    problem(null);
    drawBatch(b);
    let ops = [];
    try {
      ops = await U.getJson(`${app.base}/batches/${batchId}/operations`);
    } catch (err) {
      // A batch that has not started has no operations yet: not an outage.
      if (!(err instanceof U.HttpError && err.status === 404)) throw err;
    }
    drawOperations(ops);
    return b.status !== "COMPLETED";
  }

  U.poll(tick, () => batchDuration);
})();
