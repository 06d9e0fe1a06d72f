// The rule builder: edits a rule's condition (a tree of all / any / not groups over the
// condition kinds) and its actions through forms, writing the JSON of the rule language into
// the two textareas. The textareas stay the single source: the server checks what is posted
// and names any mistake. The fields of every kind and action come from the server
// (careloop/rules/builder.py). Keys the builder does not know are kept as they are.
(function () {
  "use strict";

  const specNode = document.getElementById("rule-builder-spec");
  if (!specNode) return;
  const S = JSON.parse(specNode.textContent);
  const L = S.labels;

  const el = window.careloopDom.el;

  function select(choices, current, onchange, attrs) {
    const node = el("select", Object.assign({ class: "form-select form-select-sm" }, attrs || {}));
    choices.forEach(function ([value, text]) {
      node.append(el("option", { value: value, text: text, selected: String(value) === String(current) ? "" : null }));
    });
    node.addEventListener("change", () => onchange(node.value));
    return node;
  }

  function btn(text, onclick, testid, kind) {
    return el("button", { type: "button", class: "btn btn-sm " + (kind || "btn-outline-secondary"),
      text: text, "data-testid": testid, on: { click: onclick } });
  }

  // The codes of the catalogue, offered while typing an item's code.
  document.body.append(el("datalist", { id: "rule-codes" },
    S.codes.map(([code, name]) => el("option", { value: code, text: name + " " + code }))));

  function fresh(fields, head) {
    const made = Object.assign({}, head);
    fields.forEach(function (f) {
      if (!f.optional && f.default !== null) made[f.key] = JSON.parse(JSON.stringify(f.default));
    });
    return made;
  }

  function listed(raw) {
    const parts = raw.split(/[,，\s]+/).map((p) => p.trim()).filter(Boolean);
    return parts.length === 1 ? parts[0] : parts;
  }

  // One input for obj[field.key], of the field's type; changes call done().
  function control(obj, field, done) {
    const attrs = { "data-field": field.key };
    const put = function (value) {
      if (value === "" || value === null || (Array.isArray(value) && !value.length && field.optional)) delete obj[field.key];
      else obj[field.key] = value;
      done();
    };
    const current = obj[field.key];
    if (field.type === "op") return select(S.ops, current, put, attrs);
    if (field.type === "choice") return select(field.choices, current, put, attrs);
    if (field.type === "bool") {
      const box = el("input", Object.assign({ type: "checkbox", class: "form-check-input", checked: current ? "" : null }, attrs));
      box.addEventListener("change", () => { obj[field.key] = box.checked; done(); });
      return el("div", { class: "form-check mt-1" }, [box]);
    }
    if (field.type === "multi") {
      const chosen = new Set(Array.isArray(current) ? current : []);
      return el("div", { class: "d-flex flex-wrap gap-2" }, field.choices.map(function ([value, text]) {
        const box = el("input", { type: "checkbox", class: "form-check-input", value: value,
          checked: chosen.has(value) ? "" : null, "data-field": field.key + ":" + value });
        box.addEventListener("change", function () {
          if (box.checked) chosen.add(value); else chosen.delete(value);
          obj[field.key] = field.choices.map((c) => c[0]).filter((c) => chosen.has(c));
          done();
        });
        return el("label", { class: "form-check form-check-inline mb-0" }, [box, el("span", { class: "form-check-label", text: text })]);
      }));
    }
    const number = ["number", "int"].includes(field.type);
    const input = el("input", Object.assign({
      class: "form-control form-control-sm",
      type: number ? "number" : field.type === "clock" ? "time" : "text",
      step: field.type === "int" ? "1" : number ? "any" : null,
      list: field.type === "codes" ? "rule-codes" : null,
      value: current === undefined ? "" : Array.isArray(current) ? current.join(", ") : String(current),
    }, attrs));
    input.addEventListener("input", function () {
      const raw = input.value.trim();
      if (raw === "") return put("");
      // A number as typed (7.5 in a whole-number field stays 7.5: the server names it).
      if (number) return put(Number.isFinite(Number(raw)) ? Number(raw) : raw);
      if (field.type === "codes" || field.type === "list") return put(listed(raw));
      if (field.type === "answer") return put(/^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
      return put(raw);
    });
    return input;
  }

  function fieldsRow(obj, fields, done) {
    return el("div", { class: "row g-2" }, fields.map((f) => el("div", { class: "col-md-" + (f.type === "multi" ? "12" : "4") }, [
      el("label", { class: "form-label small mb-1", text: f.label + (f.optional ? "" : " *") }),
      control(obj, f, done),
    ])));
  }

  // One editor: a textarea holding JSON, a container the builder draws in, and what to draw.
  function editor(name, draw) {
    const source = document.getElementById("id_" + name);
    const root = document.querySelector('[data-rule-builder="' + name + '"]');
    const problem = document.getElementById(name + "-builder-problem");
    if (!source || !root) return;
    const state = { value: null };
    const save = () => { source.value = JSON.stringify(state.value, null, 2); };
    function render() {
      root.replaceChildren();
      try {
        state.value = JSON.parse(source.value);
        root.append(draw(state, save, render));
        root.hidden = false;
        problem.hidden = true;
      } catch (error) {
        root.hidden = true;
        problem.textContent = L.unreadable.replace("%(error)s", error.message);
        problem.hidden = false;
      }
    }
    source.addEventListener("change", render);
    render();
  }

  // A condition node; replace(next) puts another node in its place in its parent.
  function conditionNode(node, replace, save, render) {
    if (node && typeof node === "object" && !Array.isArray(node)) {
      const word = "all" in node ? "all" : "any" in node ? "any" : null;
      if (word && Array.isArray(node[word])) return group(node, word, replace, save, render);
      if ("not" in node) {
        return el("div", { class: "border-start border-danger border-3 ps-2 mb-2", "data-testid": "rule-not" }, [
          el("div", { class: "d-flex gap-2 align-items-center mb-1" }, [
            el("span", { class: "badge bg-red-lt", text: L.not }),
            btn(L.un_negate, () => { replace(node.not); save(); render(); }, "rule-un-negate"),
          ]),
          conditionNode(node.not, (next) => { node.not = next; }, save, render),
        ]);
      }
      if (node.kind in S.kinds) return leaf(node, replace, save, render);
    }
    throw new Error(JSON.stringify(node).slice(0, 60));
  }

  function leaf(node, replace, save, render) {
    const kinds = Object.entries(S.kinds).map(([k, v]) => [k, v.label]);
    const spec = S.kinds[node.kind];
    return el("div", { class: "card card-sm mb-2", "data-testid": "rule-leaf" }, [
      el("div", { class: "card-body" }, [
        el("div", { class: "row g-2 mb-2" }, [
          el("div", { class: "col-md-6" }, [
            el("label", { class: "form-label small mb-1", text: L.kind }),
            select(kinds, node.kind, function (kind) {
              replace(fresh(S.kinds[kind].fields, { kind: kind }));
              save(); render();
            }, { "data-field": "kind" }),
          ]),
        ]),
        fieldsRow(node, spec.fields, save),
      ]),
    ]);
  }

  function group(node, word, replace, save, render) {
    const parts = node[word];
    const list = el("div", { class: "ps-3" });
    parts.forEach(function (part, n) {
      const put = (next) => { parts[n] = next; };
      list.append(el("div", { class: "d-flex gap-2 align-items-start" }, [
        el("div", { class: "flex-grow-1" }, [conditionNode(part, put, save, render)]),
        el("div", { class: "d-flex flex-column gap-1" }, [
          "not" in part ? null : btn(L.negate, () => { parts[n] = { not: part }; save(); render(); }, "rule-negate"),
          btn(L.remove, function () {
            parts.splice(n, 1);
            if (!parts.length) parts.push(fresh(S.kinds.latest.fields, { kind: "latest" }));
            save(); render();
          }, "rule-remove", "btn-outline-danger"),
        ]),
      ]));
    });
    return el("div", { class: "border rounded p-2 mb-2", "data-testid": "rule-group" }, [
      el("div", { class: "d-flex gap-2 align-items-center mb-2" }, [
        select([["all", L.all], ["any", L.any]], word, function (next) {
          const kept = node[word];
          delete node[word];
          node[next] = kept;
          save(); render();
        }, { "data-field": "group" }),
      ]),
      list,
      el("div", { class: "d-flex gap-2" }, [
        btn(L.add_condition, () => { parts.push(fresh(S.kinds.latest.fields, { kind: "latest" })); save(); render(); }, "rule-add-condition"),
        btn(L.add_group, () => { parts.push({ all: [fresh(S.kinds.latest.fields, { kind: "latest" })] }); save(); render(); }, "rule-add-group"),
      ]),
    ]);
  }

  editor("condition", function (state, save, render) {
    const top = state.value;
    const wrapper = el("div", {}, [el("div", { class: "small fw-bold mb-2", text: L.when })]);
    wrapper.append(conditionNode(top, (next) => { state.value = next; }, save, render));
    if (!("all" in top) && !("any" in top)) {
      wrapper.append(el("div", { class: "d-flex gap-2" }, [
        btn(L.add_condition, function () {
          state.value = { all: [top, fresh(S.kinds.latest.fields, { kind: "latest" })] };
          save(); render();
        }, "rule-add-condition"),
        "not" in top ? null : btn(L.negate, () => { state.value = { not: top }; save(); render(); }, "rule-negate"),
      ]));
    }
    return wrapper;
  });

  editor("actions", function (state, save, render) {
    if (!Array.isArray(state.value)) throw new Error("[…]");
    const types = Object.entries(S.actions).map(([k, v]) => [k, v.label]);
    const wrapper = el("div");
    state.value.forEach(function (action, n) {
      const spec = S.actions[action && action.type];
      if (!spec) throw new Error(JSON.stringify(action).slice(0, 60));
      wrapper.append(el("div", { class: "card card-sm mb-2", "data-testid": "rule-action" }, [
        el("div", { class: "card-body" }, [
          el("div", { class: "row g-2 mb-2 align-items-end" }, [
            el("div", { class: "col-md-6" }, [
              el("label", { class: "form-label small mb-1", text: L.type }),
              select(types, action.type, function (type) {
                state.value[n] = fresh(S.actions[type].fields, { type: type });
                save(); render();
              }, { "data-field": "type" }),
            ]),
            el("div", { class: "col-md-6 text-end" }, [
              btn(L.remove, function () { state.value.splice(n, 1); save(); render(); }, "rule-remove-action", "btn-outline-danger"),
            ]),
          ]),
          fieldsRow(action, spec.fields, save),
        ]),
      ]));
    });
    wrapper.append(btn(L.add_action, function () {
      state.value.push(fresh(S.actions.tag.fields, { type: "tag" }));
      save(); render();
    }, "rule-add-action"));
    return wrapper;
  });
})();
