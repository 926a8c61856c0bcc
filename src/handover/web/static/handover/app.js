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
      var ends = Date.now() + seconds * 1000;
      // UX review L5: the seconds left are counted down beside the secret.
      var counters = document.querySelectorAll('[data-countdown="' + element.id + '"]');
      var ticking = setInterval(function () {
        var left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
        counters.forEach(function (counter) {
          counter.textContent = String(left);
        });
      }, 250);
      setTimeout(function () {
        clearInterval(ticking);
        counters.forEach(function (counter) {
          counter.textContent = "0";
        });
        element.textContent = "••••••••";
        element.dataset.hidden = "1";
        document.querySelectorAll('[data-copy="' + element.id + '"]').forEach(function (button) {
          button.disabled = true;
          if (button.dataset.copied) {
            clearClipboard();
          }
        });
      }, seconds * 1000);
    });
  }

  // vault/_shown.html (UX review L5): the copy button puts the secret on the clipboard, and the clipboard is
  // overwritten when the secret leaves the page (or the page is left), so it does not linger there.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
    return Promise.resolve();
  }

  function clearClipboard() {
    copyText(" ").catch(function () {});
  }

  function copySecret(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || source.dataset.hidden) {
      return;
    }
    copyText(source.textContent.trim()).then(function () {
      button.dataset.copied = "1";
      var note = button.parentNode.querySelector('[data-testid="copied"]');
      if (note) {
        note.hidden = false;
      }
    });
  }

  window.addEventListener("pagehide", function () {
    if (document.querySelector("[data-copy][data-copied]")) {
      clearClipboard();
    }
  });

  // data-action="print" prints the page (vault/envelope.html); data-action="back" goes back (org/form.html).
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-action]") : null;
    if (!target) {
      return;
    }
    if (target.dataset.action === "copy") {
      copySecret(target);
    } else if (target.dataset.action === "print") {
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

  // vault/capture.html (UX review L5): a field marked data-shown-if="other=a|b" shows only while the form's
  // field "other" has one of those values ("on" for a ticked box, "" for an unticked one).
  function valueOf(form, name) {
    var field = form.elements[name];
    if (!field) {
      return "";
    }
    if (field.type === "checkbox") {
      return field.checked ? "on" : "";
    }
    return field.value;
  }

  function showChosen(form) {
    form.querySelectorAll("[data-shown-if]").forEach(function (wrapper) {
      var rule = wrapper.dataset.shownIf.split("=");
      var shown = rule[1].split("|").indexOf(valueOf(form, rule[0])) >= 0;
      wrapper.hidden = !shown;
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-shown-if]")) {
      showChosen(form);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-shown-if]")) {
        showChosen(form);
      }
    });
    hideSecrets(document);
    markCurrent();
    markSortable(document);
  });
  document.addEventListener("htmx:load", function (event) {
    hideSecrets(event.target);
  });
})();
