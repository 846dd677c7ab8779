// skloop ui: draws the serving page's charts with the vendored uPlot.
// The numbers come from the page itself (<script type="application/json" id="serving-data">):
// one point per time bucket of the prediction log, aggregated in SQL on the server.
(function () {
  "use strict";
  var BLUE = "#2b6cb0", ORANGE = "#d9822b", RED = "#9b2c2c", SWAP = "rgba(155, 44, 44, 0.55)";

  // vertical dashed lines where the served version changed (hot swaps, rollbacks)
  function swapLines(swaps) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.strokeStyle = SWAP;
          ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
          ctx.setLineDash([6, 4]);
          swaps.forEach(function (s) {
            var x = Math.round(u.valToPos(s.t, "x", true));
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          });
          ctx.restore();
        }]
      }
    };
  }

  function width(el) {
    return Math.min(960, el.parentElement.clientWidth || 960);
  }

  function draw() {
    var source = document.getElementById("serving-data");
    if (!source || typeof uPlot === "undefined") return;
    var d = JSON.parse(source.textContent);
    if (!d.t.length) return;
    var traffic = document.getElementById("traffic-chart");
    if (traffic) {
      new uPlot({
        width: width(traffic), height: 240,
        plugins: [swapLines(d.swaps)],
        series: [
          {},
          { label: "requests/s", stroke: BLUE, width: 2 },
          { label: "rows/s", stroke: ORANGE, width: 2 },
          { label: "flagged rows", stroke: RED, width: 1, scale: "n" }
        ],
        scales: { x: { time: true }, n: { auto: true } },
        axes: [{}, { label: "per second" }, { side: 1, scale: "n", label: "flagged rows", grid: { show: false } }]
      }, [d.t, d.requests, d.rows, d.flagged], traffic);
    }
    var versions = document.getElementById("version-chart");
    if (versions) {
      new uPlot({
        width: width(versions), height: 140,
        plugins: [swapLines(d.swaps)],
        series: [
          {},
          { label: "version", stroke: BLUE, width: 2, paths: uPlot.paths.stepped({ align: 1 }), spanGaps: false }
        ],
        scales: { x: { time: true } },
        axes: [{}, { label: "version", incrs: [1], values: function (u, vals) {
          return vals.map(function (v) { return "v" + v; });
        } }]
      }, [d.t, d.version], versions);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
