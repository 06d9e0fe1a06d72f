"""Message templates: those with only ``{{ name }}`` tags take a fast path that must render
exactly as Django's template engine does; anything else goes to the engine."""

from __future__ import annotations

import pytest
from django.template import Context

from careloop.outreach.compose import TemplateError, _compiled, _django, _Plain, render

CONTEXT = {"salutation": "张阿姨", "hospital": "示范医院", "due_date": "5月1日", "a": "值"}


def by_django(text: str, context: dict) -> str:
    return _django(text).render(Context(context)).strip()


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("{{ salutation }}您好，{{hospital}}提醒您{{ due_date }}前复诊。回T退订", True),
        ("  {{ a }} {{ missing }}  ", True),
        ("no tags at all", True),
        ("{{\ta\t}}", True),
        ("{{ a|upper }}", False),
        ("{% if a %}有{% endif %}", False),
        ("{# note #}{{ a }}", False),
        ("{{\na }}", False),  # Django does not read a tag across lines
        ("}} {{ a }}", False),
        ("{{ a.upper }}", False),
        ("{{{ a }}}", False),  # Django refuses it: an error, not a stray brace
        ("{ {{ a }} }", False),
        ("{{ True }}/{{ None }}", False),  # names Django's Context always holds
    ],
)
def test_templates_render_as_django_renders_them(text: str, plain: bool) -> None:
    try:
        expected = by_django(text, CONTEXT)
    except TemplateError:  # Django refuses the template: so must the fast path
        assert not plain
        with pytest.raises(TemplateError):
            render(text, CONTEXT)
        return
    assert isinstance(_compiled(text), _Plain) is plain
    assert render(text, CONTEXT) == expected


def test_a_value_that_is_not_a_string_is_left_to_django() -> None:
    """Django localises numbers and dates: the fast path hands those over."""
    assert isinstance(_compiled("共{{ n }}次"), _Plain)
    assert render("共{{ n }}次", {"n": 1234567}) == by_django("共{{ n }}次", {"n": 1234567})


def test_a_name_django_refuses_is_still_an_error() -> None:
    with pytest.raises(TemplateError, match="underscores"):
        render("{{ _secret }}", CONTEXT)
