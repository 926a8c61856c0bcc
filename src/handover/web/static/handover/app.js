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

  document.addEventListener("DOMContentLoaded", function () {
    hideSecrets(document);
    markCurrent();
  });
  document.addEventListener("htmx:load", function (event) {
    hideSecrets(event.target);
  });
})();
