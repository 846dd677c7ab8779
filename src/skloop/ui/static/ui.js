// skloop ui: draws the compare page's charts with the vendored uPlot (per-fold scores,
// metric curves by step) and switches the search scatter to the param chosen in its select.
// The numbers come from the page itself (<script type="application/json" id="fold-data">,
// id="curve-data"); the search plots are SVG drawn by the server.
(function () {
  "use strict";
  var COLORS = ["#2b6cb0", "#d9822b", "#2f855a", "#9b2c2c", "#6b46c1", "#718096", "#b7791f", "#00838f",
                "#c53030", "#4a5568"];

  var STEP_INCRS = [];  // steps are whole numbers: ticks 1, 2, 5, 10, 20, 50, ...
  for (var e = 0; e < 10; e++) [1, 2, 5].forEach(function (m) { STEP_INCRS.push(m * Math.pow(10, e)); });

  function json(id) {
    var source = document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  }

  function width(el) {
    return Math.min(720, el.clientWidth || 720);  // the box's content width: never wider than the screen
  }

  function drawFolds() {
    var data = json("fold-data");
    if (!data) return;
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
      new uPlot({ width: width(el), height: 220, series: series, scales: { x: { time: false } },
                  axes: [{ label: "fold", incrs: [1] }, {}] }, columns, el);
    });
  }

  function drawCurves() {
    var data = json("curve-data");
    if (!data) return;
    document.querySelectorAll("[data-curve-chart]").forEach(function (el) {
      var curve = data.curves[el.getAttribute("data-curve-chart")];
      if (!curve || curve.x.length === 0) return;
      var series = [{ label: "step" }];
      curve.y.forEach(function (values, r) {
        var few = values.filter(function (v) { return v !== null; }).length <= 30;
        series.push({ label: data.labels[r], stroke: COLORS[r % COLORS.length], width: 2, spanGaps: true,
                      points: { show: few } });
      });
      new uPlot({ width: width(el), height: 240, series: series, scales: { x: { time: false } },
                  axes: [{ label: "step", incrs: STEP_INCRS }, {}] }, [curve.x].concat(curve.y), el);
    });
  }

  function bindScatters() {
    document.querySelectorAll("select[data-scatter-select]").forEach(function (select) {
      var box = select.closest(".search-plots");
      select.addEventListener("change", function () {
        box.querySelectorAll("figure[data-scatter-param]").forEach(function (fig) {
          fig.hidden = fig.getAttribute("data-scatter-param") !== select.value;
        });
      });
    });
  }

  function start() {
    bindScatters();
    if (typeof uPlot === "undefined") return;
    drawFolds();
    drawCurves();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
