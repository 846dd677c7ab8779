// skloop ui: a box that scrolls sideways (a wide table on a narrow screen, a long line in
// <pre>) becomes a keyboard stop and a named region, so that the arrow keys scroll it and a
// screen reader says what it holds; when it fits again it stops being one. Runs on load, on
// resize and after every htmx swap. Boxes: .table-wrap, pre and [data-scroll-region].
(function () {
  "use strict";
  var BOXES = ".table-wrap, pre, [data-scroll-region]";

  function heading(box) {
    var caption = box.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    for (var node = box; node && node !== document.body; node = node.parentElement) {
      for (var prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
        if (/^H[1-6]$/.test(prev.tagName)) return prev.textContent.trim();
        var inner = prev.querySelectorAll("h1, h2, h3, h4, h5, h6");
        if (inner.length) return inner[inner.length - 1].textContent.trim();
      }
    }
    return document.title;
  }

  function mark(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute("tabindex")) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", heading(box) + " (scrolls sideways)");
      box.setAttribute("data-scroll-marked", "");
    } else if (!scrolls && box.hasAttribute("data-scroll-marked")) {
      ["tabindex", "role", "aria-label", "data-scroll-marked"].forEach(function (a) { box.removeAttribute(a); });
    }
  }

  function markAll() {
    document.querySelectorAll(BOXES).forEach(mark);
  }

  var pending = null;
  function later() {
    if (pending === null) pending = window.requestAnimationFrame(function () { pending = null; markAll(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markAll);
  else markAll();
  window.addEventListener("load", markAll);
  window.addEventListener("resize", later);
  document.addEventListener("htmx:after:settle", markAll);  // htmx 4's name for a finished swap
})();
