// Keyboard shortcuts for the agent workspace. No framework, no build step.
(function () {
  "use strict";
  var pendingG = false;
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-list] tbody tr")); }
  function select(delta) {
    var r = rows(); if (!r.length) return;
    var i = r.findIndex(function (x) { return x.classList.contains("selected"); });
    if (i >= 0) r[i].classList.remove("selected");
    i = Math.max(0, Math.min(r.length - 1, (i < 0 ? (delta > 0 ? -1 : r.length) : i) + delta));
    r[i].classList.add("selected");
    var a = r[i].querySelector("a"); if (a) a.focus();
  }
  function help() { var d = document.getElementById("help"); if (d && !d.open) d.showModal(); }
  function compose(kind) {
    var f = document.getElementById("reply-form"); if (!f) return;
    var radio = f.querySelector('input[name="kind"][value="' + kind + '"]'); if (radio) radio.checked = true;
    f.querySelector("textarea").focus();
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-help]")) { help(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.tagName === "TEXTAREA") {
      e.preventDefault(); e.target.form.requestSubmit(); return;
    }
    if (typing(e) || e.altKey || e.ctrlKey || e.metaKey) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "m") { location.href = "/views/mine"; }
      else if (e.key === "u") { location.href = "/views/unassigned"; }
      return;
    }
    switch (e.key) {
      case "?": e.preventDefault(); help(); break;
      case "/":
        var q = document.querySelector("[data-search]");
        if (q) { e.preventDefault(); q.focus(); }
        break;
      case "j": select(1); break;
      case "k": select(-1); break;
      case "o": case "Enter":
        var s = document.querySelector("[data-list] tr.selected");
        if (s) { e.preventDefault(); location.href = s.getAttribute("data-href"); }
        break;
      case "g": pendingG = true; break;
      case "r": e.preventDefault(); compose("reply"); break;
      case "n": e.preventDefault(); compose("note"); break;
    }
  });
})();

// Live ticket page: reload the timeline when the ticket changes; show who else is here.
(function () {
  "use strict";
  var wrap = document.getElementById("timeline-wrap");
  if (!wrap || !window.EventSource) return;
  var id = wrap.getAttribute("data-ticket");
  var presence = document.getElementById("presence");
  var es = new EventSource("/tickets/" + id + "/live");
  es.addEventListener("update", function () {
    fetch("/tickets/" + id + "/timeline", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { wrap.innerHTML = html; } });
  });
  es.addEventListener("presence", function (e) {
    presence.textContent = e.data ? "Also here: " + e.data : "";
  });
  var form = document.getElementById("reply-form");
  if (!form) return;
  var last = 0;
  form.querySelector("textarea").addEventListener("input", function () {
    var now = Date.now();
    if (now - last < 4000) return;
    last = now;
    var body = new URLSearchParams();
    body.set("csrf", form.querySelector('input[name="csrf"]').value);
    fetch("/tickets/" + id + "/typing", { method: "POST", credentials: "same-origin", body: body });
  });
})();

// View counters in the navigation: fetched after the page is shown (no page waits for them),
// refreshed every minute while the tab is visible.
(function () {
  "use strict";
  var spans = document.querySelectorAll("[data-view-count]");
  if (!spans.length || !window.fetch) return;
  function fill() {
    if (document.hidden) return;
    fetch("/views/counts", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        var capped = counts._capped || [];
        spans.forEach(function (s) {
          var key = s.getAttribute("data-view-count");
          var n = counts[key];
          s.textContent = typeof n !== "number" ? ""
            : capped.indexOf(key) >= 0 ? n.toLocaleString("en") + "+" : String(n);
        });
      })
      .catch(function () {});
  }
  fill();
  setInterval(fill, 60000);
})();
