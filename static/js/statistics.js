// Statistics dashboard charts (Chart.js, vendored in static/vendor/chartjs).
// Every chart draws figures that are also in a table on the page (its text alternative).
(function () {
  "use strict";
  const el = document.getElementById("statistics-data");
  if (!el || typeof Chart === "undefined") return;
  const data = JSON.parse(el.textContent);
  const palette = ["#1f6fb2", "#e07b00", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#546e7a"];
  const short = (s) => s.replace("Enlarged Cardiomediastinum", "Enl. Cardiomed.").replace("Support Devices", "Support Dev.");

  // Whiskers: draws [low, high] of each bar from dataset.intervals.
  const whiskers = {
    id: "whiskers",
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      chart.data.datasets.forEach((ds, i) => {
        if (!ds.intervals || !chart.isDatasetVisible(i)) return;
        const meta = chart.getDatasetMeta(i);
        const y = chart.scales.y;
        ctx.save();
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 1;
        meta.data.forEach((bar, j) => {
          const iv = ds.intervals[j];
          if (!iv || iv.low === null || iv.high === null) return;
          const x = bar.x, lo = y.getPixelForValue(iv.low), hi = y.getPixelForValue(iv.high), w = Math.min(8, bar.width / 3 || 4);
          ctx.beginPath();
          ctx.moveTo(x, lo); ctx.lineTo(x, hi);
          ctx.moveTo(x - w, lo); ctx.lineTo(x + w, lo);
          ctx.moveTo(x - w, hi); ctx.lineTo(x + w, hi);
          ctx.stroke();
        });
        ctx.restore();
      });
    },
  };
  const ciLabel = (iv) => (iv && iv.low !== null ? ` (95% CI ${iv.low.toFixed(3)}–${iv.high.toFixed(3)})` : "");
  const tooltip = { callbacks: { label: (c) => `${c.dataset.label}: ${c.raw === null ? "undefined" : c.raw.toFixed(3)}${ciLabel(c.dataset.intervals && c.dataset.intervals[c.dataIndex])}` } };

  const agreementCanvas = document.getElementById("chart-agreement");
  const statSelect = document.getElementById("chart-agreement-stat");
  let agreementChart = null;
  function drawAgreement() {
    const key = statSelect.value;
    const rows = data.agreement.observations;
    const intervals = rows.map((o) => o[key]);
    const label = statSelect.options[statSelect.selectedIndex].text;
    const cfg = {
      type: "bar",
      data: { labels: rows.map((o) => short(o.observation)), datasets: [{ label, data: intervals.map((iv) => iv.value), intervals, backgroundColor: palette[0] }] },
      options: { animation: false, responsive: true, scales: { y: { min: key === "percent_agreement" ? 0 : -0.2, max: 1 } }, plugins: { tooltip, legend: { display: false } } },
      plugins: [whiskers],
    };
    if (agreementChart) agreementChart.destroy();
    agreementChart = new Chart(agreementCanvas, cfg);
    agreementCanvas.setAttribute("aria-label", `Bar chart of ${label} per observation with 95% interval whiskers: ` +
      rows.map((o) => `${o.observation} ${o[key].value === null ? "undefined" : o[key].value.toFixed(2)}`).join("; "));
  }
  if (agreementCanvas) { drawAgreement(); statSelect.addEventListener("change", drawAgreement); }

  const labelersCanvas = document.getElementById("chart-labelers");
  if (labelersCanvas) {
    new Chart(labelersCanvas, {
      type: "bar",
      data: {
        labels: data.observations.map(short),
        datasets: data.labelers.map((lab, i) => ({
          label: lab.name, data: lab.weighted_f1.map((iv) => iv.value), intervals: lab.weighted_f1, backgroundColor: palette[i % palette.length],
        })),
      },
      options: { animation: false, responsive: true, scales: { y: { min: 0, max: 1 } }, plugins: { tooltip } },
      plugins: [whiskers],
    });
  }

  const trendCanvas = document.getElementById("chart-trend");
  if (trendCanvas) {
    const intervals = data.trend.map((t) => t.mean_weighted_f1);
    new Chart(trendCanvas, {
      type: "line",
      data: {
        labels: data.trend.map((t) => `${t.name} (${(t.created_at || "").slice(0, 10)})`),
        datasets: [
          { label: "Mean weighted F1", data: intervals.map((iv) => iv.value), intervals, borderColor: palette[0], backgroundColor: palette[0] },
          { label: "95% CI low", data: intervals.map((iv) => iv.low), borderColor: "#9bb7d4", borderDash: [4, 4], pointRadius: 0, fill: false },
          { label: "95% CI high", data: intervals.map((iv) => iv.high), borderColor: "#9bb7d4", borderDash: [4, 4], pointRadius: 0, fill: "-1", backgroundColor: "rgba(31,111,178,0.1)" },
        ],
      },
      options: { animation: false, responsive: true, scales: { y: { min: 0, max: 1 } }, plugins: { tooltip } },
    });
  }

  // Confusion heat maps: shade each cell by its share of the table's largest count.
  document.querySelectorAll("table[data-heatmap]").forEach((table) => {
    const cells = Array.from(table.querySelectorAll("td[data-count]"));
    const max = Math.max(1, ...cells.map((c) => Number(c.dataset.count)));
    cells.forEach((c) => {
      const share = Number(c.dataset.count) / max;
      c.style.backgroundColor = `rgba(31, 111, 178, ${(0.08 + 0.85 * share).toFixed(3)})`;
      if (share > 0.5) c.style.color = "#fff";
    });
  });
})();
