"""Questionnaires as FHIR R4 ``Questionnaire`` and answers as ``QuestionnaireResponse`` (plain
dicts; no Django). Items map to FHIR item types (choice with ``answerOption`` and
``ordinalValue`` scores, decimal with ``questionnaire-unit`` and min/max, integer sliders for
0–10 scales, a matrix as a ``gtable`` group), skip logic to ``enableWhen``. What FHIR has no
element for — scoring, bands, flags, NPS — travels in one CareLoop extension, so an export
imports back unchanged; a Questionnaire from elsewhere imports without it."""

from __future__ import annotations

import json
from typing import Any

from careloop.questionnaires.definition import Definition, DefinitionError, Item
from careloop.said import gettext_noop

SD = "http://hl7.org/fhir/StructureDefinition"
SCORING = "https://careloop.org.cn/fhir/StructureDefinition/questionnaire-scoring"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
CANONICAL = "urn:careloop:questionnaire:"
OPERATORS = {"equals": "=", "not_equals": "!=", "gt": ">", "lt": "<"}
FROM_OPERATOR = {v: k for k, v in OPERATORS.items()}


def _control(code: str) -> dict[str, Any]:
    return {
        "url": f"{SD}/questionnaire-itemControl",
        "valueCodeableConcept": {"coding": [{"system": ITEM_CONTROL, "code": code}]},
    }


def _answer_value(item: Item | None, value: Any) -> dict[str, Any]:
    if item is not None and item.type in ("choice", "multi", "matrix"):
        option = item.option(str(value))
        return {"valueCoding": {"code": str(value), "display": option.label if option else ""}}
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def _enable_when(item: Item, by_key: dict[str, Item]) -> dict[str, Any]:
    when = item.enable_when
    assert when is not None
    target = by_key.get(when.item)
    values = when.value if when.op == "in" else [when.value]
    operator = "=" if when.op == "in" else OPERATORS[when.op]
    conditions = []
    for value in values:
        answer = _answer_value(target, value)
        key = next(iter(answer))
        conditions.append(
            {
                "question": when.item,
                "operator": operator,
                key.replace("value", "answer"): answer[key],
            }
        )
    out: dict[str, Any] = {"enableWhen": conditions}
    if len(conditions) > 1:
        out["enableBehavior"] = "any"
    return out


def _options(item: Item) -> list[dict[str, Any]]:
    options = []
    for option in item.options:
        entry: dict[str, Any] = {"valueCoding": {"code": option.value, "display": option.label}}
        if option.score is not None:
            entry["extension"] = [{"url": f"{SD}/ordinalValue", "valueDecimal": option.score}]
        options.append(entry)
    return options


def _item(item: Item, by_key: dict[str, Item]) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.key, "text": item.text, "required": item.required}
    extensions: list[dict[str, Any]] = []
    if item.type in ("choice", "multi"):
        out.update(type="choice", answerOption=_options(item))
        if item.type == "multi":
            out["repeats"] = True
    elif item.type in ("number", "scale"):
        integer = item.type == "scale"
        out["type"] = "integer" if integer else "decimal"
        kind = "valueInteger" if integer else "valueDecimal"
        for bound, value in (("minValue", item.min), ("maxValue", item.max)):
            if value is not None:
                extensions.append({"url": f"{SD}/{bound}", kind: int(value) if integer else value})
        if item.unit:
            extensions.append(
                {
                    "url": f"{SD}/questionnaire-unit",
                    "valueCoding": {"system": "http://unitsofmeasure.org", "code": item.unit},
                }
            )
        if integer:
            extensions.append(_control("slider"))
            # SDC: the labels of the slider's ends are display items marked lower/upper.
            ends = [
                {
                    "linkId": f"{item.key}.{end}",
                    "type": "display",
                    "text": label,
                    "extension": [_control(end)],
                }
                for end, label in (("lower", item.min_label), ("upper", item.max_label))
                if label
            ]
            if ends:
                out["item"] = ends
    elif item.type == "date":
        out["type"] = "date"
    elif item.type == "text":
        out.update(type="text", maxLength=item.max_length)
    else:  # matrix
        out.update(
            type="group",
            item=[
                {
                    "linkId": f"{item.key}.{row}",
                    "text": text,
                    "type": "choice",
                    "required": item.required,
                    "answerOption": _options(item),
                }
                for row, text in item.rows
            ],
        )
        extensions.append(_control("gtable"))
    if extensions:
        out["extension"] = extensions
    if item.enable_when is not None:
        out.update(_enable_when(item, by_key))
    return out


def to_questionnaire(
    definition: Definition,
    source: dict[str, Any],
    version: int,
    status: str = "active",
    *,
    url: str = "",
    label: str = "",
) -> dict[str, Any]:
    """The FHIR Questionnaire of a definition (``source`` is its JSON, for the extension).
    ``url`` and ``label``: the canonical URL and version its author gave it (an import);
    empty, ours (``urn:careloop:questionnaire:<code>``, the version number)."""
    by_key = {i.key: i for i in definition.items}
    extra = {k: source[k] for k in ("scoring", "flags", "nps", "assessment") if source.get(k)}
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"{definition.code}-{version}",
        "url": url or f"{CANONICAL}{definition.code}",
        "version": label or str(version),
        "name": definition.code.replace("-", "_"),
        "title": definition.title,
        "status": status,
        "item": [_item(i, by_key) for i in definition.items],
    }
    if definition.intro:
        resource["description"] = definition.intro
    if extra:
        resource["extension"] = [
            {"url": SCORING, "valueString": json.dumps(extra, ensure_ascii=False)}
        ]
    return resource


# -- import --------------------------------------------------------------------------------


def _ext(element: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((e for e in element.get("extension", []) if e.get("url", "").endswith(name)), None)


def _code(value: dict[str, Any]) -> Any:
    for key, found in value.items():
        if key.startswith(("answer", "value")):
            return found.get("code") if isinstance(found, dict) else found
    return None


def _options_from(entries: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    options = []
    for n, entry in enumerate(entries):
        coding = entry.get("valueCoding") or {}
        value = coding.get("code") or entry.get("valueString") or entry.get("valueInteger")
        if value is None:
            raise DefinitionError(
                f"{path}.answerOption[{n}]", gettext_noop("must have valueCoding.code")
            )
        option: dict[str, Any] = {"value": str(value), "label": coding.get("display") or str(value)}
        ordinal = _ext(entry, "ordinalValue") or _ext(entry, "itemWeight")
        if ordinal is not None:
            option["score"] = ordinal.get("valueDecimal")
        options.append(option)
    return options


def _item_from(element: dict[str, Any], path: str) -> dict[str, Any]:
    kind = element.get("type")
    out: dict[str, Any] = {
        "key": str(element.get("linkId", "")).replace(".", "_"),
        "text": element.get("text") or element.get("linkId", ""),
        "required": bool(element.get("required", False)),
    }
    slider = (_ext(element, "questionnaire-itemControl") or {}).get("valueCodeableConcept", {})
    codes = {c.get("code") for c in slider.get("coding", [])}
    if kind in ("choice", "open-choice"):
        out["type"] = "multi" if element.get("repeats") else "choice"
        out["options"] = _options_from(element.get("answerOption", []), path)
    elif kind in ("integer", "decimal", "quantity"):
        out["type"] = "scale" if kind == "integer" and "slider" in codes else "number"
        for bound, name in (("min", "minValue"), ("max", "maxValue")):
            found = _ext(element, name)
            if found is not None:
                out[bound] = found.get("valueInteger", found.get("valueDecimal"))
        for child in element.get("item", []):
            child_codes = {
                c.get("code")
                for c in (_ext(child, "questionnaire-itemControl") or {})
                .get("valueCodeableConcept", {})
                .get("coding", [])
            }
            if child.get("type") == "display" and child_codes & {"lower", "upper"}:
                label = "min_label" if "lower" in child_codes else "max_label"
                out[label] = child.get("text", "")
        unit = _ext(element, "questionnaire-unit")
        if unit is not None:
            out["unit"] = unit.get("valueCoding", {}).get("code", "")
    elif kind in ("date", "dateTime"):
        out["type"] = "date"
    elif kind in ("string", "text"):
        out["type"] = "text"
        out["max_length"] = element.get("maxLength", 500)
    elif kind == "group" and "gtable" in codes:
        rows = element.get("item", [])
        if not rows:
            raise DefinitionError(path, gettext_noop("a matrix (gtable) must have rows"))
        out["type"] = "matrix"
        out["rows"] = [
            {"key": str(r["linkId"]).rpartition(".")[2], "text": r.get("text", "")} for r in rows
        ]
        out["options"] = _options_from(rows[0].get("answerOption", []), f"{path}.item[0]")
    else:
        raise DefinitionError(
            f"{path}.type",
            gettext_noop("the question type %(kind)s is not supported"),
            kind=repr(kind),
        )
    conditions = element.get("enableWhen", [])
    if conditions:
        out["enable_when"] = _condition_from(conditions, element.get("enableBehavior"), path)
    return out


def _condition_from(conditions: list[dict[str, Any]], behaviour: Any, path: str) -> dict[str, Any]:
    first = conditions[0]
    question = str(first.get("question", "")).replace(".", "_")
    if len(conditions) > 1:
        if behaviour != "any" or any(c.get("operator") != "=" for c in conditions):
            raise DefinitionError(
                f"{path}.enableWhen",
                gettext_noop("only a single condition, or “any equals”, is supported"),
            )
        return {"item": question, "in": [_code(c) for c in conditions]}
    op = FROM_OPERATOR.get(first.get("operator", ""))
    if op is None:
        raise DefinitionError(
            f"{path}.enableWhen[0].operator", gettext_noop("only =, !=, > and < are supported")
        )
    return {"item": question, op: _code(first)}


MAX_URL = 255  # Questionnaire.url's column
MAX_LABEL = 64  # QuestionnaireVersion.label's


def canonical_of(resource: dict[str, Any]) -> tuple[str, str]:
    """(url, version) a Questionnaire from elsewhere names itself by, kept when it is saved
    (answers refer to it as ``url|version``): ("", "") for ours (``urn:careloop:…``, whose
    version is our number) or when it gives none."""
    url, version = resource.get("url") or "", resource.get("version") or ""
    if not isinstance(url, str) or len(url.strip()) > MAX_URL or "|" in url:
        raise DefinitionError(
            "url",
            gettext_noop("must be a URL without |, at most %(limit)s characters"),
            limit=MAX_URL,
        )
    if not isinstance(version, str) or len(version.strip()) > MAX_LABEL or "|" in version:
        raise DefinitionError(
            "version",
            gettext_noop("must be a text without |, at most %(limit)s characters"),
            limit=MAX_LABEL,
        )
    url = url.strip()
    if not url or url.startswith(CANONICAL):
        return "", ""
    return url, version.strip()


def from_questionnaire(resource: dict[str, Any]) -> dict[str, Any]:
    """A definition's JSON from a FHIR Questionnaire (check it with ``compile_definition``).
    Its code: ours from the URL, else the name, the id or the URL's last part (the URL
    itself is kept apart, ``canonical_of``)."""
    if resource.get("resourceType") != "Questionnaire":
        raise DefinitionError("resourceType", gettext_noop("must be Questionnaire"))
    url = str(resource.get("url", ""))
    code = (
        url.removeprefix(CANONICAL)
        if url.startswith(CANONICAL)
        else resource.get("name") or resource.get("id") or url.rstrip("/").rpartition("/")[2]
    )
    data: dict[str, Any] = {
        "code": str(code or "").replace("_", "-").lower(),
        "title": resource.get("title") or resource.get("name") or "",
        "intro": resource.get("description", ""),
        "items": [
            _item_from(element, f"item[{n}]") for n, element in enumerate(resource.get("item", []))
        ],
    }
    scoring = _ext(resource, "questionnaire-scoring")
    if scoring is not None:
        data.update(json.loads(scoring.get("valueString") or "{}"))
    return data


def to_response(
    definition: Definition,
    version: int,
    answers: dict[str, Any],
    *,
    response_id: int,
    patient_id: int,
    authored: str,
    canonical: str = "",
) -> dict[str, Any]:
    """A QuestionnaireResponse of stored (checked) answers; ``canonical``: the
    questionnaire's ``url|version`` when it is not ours."""
    items = []
    for item in definition.items:
        if item.key not in answers:
            continue
        value = answers[item.key]
        entry: dict[str, Any] = {"linkId": item.key, "text": item.text}
        if item.type == "matrix":
            entry["item"] = [
                {
                    "linkId": f"{item.key}.{row}",
                    "text": text,
                    "answer": [_answer_value(item, value[row])],
                }
                for row, text in item.rows
                if row in value
            ]
        elif item.type == "date":
            entry["answer"] = [{"valueDate": value}]
        else:
            values = value if isinstance(value, list) else [value]
            entry["answer"] = [_answer_value(item, v) for v in values]
        items.append(entry)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(response_id),
        "questionnaire": canonical or f"{CANONICAL}{definition.code}|{version}",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": authored,
        "item": items,
    }


def _answer(answer: dict[str, Any]) -> Any:
    for key, value in answer.items():
        if key == "valueCoding":
            return value.get("code")
        if key.startswith("value"):
            return value
    return None


def answers_from_response(definition: Definition, resource: dict[str, Any]) -> dict[str, Any]:
    """The raw answers of a QuestionnaireResponse, by item key, for ``evaluate``: a matrix
    from its group's rows, several answers of a multi as a list."""
    by_link = {entry.get("linkId"): entry for entry in resource.get("item", [])}
    raw: dict[str, Any] = {}
    for item in definition.items:
        entry = by_link.get(item.key)
        if entry is None:
            continue
        if item.type == "matrix":
            raw[item.key] = {
                str(row.get("linkId", "")).rpartition(".")[2]: _answer(
                    (row.get("answer") or [{}])[0]
                )
                for row in entry.get("item", [])
            }
            continue
        values = [_answer(a) for a in entry.get("answer", [])]
        raw[item.key] = values if item.type == "multi" else (values[0] if values else None)
    return raw
