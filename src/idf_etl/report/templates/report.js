// Printing opens every folded table and query, and folds them again after.
(function () {
  "use strict";
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) { return !d.open; });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
  });
}());

// The projects table: search (accents and case ignored) and sort by any column. No libraries.
(function () {
  "use strict";
  var table = document.getElementById("projects-table");
  var search = document.getElementById("projects-search");
  var count = document.getElementById("projects-count");
  if (!table || !search) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var fold = function (s) { return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); };
  var texts = rows.map(function (r) { return fold(r.textContent); });

  search.addEventListener("input", function () {
    var q = fold(search.value.trim());
    var shown = 0;
    rows.forEach(function (r, i) {
      var hit = texts[i].indexOf(q) !== -1;
      r.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " projects";
  });

  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th, column) {
    var button = th.querySelector("button");
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = button.dataset.type === "number";
      var key = function (row) {
        var cell = row.cells[column];
        if (numeric) {  // data-sort if the cell has one, else its first number: "$1,250,000"
          var text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
          var found = text.replace(/,/g, "").match(/\d+(\.\d+)?/);
          return found ? parseFloat(found[0]) : null;
        }
        return fold(cell.textContent.trim());
      };
      var keyed = rows.map(function (r) { return [key(r), r]; });
      keyed.sort(function (a, b) {
        // Empty values last, whichever the direction.
        if (a[0] === null || a[0] === "") { return (b[0] === null || b[0] === "") ? 0 : 1; }
        if (b[0] === null || b[0] === "") { return -1; }
        var order = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
        return ascending ? order : -order;
      });
      keyed.forEach(function (pair) { body.appendChild(pair[1]); });
      rows = keyed.map(function (pair) { return pair[1]; });
      texts = rows.map(function (r) { return fold(r.textContent); });
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  });
}());
