// Small DOM helpers shared by the builders (questionnaires, rules). Loaded before them.
(function () {
  "use strict";

  // el("div", {class: "x", text: "…", on: {click: f}}, [children]): attributes set unless
  // undefined, null or false.
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([name, value]) {
      if (name === "text") node.textContent = value;
      else if (name === "on") Object.entries(value).forEach(([e, f]) => node.addEventListener(e, f));
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
    });
    (children || []).forEach((c) => c && node.append(c));
    return node;
  }

  window.careloopDom = { el: el };
})();
