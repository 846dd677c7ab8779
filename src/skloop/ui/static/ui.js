// skloop ui: draws the per-fold charts of the compare page with the vendored uPlot.
// The numbers come from the page itself (<script type="application/json" id="fold-data">).
(function () {
  "use strict";
  var COLORS = ["#2b6cb0", "#d9822b", "#2f855a", "#9b2c2c", "#6b46c1", "#718096"];

  function draw() {
    var source = document.getElementById("fold-data");
    if (!source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-fold-chart]").forEach(function (el) {
      var perRun = data.scorers[el.getAttribute("data-fold-chart")] || [];
      var n = perRun.reduce(function (m, s) { return Math.max(m, s.length); }, 0);
      if (n === 0) return;
      var xs = [];
      for (var i = 0; i < n; i++) xs.push(i);
      var columns = [xs];
      var series = [{ label: "fold" }];
      perRun.forEach(function (scores, r) {
        columns.push(xs.map(function (i) { return i < scores.length ? scores[i] : null; }));
        series.push({ label: data.labels[r], stroke: COLORS[r % COLORS.length], width: 2, points: { show: true } });
      });
      var width = Math.min(720, el.clientWidth || 720);  // the box's content width: never wider than the screen
      new uPlot({ width: width, height: 220, series: series, scales: { x: { time: false } },
                  axes: [{ label: "fold", incrs: [1] }, {}] }, columns, el);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
