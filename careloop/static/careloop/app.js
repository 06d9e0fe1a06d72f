// CareLoop staff UI behaviour. Loaded as a file (CSP allows no inline script).
(function () {
  "use strict";

  function typing(target) {
    const tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // Keyboard shortcuts: an element with data-shortcut="x" is focused (fields) or followed
  // (links, buttons) when x is pressed outside a field. "?" lists them.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const el = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
    if (!el) return;
    event.preventDefault();
    if (el.matches("input, textarea, select")) { el.focus(); el.select && el.select(); }
    else { el.click(); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
  });

  // <input type="checkbox" data-check-all-of="patient"> ticks every input[name=patient].
  document.addEventListener("change", function (event) {
    const name = event.target.getAttribute && event.target.getAttribute("data-check-all-of");
    if (!name) return;
    document.querySelectorAll('input[name="' + CSS.escape(name) + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // Destructive actions ask first: <form data-confirm="…">, or <button data-confirm="…"> for
  // one button of a form; or only when a choice in the form makes it so:
  // <form data-confirm-if="CSS selector of the choice" data-confirm-if-message="…">.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    let message = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    const when = form.getAttribute("data-confirm-if");
    if (!message && when && form.querySelector(when)) message = form.getAttribute("data-confirm-if-message");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);

  // Formsets: a button data-formset-add="prefix" copies the <template id="prefix-empty">.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-formset-add]");
    if (!button) return;
    event.preventDefault();
    const prefix = button.getAttribute("data-formset-add");
    const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    const template = document.getElementById(prefix + "-empty");
    const index = parseInt(total.value, 10);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    document.getElementById(prefix + "-rows").insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
  });

  // Widths from data-percent (CSP allows no inline style attributes).
  function applyPercents(root) {
    root.querySelectorAll("[data-percent]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.dataset.percent) || 0)) + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { applyPercents(document); });
  document.addEventListener("htmx:afterSwap", function (event) { applyPercents(event.target.parentNode || document); });

  // Focus the first field with an error after a failed submit.
  document.addEventListener("DOMContentLoaded", function () {
    // (a questionnaire item marks its fieldset: its first answer is focused, in view)
    const invalid = document.querySelector(
      ".is-invalid, fieldset[aria-invalid='true'] :is(input, textarea, select):not([disabled])"
    );
    if (invalid) invalid.focus();
  });
})();
