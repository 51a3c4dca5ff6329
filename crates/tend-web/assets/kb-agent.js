// Ticket page: "Insert link" on a suggested article puts "Title: URL" into the reply box at
// the cursor and switches to a public reply. Key "a" (outside text fields) focuses the first
// suggestion's button; Tab moves between them, Enter or Space inserts.
(function () {
  "use strict";
  var panel = document.getElementById("kb-suggestions");
  var form = document.getElementById("reply-form");
  if (!panel || !form) return;
  var body = form.querySelector("textarea");
  panel.querySelectorAll("[data-kb-insert]").forEach(function (b) { b.hidden = false; });
  panel.addEventListener("click", function (e) {
    var b = e.target.closest("[data-kb-insert]");
    if (!b) return;
    e.preventDefault();
    var text = b.getAttribute("data-kb-title") + ": " + b.getAttribute("data-kb-insert");
    var start = body.selectionStart || 0, end = body.selectionEnd || 0, v = body.value;
    var before = v.slice(0, start), after = v.slice(end);
    var pad = before && !/\s$/.test(before) ? "\n" : "";
    body.value = before + pad + text + "\n" + after;
    var at = (before + pad + text + "\n").length;
    var reply = form.querySelector('input[name="kind"][value="reply"]');
    if (reply) reply.checked = true;
    body.focus();
    body.setSelectionRange(at, at);
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    if (e.altKey || e.ctrlKey || e.metaKey || e.key !== "a") return;
    var first = panel.querySelector("[data-kb-insert]");
    if (first) { e.preventDefault(); first.focus(); }
  });
})();
