// skloop ui: the monitoring page's performance chart (vendored uPlot) and the heatmap's active cell.
// The numbers come from the page itself (<script type="application/json" id="perf-data">), the
// same ones as the table under the chart.
(function () {
  "use strict";
  var REALISED = "#2f855a", ESTIMATE = "#6b46c1", REFERENCE = "#718096";

  function drawPerformance() {
    var source = document.getElementById("perf-data");
    var el = document.getElementById("perf-chart");
    if (!source || !el || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    var n = data.labels.length;
    if (!data.metric || n === 0) return;
    var xs = [];
    for (var i = 0; i < n; i++) xs.push(i);
    var r = data.series.realised, e = data.series.estimate;
    var ref = xs.map(function () { return data.reference; });
    var dashed = [4, 4];
    var series = [
      { label: "column", value: function (u, v) { return v == null ? "" : data.labels[v]; } },
      { label: "realised " + data.metric, stroke: REALISED, width: 2, points: { show: true } },
      { label: "realised lower", stroke: REALISED, width: 1, dash: dashed },
      { label: "realised upper", stroke: REALISED, width: 1, dash: dashed },
      { label: "estimated (CBPE)", stroke: ESTIMATE, width: 2, points: { show: true } },
      { label: "estimate lower", stroke: ESTIMATE, width: 1, dash: dashed },
      { label: "estimate upper", stroke: ESTIMATE, width: 1, dash: dashed },
      { label: "training holdout", stroke: REFERENCE, width: 1, dash: [2, 6] }
    ];
    var columns = [xs, r.value, r.lower, r.upper, e.value, e.lower, e.upper, ref];
    var width = Math.min(900, el.clientWidth || 900);  // the box's content width: never wider than the screen
    var opts = {
      width: width, height: 260, series: series, scales: { x: { time: false } },
      bands: [{ series: [3, 2], fill: "rgba(47,133,90,0.12)" }, { series: [6, 5], fill: "rgba(107,70,193,0.10)" }],
      axes: [{ values: function (u, ticks) { return ticks.map(function (t) { return data.labels[t] || ""; }); },
               incrs: [1, 2, 5, 10, 20, 50] }, {}]
    };
    new uPlot(opts, columns, el);
  }

  function markCell(event) {
    var link = event.target.closest ? event.target.closest("table.heatmap td a") : null;
    if (!link) return;
    document.querySelectorAll("table.heatmap td.active").forEach(function (td) { td.classList.remove("active"); });
    link.parentElement.classList.add("active");
  }

  function start() {
    drawPerformance();
    document.addEventListener("click", markCell);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
