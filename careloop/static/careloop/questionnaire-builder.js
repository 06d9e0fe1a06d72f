// The questionnaire builder: edits the definition JSON held in a textarea through forms
// (questions of every type, options with scores, matrix rows, skip logic, scoring bands,
// flags, NPS). The textarea stays the single source: the server checks what is posted and
// names any mistake. Keys the builder does not know are kept as they are.
(function () {
  "use strict";

  const root = document.querySelector("[data-builder]");
  if (!root) return;
  const L = JSON.parse(document.getElementById("builder-labels").textContent);
  const source = document.getElementById(root.dataset.builder);
  const problem = document.getElementById(root.dataset.builder + "-problem");
  const SCORABLE = ["choice", "multi", "scale", "matrix"];
  const WITH_OPTIONS = ["choice", "multi", "matrix"];
  let def = {};

  // Empty optional parts (no scoring, no flags) are left out of what is posted.
  function save() {
    const out = JSON.parse(JSON.stringify(def));
    const score = out.scoring || {};
    ["items", "bands"].forEach((k) => { if (score[k] && !score[k].length) delete score[k]; });
    if (out.scoring && !Object.keys(score).length) delete out.scoring;
    if (out.flags && !out.flags.length) delete out.flags;
    source.value = JSON.stringify(out, null, 2);
  }

  const el = window.careloopDom.el;

  function labelled(text, control, width) {
    return el("div", { class: "col-" + (width || "md-4") }, [
      el("label", { class: "form-label small mb-1", text: text }, [control]),
    ]);
  }

  // An input bound to obj[key]: "" removes the key, numbers are stored as numbers.
  function bound(obj, key, opts) {
    opts = opts || {};
    const input = el("input", {
      class: "form-control form-control-sm mt-1",
      type: opts.number ? "number" : "text",
      step: opts.number ? "any" : null,
      placeholder: opts.placeholder,
      value: obj[key] === undefined ? "" : String(obj[key]),
      "data-field": key,
    });
    input.addEventListener("input", function () {
      const raw = input.value.trim();
      if (raw === "" && !opts.keepEmpty) delete obj[key];
      else obj[key] = opts.number ? Number(raw) : input.value;
      save();
    });
    if (opts.onchange) input.addEventListener("change", opts.onchange);
    return input;
  }

  function choose(choices, current, onchange, attrs) {
    const select = el("select", Object.assign({ class: "form-select form-select-sm mt-1" }, attrs || {}));
    choices.forEach(function ([value, text]) {
      select.append(el("option", { value: value, text: text, selected: value === current ? "" : null }));
    });
    select.addEventListener("change", function () { onchange(select.value); save(); });
    return select;
  }

  function button(text, onclick, testid) {
    return el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: text,
      "data-testid": testid, on: { click: function () { onclick(); save(); render(); } } });
  }

  function items() { return def.items || (def.items = []); }
  function scoring() { return def.scoring || (def.scoring = {}); }
  function scored() { return scoring().items || (scoring().items = []); }

  function freshKey() {
    let n = items().length + 1;
    while (items().some((i) => i.key === "q" + n)) n += 1;
    return "q" + n;
  }

  // A renamed question keeps its skip logic, scoring, flags and NPS.
  function rename(from, to) {
    if (!from || from === to) return;
    items().forEach(function (item) {
      if (item.enable_when && item.enable_when.item === from) item.enable_when.item = to;
    });
    if (def.scoring && def.scoring.items) def.scoring.items = scored().map((k) => (k === from ? to : k));
    (def.flags || []).forEach(function (flag) { if (flag.item === from) flag.item = to; });
    if (def.nps === from) def.nps = to;
  }

  // The condition part of enable_when or of a flag: {item, <op>: value}.
  function condition(holder, earlier) {
    const op = L.op_order.find((o) => o in holder) || "equals";
    const target = earlier.find((i) => i.key === holder.item);
    const numeric = target && ["number", "scale"].includes(target.type);
    const set = function (raw) {
      L.op_order.forEach((o) => delete holder[o]);
      if (op === "in") {
        const listed = raw.split(/[,，]/).map((v) => v.trim()).filter(Boolean);
        holder.in = numeric ? listed.map(Number) : listed;  // answers to numbers are numbers
      } else if (op === "gt" || op === "lt" || numeric) holder[op] = raw === "" ? 0 : Number(raw);
      else holder[op] = raw;
    };
    const current = op in holder ? holder[op] : "";
    let value;
    if (target && (op === "equals" || op === "not_equals") && WITH_OPTIONS.includes(target.type)) {
      const options = (target.options || []).map((o) => [o.value, o.label + " (" + o.value + ")"]);
      // What is stored is what is shown: a value that is not an option becomes the first one.
      if (options.length && !options.some((o) => o[0] === holder[op])) set(options[0][0]);
      value = choose(options, String(holder[op]), set, { "data-field": "when-value" });
    } else {
      value = el("input", { class: "form-control form-control-sm mt-1", "data-field": "when-value",
        value: Array.isArray(current) ? current.join(",") : String(current) });
      value.addEventListener("input", function () { set(value.value.trim()); save(); });
      if (!(op in holder)) set("");
    }
    const ops = L.op_order.map((o) => [o, L.ops[o]]);
    return [
      labelled(L.condition, choose(ops, op, function (next) {
        const kept = holder[op];
        L.op_order.forEach((o) => delete holder[o]);
        const many = [].concat(kept === undefined ? [] : kept);
        holder[next] = next === "in" ? many : many.length ? many[0] : "";
        render();
      }, { "data-field": "when-op" }), "md-3"),
      labelled(L.value, value, "md-3"),
    ];
  }

  function skipLogic(item, index) {
    const earlier = items().slice(0, index).filter((i) => i.type !== "matrix");
    const keys = [["", L.always]].concat(earlier.map((i) => [i.key, i.key + " · " + (i.text || "")]));
    const when = item.enable_when;
    const pick = choose(keys, when ? when.item : "", function (key) {
      if (!key) delete item.enable_when;
      else item.enable_when = { item: key };
      render();
    }, { "data-field": "when-item" });
    const row = el("div", { class: "row g-2" }, [labelled(L.ask_when, pick, "md-6")]);
    if (when) condition(when, earlier).forEach((c) => row.append(c));
    return row;
  }

  function table(list, columns, addText, make, testid) {
    const body = el("tbody");
    list.forEach(function (entry, n) {
      const cells = columns.map(([key, number]) => el("td", {}, [bound(entry, key, { number: number, keepEmpty: !number })]));
      cells.push(el("td", {}, [button("×", () => list.splice(n, 1))]));
      body.append(el("tr", {}, cells));
    });
    return el("div", { "data-testid": testid }, [
      el("table", { class: "table table-sm mb-1" }, [
        el("thead", {}, [el("tr", {}, columns.map(([key]) => el("th", { class: "small", text: L[key] || key })).concat([el("th")]))]),
        body,
      ]),
      button(addText, () => list.push(make(list.length))),
    ]);
  }

  function details(item) {
    const parts = [];
    if (item.type === "number")
      parts.push(el("div", { class: "row g-2" }, [
        labelled(L.unit, bound(item, "unit")), labelled(L.min, bound(item, "min", { number: true })),
        labelled(L.max, bound(item, "max", { number: true }))]));
    if (item.type === "scale")
      parts.push(el("div", { class: "row g-2" }, [
        labelled(L.min, bound(item, "min", { number: true, placeholder: "0" }), "md-3"),
        labelled(L.max, bound(item, "max", { number: true, placeholder: "10" }), "md-3"),
        labelled(L.min_label, bound(item, "min_label"), "md-3"),
        labelled(L.max_label, bound(item, "max_label"), "md-3")]));
    if (item.type === "text")
      parts.push(el("div", { class: "row g-2" }, [labelled(L.max_length, bound(item, "max_length", { number: true }))]));
    if (item.type === "matrix")
      parts.push(el("div", { class: "small fw-bold mt-2", text: L.rows }),
        table(item.rows || (item.rows = []), [["key"], ["text"]], L.add_row,
          (n) => ({ key: "r" + (n + 1), text: "" }), "rows"));
    if (WITH_OPTIONS.includes(item.type))
      parts.push(el("div", { class: "small fw-bold mt-2", text: L.options }),
        table(item.options || (item.options = []), [["value"], ["label"], ["score", true]], L.add_option,
          (n) => ({ value: String(n + 1), label: "" }), "options"));
    return parts;
  }

  function itemCard(item, index) {
    const all = items();
    const keyInput = bound(item, "key", { keepEmpty: true });
    let before = item.key;
    keyInput.addEventListener("focus", () => { before = item.key; });
    keyInput.addEventListener("change", () => { rename(before, item.key); save(); render(); });
    const type = choose(L.type_order.map((t) => [t, L.types[t]]), item.type, function (next) {
      item.type = next;
      if (WITH_OPTIONS.includes(next) && !item.options) item.options = [];
      if (!SCORABLE.includes(next)) def.scoring && (scoring().items = scored().filter((k) => k !== item.key));
      render();
    }, { "data-field": "type" });
    const required = el("input", { type: "checkbox", class: "form-check-input", checked: item.required === false ? null : "" });
    required.addEventListener("change", function () {
      if (required.checked) delete item.required; else item.required = false;
      save();
    });
    const head = el("div", { class: "d-flex gap-2 align-items-center mb-2" }, [
      el("strong", { text: L.item + " " + (index + 1) }),
      el("label", { class: "form-check ms-auto mb-0" }, [required, el("span", { class: "form-check-label", text: L.required })]),
      index > 0 ? button("↑", () => all.splice(index - 1, 0, all.splice(index, 1)[0])) : null,
      index < all.length - 1 ? button("↓", () => all.splice(index + 1, 0, all.splice(index, 1)[0])) : null,
      button(L.remove, function () {
        all.splice(index, 1);
        rename(item.key, "");
        if (def.scoring && def.scoring.items) scoring().items = scored().filter((k) => k !== "");
        def.flags = (def.flags || []).filter((f) => f.item !== "");
        items().forEach((i) => { if (i.enable_when && i.enable_when.item === "") delete i.enable_when; });
      }),
    ]);
    const body = [head,
      el("div", { class: "row g-2" }, [labelled(L.key, keyInput, "md-3"), labelled(L.type, type, "md-3"),
        labelled(L.text, bound(item, "text", { keepEmpty: true }), "md-6")])]
      .concat(details(item));
    if (SCORABLE.includes(item.type)) {
      const box = el("input", { type: "checkbox", class: "form-check-input", "data-field": "scored",
        checked: scored().includes(item.key) ? "" : null });
      box.addEventListener("change", function () {
        scoring().items = box.checked ? scored().concat([item.key]) : scored().filter((k) => k !== item.key);
        save();
      });
      body.push(el("label", { class: "form-check mt-2" }, [box, el("span", { class: "form-check-label", text: L.scored })]));
    }
    if (index > 0) body.push(skipLogic(item, index));
    return el("div", { class: "card card-sm mb-2", "data-testid": "builder-item" }, [el("div", { class: "card-body" }, body)]);
  }

  function flagRow(flag, n) {
    const on = "total_at_least" in flag ? "" : flag.item || "";
    const answerable = items().filter((i) => i.type !== "matrix");
    const targets = [["", L.total]].concat(answerable.map((i) => [i.key, i.key]));
    const row = el("div", { class: "row g-2 align-items-end border-bottom pb-2 mb-2", "data-testid": "flag" }, [
      labelled(L.flag_on, choose(targets, on, function (key) {
        L.op_order.concat(["total_at_least", "item"]).forEach((k) => delete flag[k]);
        if (key) flag.item = key; else flag.total_at_least = 0;
        render();
      }, { "data-field": "flag-on" }), "md-3"),
    ]);
    if (on) condition(flag, answerable).forEach((c) => row.append(c));
    else row.append(labelled(L.value, bound(flag, "total_at_least", { number: true }), "md-3"));
    row.append(
      labelled(L.alert_title, bound(flag, "title", { keepEmpty: true }), "md-6"),
      labelled(L.severity, choose(L.severity_order.map((s) => [s, L.severities[s]]), flag.severity || "high",
        (s) => { flag.severity = s; }), "md-3"),
      labelled(L.symptom, bound(flag, "symptom"), "md-3"),
      el("div", { class: "col-md-2" }, [button(L.remove, () => def.flags.splice(n, 1))]));
    return row;
  }

  function render() {
    const head = el("div", { class: "row g-2 mb-3" }, [
      labelled(L.code, bound(def, "code", { keepEmpty: true }), "md-4"),
      labelled(L.title, bound(def, "title", { keepEmpty: true }), "md-8"),
      labelled(L.intro, bound(def, "intro"), "12"),
    ]);
    if (root.dataset.codeFixed) head.querySelector('[data-field="code"]').readOnly = true;
    const list = el("div", {}, items().map(itemCard));
    const add = button(L.add_item, () => items().push({ key: freshKey(), type: "choice", text: "", options: [] }), "add-item");
    const bands = table(scoring().bands || (scoring().bands = []), [["min", true], ["max", true], ["label"]],
      L.add_band, () => ({ min: 0, max: 0, label: "" }), "bands");
    const flags = el("div", {}, (def.flags || (def.flags = [])).map(flagRow));
    const scales = [["", L.none]].concat(items().filter((i) => i.type === "scale").map((i) => [i.key, i.key]));
    root.replaceChildren(head, list, add,
      el("h4", { class: "mt-4", text: L.scoring }), bands,
      el("h4", { class: "mt-4", text: L.flags }), flags,
      button(L.add_flag, () => def.flags.push({ item: items()[0] ? items()[0].key : "", equals: "", title: "", severity: "high" }), "add-flag"),
      el("div", { class: "row mt-4" }, [labelled(L.nps, choose(scales, def.nps || "", function (key) {
        if (key) def.nps = key; else delete def.nps;
      }, { "data-field": "nps" }))]));
    save();
  }

  // The textarea wins: until its JSON can be read the builder is hidden, so a click there
  // cannot overwrite what was typed.
  function load() {
    let parsed;
    try {
      parsed = JSON.parse(source.value);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
    } catch (e) {
      problem.textContent = L.bad_json;
      problem.hidden = false;
      root.hidden = true;
      return;
    }
    def = parsed;
    problem.hidden = true;
    root.hidden = false;
    render();
  }

  source.addEventListener("change", load);
  load();
})();
