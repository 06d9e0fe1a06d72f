// Skip logic of a questionnaire page: an item with data-when is shown only while the
// earlier answer it names meets the condition; hidden items are disabled, so they are not
// submitted (the server checks the same rule again).
(function () {
  "use strict";

  function answer(form, key) {
    const inputs = form.querySelectorAll('[name="' + key + '"]');
    const values = [];
    inputs.forEach(function (input) {
      if (input.disabled) return;
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) values.push(input.value);
      } else if (input.value !== "") {
        values.push(input.value);
      }
    });
    const multi = inputs.length && inputs[0].type === "checkbox";
    return multi ? values : values[0];
  }

  function holds(rule, given) {
    if (given === undefined || (Array.isArray(given) && !given.length)) return false;
    switch (rule.op) {
      case "equals":
        return Array.isArray(given) ? given.includes(String(rule.value)) : given === String(rule.value);
      case "not_equals":
        return given !== String(rule.value);
      case "in":
        return rule.value.map(String).includes(given);
      case "gt":
        return Number(given) > rule.value;
      case "lt":
        return Number(given) < rule.value;
    }
    return true;
  }

  function refresh(form) {
    form.querySelectorAll("[data-when]").forEach(function (item) {
      const rule = JSON.parse(item.dataset.when);
      const show = holds(rule, answer(form, rule.item));
      item.hidden = !show;
      item.querySelectorAll("input, textarea, select").forEach(function (input) {
        input.disabled = !show;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".questionnaire").forEach(function (form) {
      refresh(form);
      form.addEventListener("change", function () { refresh(form); });
      form.addEventListener("input", function () { refresh(form); });
    });
  });
})();
