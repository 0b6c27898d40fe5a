// Polls the status of running jobs (rows with data-import-status-url) and
// updates their progress bars until they finish; reloads to show the result.
(function () {
  "use strict";
  const running = ["pending", "validating", "importing"];
  const rows = Array.from(document.querySelectorAll("[data-import-status-url]"))
    .filter((row) => running.includes(row.dataset.status));
  if (!rows.length) return;
  async function poll() {
    let stillRunning = 0;
    for (const row of rows) {
      if (!running.includes(row.dataset.status)) continue;
      const response = await fetch(row.dataset.importStatusUrl, { headers: { Accept: "application/json", "X-Chexgold-Background": "1" } });
      if (!response.ok) continue;
      const data = await response.json();
      row.dataset.status = data.status;
      row.querySelector("progress").value = data.progress;
      row.querySelector(".status").textContent = data.status;
      row.querySelector(".rows-read").textContent = data.rows_read;
      if (running.includes(data.status)) stillRunning += 1;
      else { window.location.reload(); return; }
    }
    if (stillRunning) window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
