// What the pages do in the browser, asked for with data- attributes: the Content-Security-Policy allows no
// inline script, on…= handler or javascript: link (handover/web/csp.py).
(function () {
  "use strict";

  // vault/_shown.html: a revealed secret is blanked after data-hide-after seconds.
  function hideSecrets(root) {
    root.querySelectorAll("[data-hide-after]").forEach(function (element) {
      if (element.dataset.hideScheduled) {
        return;
      }
      element.dataset.hideScheduled = "1";
      var seconds = parseFloat(element.dataset.hideAfter) || 0;
      setTimeout(function () {
        element.textContent = "••••••••";
        element.dataset.hidden = "1";
      }, seconds * 1000);
    });
  }

  // data-action="print" prints the page (vault/envelope.html); data-action="back" goes back (org/form.html).
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-action]") : null;
    if (!target) {
      return;
    }
    if (target.dataset.action === "print") {
      event.preventDefault();
      window.print();
    } else if (target.dataset.action === "menu") {
      // base.html: at phone width the header's and the engagement's navigation fold behind one button (M5).
      var open = document.body.classList.toggle("menu-open");
      target.setAttribute("aria-expanded", open ? "true" : "false");
    } else if (target.dataset.action === "back" && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  // org/_subnav.html: the item of the page being read is marked (L1), the longest link that leads here.
  function markCurrent() {
    var best = null;
    document.querySelectorAll(".subnav a[href]").forEach(function (link) {
      var path = new URL(link.href, window.location.href).pathname;
      if (window.location.pathname.indexOf(path) === 0 && (!best || path.length > best.path.length)) {
        best = { link: link, path: path };
      }
    });
    if (best) {
      best.link.setAttribute("aria-current", "page");
    }
  }

  // Issue 17 (UX review L1): a table of the page with a header row and two rows or more sorts its rows by a
  // column when the column's header is clicked (again: the other way), on the rows shown. Numbers and codes
  // compare as people read them (T-2 before T-10).
  var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });

  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    if (!body) {
      return;
    }
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    header.parentNode.querySelectorAll("th").forEach(function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows).filter(function (row) {
      return row.cells.length > column;
    });
    rows.sort(function (a, b) {
      var order = collator.compare(a.cells[column].textContent.trim(), b.cells[column].textContent.trim());
      return ascending ? order : -order;
    });
    rows.forEach(function (row) {
      body.appendChild(row);
    });
  }

  document.addEventListener("click", function (event) {
    var header = event.target.closest ? event.target.closest("table[data-sortable] thead th") : null;
    if (header && !event.target.closest("a, button, input, select")) {
      sortBy(header);
    }
  });

  function markSortable(root) {
    root.querySelectorAll("main table").forEach(function (table) {
      if (table.tHead && table.tBodies[0] && table.tBodies[0].rows.length > 1) {
        table.setAttribute("data-sortable", "");
        table.tHead.querySelectorAll("th").forEach(function (th) {
          th.title = th.title || document.documentElement.dataset.sortHint || "";
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    hideSecrets(document);
    markCurrent();
    markSortable(document);
  });
  document.addEventListener("htmx:load", function (event) {
    hideSecrets(event.target);
  });
})();
