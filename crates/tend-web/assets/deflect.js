// Self-service on the contact form: while the customer types the subject and description,
// ask for matching help-center articles (debounced) and show up to five links. Served as an
// asset (no inline script); without script the form simply works without suggestions.
(function () {
  "use strict";
  var form = document.querySelector("form[data-deflect]");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var box = document.getElementById("deflect");
  var list = box && box.querySelector("ul");
  var subject = form.querySelector('[name="subject"]');
  var message = form.querySelector('[name="message"]');
  if (!list || !subject || !message) return;
  var session = form.getAttribute("data-deflect");
  var lang = form.getAttribute("data-lang") || "en";
  var brand = form.getAttribute("data-brand") || "";
  var timer = null, last = "", seq = 0;
  function text() { return (subject.value + " " + message.value.slice(0, 600)).trim(); }
  function show(items) {
    list.textContent = "";
    items.slice(0, 5).forEach(function (it) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = it.url;
      a.textContent = it.title;
      a.target = "_blank";
      a.rel = "noopener";
      li.appendChild(a);
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }
  function ask() {
    var q = text();
    if (q === last) return;
    last = q;
    if (q.replace(/[^\p{L}\p{N}]/gu, "").length < 3) { show([]); return; }
    var mine = ++seq;
    var p = new URLSearchParams({ q: q.slice(0, 1000), session: session, locale: lang });
    if (brand) p.set("brand", brand);
    fetch("/api/v1/kb/suggestions?" + p.toString(), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && mine === seq) show(d.suggestions || []); })
      .catch(function () {});
  }
  function later() { clearTimeout(timer); timer = setTimeout(ask, 400); }
  subject.addEventListener("input", later);
  message.addEventListener("input", later);
})();
