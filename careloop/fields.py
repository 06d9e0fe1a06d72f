"""Model fields for personal data: encrypted text and its blind index."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.utils.module_loading import import_string

from careloop import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code only ever sees the plaintext.

    Values cannot be filtered on (each encryption differs): look them up through the
    BlindIndexField that accompanies them.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)


def sealed(path: str) -> models.Expression:
    """An encrypted column read as stored (the Fernet token, not decrypted): to copy a value
    into another encrypted column without decrypting and encrypting it again. The copy keeps
    the key it was sealed with: ``crypto.rotate_all`` re-encrypts models in app order, so a
    column copied from (patients) must come before the one copied into (outreach)."""
    return models.ExpressionWrapper(models.F(path), output_field=models.TextField())


class BlindIndexField(models.CharField):
    """HMAC of the normalised value of another field, kept up to date on every save.

    ``source`` names the plaintext field, ``normaliser`` is the dotted path of a function
    str → str that brings equal values to one spelling (digits only, upper-case …).
    """

    def __init__(
        self, *args: Any, source: str = "", normaliser: str = "", purpose: str = "", **kwargs: Any
    ) -> None:
        self.source = source
        self.normaliser = normaliser
        self.purpose = purpose or source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, normaliser=self.normaliser, purpose=self.purpose)
        for key in ("max_length", "null", "blank", "editable"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    @functools.cached_property
    def _normaliser(self) -> Callable[[str], str]:
        func: Callable[[str], str] = import_string(self.normaliser)
        return func

    def _normalise(self, value: str) -> str:
        return self._normaliser(value)

    def index_of(self, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        return crypto.blind_index(self.purpose, self._normalise(value))

    def lookup_hashes(self, value: str) -> Sequence[str]:
        """The index values a lookup for ``value`` must match (one per configured key)."""
        return crypto.blind_index_candidates(self.purpose, self._normalise(value))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        digest = self.index_of(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, digest)
        return digest


class DerivedCharField(models.CharField):
    """A plain value worked out from another field on every save, as a blind index is
    (``save()``, ``bulk_create()`` and ``bulk.model_row`` alike): what can be read without
    decrypting the field it comes from. ``deriver`` is the dotted path of a function
    str → str."""

    def __init__(self, *args: Any, source: str = "", deriver: str = "", **kwargs: Any) -> None:
        self.source = source
        self.deriver = deriver
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, deriver=self.deriver)
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    @functools.cached_property
    def _deriver(self) -> Callable[[str], str]:
        func: Callable[[str], str] = import_string(self.deriver)
        return func

    def derive(self, value: str | None) -> str:
        return self._deriver(value or "")

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = self.derive(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def index_field(model: type[models.Model], name: str) -> BlindIndexField:
    field = model._meta.get_field(name)
    if not isinstance(field, BlindIndexField):
        raise TypeError(f"{model._meta.label}.{name} is not a blind index")
    return field
