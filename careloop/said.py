"""What the Django-free checks (pathway, rule and questionnaire definitions) say, in the
reader's language.

The checks raise with an English msgid, marked for ``make messages``
(``gettext_noop("must be one of %(choices)s")``), and its parameters; the text is looked up
when it is read, so a page shows it in the page's language and a command in the default one
(Chinese), while the checks keep no Django import at module level and still read in English
without settings. A list or tuple parameter is joined with the language's separator
(", " / "、"). The msgids and their Chinese are in the .po like any other."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def gettext_noop(message: str) -> str:
    """Marks a msgid for ``make messages`` (makemessages extracts ``gettext_noop("…")``)
    where Django is not imported; the text is looked up when it is read (``said``)."""
    return message


def said(template: str, params: Mapping[str, object] | None = None) -> str:
    """``template`` in the active language, with ``params`` put in."""
    return _translated(
        lambda t: _filled(t.gettext(template), t.pgettext("list separator", ", "), params),
        lambda: _filled(template, ", ", params),
    )


def pgettext(context: str, message: str) -> str:
    """``message`` (a msgid) in the active language, told apart by ``context`` from the same
    English said otherwise; English without settings. Named like Django's so that ``make
    messages`` extracts the context."""
    return _translated(lambda t: t.pgettext(context, message), lambda: message)


def ngettext(singular: str, plural: str, number: int) -> str:
    """The msgid for ``number`` in the active language (English without settings); named like
    Django's so that ``make messages`` extracts both forms."""
    return _translated(
        lambda t: t.ngettext(singular, plural, number),
        lambda: singular if number == 1 else plural,
    )


def language() -> str:
    """The active language's code ("zh-hans", "en"); "en" without settings."""
    return _translated(lambda t: t.get_language() or "en", lambda: "en")


def _translated(look_up: Callable[[Any], T], english: Callable[[], T]) -> T:
    """``look_up(django.utils.translation)``; ``english()`` without Django or its settings
    (the checks used on their own read English, as written)."""
    try:
        from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
        from django.utils import translation
    except ImportError:  # pragma: no cover - the checks used on their own
        return english()
    try:
        return look_up(translation)
    except (ImproperlyConfigured, AppRegistryNotReady):
        return english()


def _filled(text: str, separator: str, params: Mapping[str, object] | None) -> str:
    if not params:
        return text
    values = {
        k: separator.join(str(x) for x in v) if isinstance(v, list | tuple) else v
        for k, v in params.items()
    }
    return text % values


class CheckError(ValueError):
    """A definition that cannot be used: ``path`` names the part (``nodes[1].window``),
    ``message`` says what is wrong in the reader's language. Raise with the English msgid and
    its parameters, marked for extraction:
    ``CheckError("nodes[0].key", gettext_noop("at most %(limit)s characters"), limit=40)``."""

    def __init__(self, path: str, message: str, **params: object) -> None:
        super().__init__(path, message)
        self.path = path
        self.template = message
        self.params = params

    @property
    def message(self) -> str:
        return said(self.template, self.params)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
