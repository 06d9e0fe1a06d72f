/* Worklist: J/K move, Enter opens (the highlighted row, not a focused button or link), X selects; the assignee list is enabled once a task is ticked, and asks for a choice before assigning. */
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  var at = -1;
  function focus(i) { if (!rows.length) return; at = Math.max(0, Math.min(rows.length - 1, i)); rows.forEach(function (r) { r.classList.remove("table-active"); }); rows[at].classList.add("table-active"); rows[at].focus(); }
  document.addEventListener("keydown", function (e) {
    var t = e.target; if (t && (t.tagName === "INPUT" && t.type !== "checkbox" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { focus(at + 1); e.preventDefault(); }
    else if (e.key === "k") { focus(at - 1); e.preventDefault(); }
    else if (e.key === "Enter" && at >= 0 && (t === rows[at] || t === document.body)) { window.location = rows[at].dataset.href; e.preventDefault(); }
    else if (e.key === "x" && at >= 0) { var c = rows[at].querySelector("input[type=checkbox]"); c.checked = !c.checked; sync(); e.preventDefault(); }
  });
  var all = document.querySelector("[data-check-all]");
  var select = document.getElementById("assign-to");
  function sync() { if (select) select.disabled = !document.querySelector("input[name=task]:checked"); }
  // "Assign the selected" with nobody chosen: the browser stops it, saying so in the page's words.
  function said() { if (select) select.setCustomValidity(select.value ? "" : select.dataset.requiredMessage || ""); }
  if (select) { select.addEventListener("change", said); said(); }
  if (all) all.addEventListener("change", function () { document.querySelectorAll("input[name=task]").forEach(function (c) { c.checked = all.checked; }); sync(); });
  document.querySelectorAll("input[name=task]").forEach(function (c) { c.addEventListener("change", sync); });
})();
