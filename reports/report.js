// Filters and expanders for the conformance matrix. The report works without
// this script (every cell is a <details>); it only adds filtering, keeps one
// cell open at a time, and closes it on Escape or a click elsewhere.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var matrix = document.getElementById("matrix");
  if (!matrix) return;
  var diff = document.getElementById("f-diff");
  var fail = document.getElementById("f-fail");
  var q = document.getElementById("f-q");
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(matrix.querySelectorAll("tr.spec"));
  var secs = Array.prototype.slice.call(matrix.querySelectorAll("tbody.sec"));

  function apply() {
    var needle = (q.value || "").trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (r) {
      var ok = (!diff.checked || r.hasAttribute("data-diff")) &&
        (!fail.checked || r.hasAttribute("data-fail")) &&
        (!needle || r.textContent.toLowerCase().indexOf(needle) >= 0);
      r.classList.toggle("hide", !ok);
      if (ok) shown++;
    });
    secs.forEach(function (s) {
      s.classList.toggle("hide", !s.querySelector("tr.spec:not(.hide)"));
    });
    count.textContent = shown === rows.length ? rows.length + " specs" : shown + " of " + rows.length + " specs";
  }
  [diff, fail].forEach(function (el) { el.addEventListener("change", apply); });
  q.addEventListener("input", apply);
  apply();

  function closeAll(except) {
    matrix.querySelectorAll("details[open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }
  // Keep an opened panel inside the window: flip it to the cell's right
  // edge when it would overflow.
  function place(d) {
    var pop = d.querySelector(".pop");
    if (!pop) return;
    pop.classList.remove("right");
    var r = pop.getBoundingClientRect();
    if (r.right > document.documentElement.clientWidth - 8) pop.classList.add("right");
  }
  matrix.addEventListener("toggle", function (e) {
    if (e.target.open) {
      closeAll(e.target);
      place(e.target);
    }
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closeAll(null);
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest || !e.target.closest("td.cell")) closeAll(null);
  });
})();
