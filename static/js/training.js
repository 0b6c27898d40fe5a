// Live progress of open training runs: polls each open run's status endpoint
// and updates its progress bar, step counter, loss and validation score.
(function () {
  "use strict";
  const open = ["queued", "running"];
  const rows = Array.from(document.querySelectorAll("[data-run-status-url]"));
  function fmt(x) { return x === null || x === undefined ? "" : Number(x).toFixed(4); }
  async function poll() {
    let anyOpen = false;
    for (const row of rows) {
      if (!open.includes(row.dataset.status)) continue;
      const response = await fetch(row.dataset.runStatusUrl, { headers: { Accept: "application/json", "X-Chexgold-Background": "1" } });
      if (!response.ok) continue;
      const data = await response.json();
      const p = data.progress || {};
      row.querySelector("progress").value = data.fraction;
      row.querySelector(".status").textContent = data.status + (data.cancel_requested && data.status === "running" ? " (stopping)" : "");
      if (p.total_steps) row.querySelector(".steps").textContent = `step ${p.step}/${p.total_steps}, epoch ${p.epoch}/${p.epochs}`;
      row.querySelector(".loss").textContent = fmt(p.loss);
      row.querySelector(".val").textContent = fmt(p.val_score);
      if (open.includes(data.status)) anyOpen = true;
      else if (row.dataset.status !== data.status) { window.location.reload(); return; }
      row.dataset.status = data.status;
    }
    if (anyOpen) window.setTimeout(poll, 2000);
  }
  for (const row of rows) {
    if (open.includes(row.dataset.status)) { window.setTimeout(poll, 500); break; }
  }
})();
