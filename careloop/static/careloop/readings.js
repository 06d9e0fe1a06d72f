/* Patient readings: only the fields of the kind chosen (blood pressure, glucose …) are shown;
   before a choice, and without JavaScript, all of them. */
(function () {
  var form = document.querySelector('[data-testid="reading-form"]');
  if (!form) return;
  function sync() {
    var chosen = form.querySelector("input[name=kind]:checked");
    form.querySelectorAll("[data-kind]").forEach(function (box) {
      box.hidden = !!chosen && box.getAttribute("data-kind") !== chosen.value;
    });
  }
  form.addEventListener("change", sync);
  sync();
})();
