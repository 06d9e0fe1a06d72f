"""Texts the system writes into records that staff read later — an alert's escalation and
hand-over notes, why a record is shared after a referral, why a follow-up was cancelled when
a plan changed — shown in the reader's language.

They are stored as they always were, in the default language (Chinese), so rows written
before this change and after it read the same: ``stored`` writes one, ``shown`` reads a
stored text back in the active language by matching it against the Chinese of each known
text (its parameters and the words put in them, "未分配", "入院", translated too). Anything
else — a note someone typed — is shown as stored."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, pgettext_lazy

ESCALATED = gettext_noop("Past the time to respond: escalated from %(before)s to %(owner)s")
NOBODY_HIGHER = gettext_noop(
    "Past the time to respond; there is nobody higher up, %(before)s still handles it"
)
NO_DOCTOR_YET = gettext_noop("The patient has no responsible doctor yet: given to %(owner)s")
HANDED_OVER = gettext_noop("%(source)s → %(target)s (work handed over)")
REFERRAL_WAITING = gettext_noop("referral waiting to be accepted")
TRANSFERRED_TO = gettext_noop("transferred to %(organisation)s")
PLAN_STOPPED = gettext_noop("plan stopped: %(reason)s")
TIERS_CHANGED = gettext_noop("risk/value tier changed: rescheduled at the new frequency")
REMINDER_MOOT = gettext_noop(
    "the patient has had %(what)s (%(day)s): the reminder is no longer needed"
)
RESULT_SENT_AGAIN = gettext_noop(
    "the laboratory has sent this result again (corrected, final or withdrawn): the value "
    "alerted is no longer on the record; see the patient's latest results"
)
RESULT_REIMPORTED = gettext_noop(
    "the message of this result was imported again: the value alerted was withdrawn"
)

TEXTS = (
    ESCALATED,
    NOBODY_HIGHER,
    NO_DOCTOR_YET,
    HANDED_OVER,
    REFERRAL_WAITING,
    TRANSFERRED_TO,
    PLAN_STOPPED,
    TIERS_CHANGED,
    REMINDER_MOOT,
    RESULT_SENT_AGAIN,
    RESULT_REIMPORTED,
)

# Words the system puts into them (as msgids: stored in Chinese, shown in the reader's).
UNASSIGNED = gettext_noop("unassigned")
ADMISSION = pgettext_lazy("the patient has had", "an admission")
VISIT = pgettext_lazy("the patient has had", "a visit")


def _words() -> list[Any]:
    from careloop.followup.models import Plan

    return [UNASSIGNED, ADMISSION, VISIT, *(label for _v, label in Plan.StopReason.choices)]


def stored(text: str, **params: Any) -> str:
    """``text`` with ``params`` as it is stored: in the default language."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(text) % {k: _word(v) for k, v in params.items()}


def _word(value: Any) -> str:
    return gettext(value) if isinstance(value, str) and value == UNASSIGNED else str(value)


@lru_cache(maxsize=64)
def _pattern(text: str, language: str) -> re.Pattern[str]:
    with translation.override(language):
        stored_as = gettext(text)
    parts = re.split(r"%\((\w+)\)s", stored_as)
    regex = "".join(
        re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts)
    )
    return re.compile(regex)


@lru_cache(maxsize=8)
def _stored_words(language: str) -> dict[str, Any]:
    with translation.override(language):
        return {gettext(w) if isinstance(w, str) else str(w): w for w in _words()}


def shown(text: str) -> str:
    """A stored system text in the active language; any other text as it is."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    if not text or language == settings.LANGUAGE_CODE:
        return text
    for known in TEXTS:
        found = _pattern(known, settings.LANGUAGE_CODE).fullmatch(text)
        if found:
            words = _stored_words(settings.LANGUAGE_CODE)
            params = {k: _back(v, words) for k, v in found.groupdict().items()}
            return gettext(known) % params
    return text


def _back(value: str, words: dict[str, Any]) -> str:
    word = words.get(value)
    if word is None:
        return value
    return gettext(word) if isinstance(word, str) else str(word)
