"""Organisations, teams, staff users and API tokens."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.fields import EncryptedTextField


class Organisation(models.Model):
    """An organisation (机构): hospital, department, exam centre, community centre or
    family-doctor team. Organisations form a tree; a user sees the patients of their own
    organisation and everything below it.
    """

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("hospital")
        DEPARTMENT = "department", _("department")
        EXAM_CENTRE = "exam_centre", _("physical-exam centre")
        COMMUNITY_CENTRE = "community_centre", _("community health centre")
        FAMILY_DOCTOR_TEAM = "family_doctor_team", _("family-doctor team")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path of primary keys, "/1/4/9/": the subtree is one indexed prefix query.
    path = models.CharField(
        _("tree path"), max_length=255, editable=False, db_index=True, default=""
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Where the residents it serves live, for China-PAR (unknown: the model is not run).
    region_north = models.BooleanField(
        _("north of the Yangtze"),
        null=True,
        blank=True,
        help_text=_("For the China-PAR cardiovascular risk of its patients (以长江为界)."),
    )
    urban = models.BooleanField(
        _("urban"),
        null=True,
        blank=True,
        help_text=_("Its patients live in a city (城市) rather than the countryside (农村)."),
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        parent_path = self.parent.path if self.parent else "/"
        if self.pk is not None and f"/{self.pk}/" in parent_path:
            raise ValueError("an organisation cannot be placed below itself")
        with transaction.atomic():
            if self.pk is None:
                super().save(*args, **kwargs)
                self.path = f"{parent_path}{self.pk}/"
                Organisation.objects.filter(pk=self.pk).update(path=self.path)
                return
            old_path, self.path = self.path, f"{parent_path}{self.pk}/"
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                moved = Organisation.objects.filter(path__startswith=old_path).exclude(pk=self.pk)
                for pk, path in moved.values_list("pk", "path"):
                    new_path = self.path + path[len(old_path) :]
                    Organisation.objects.filter(pk=pk).update(path=new_path)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def lineage(self) -> list[int]:
        """Primary keys from the root of the tree down to this organisation."""
        return [int(pk) for pk in self.path.strip("/").split("/") if pk]

    def nearest(self, queryset: models.QuerySet[Any]) -> Any:
        """The row of ``queryset`` (a model with an optional ``organisation``) that applies
        here: this organisation's own, else its nearest ancestor's, else the platform-wide
        one (no organisation); None when there is none."""
        lineage = self.lineage
        rows = queryset.filter(
            models.Q(organisation_id__in=lineage) | models.Q(organisation__isnull=True)
        )
        rank = {pk: i for i, pk in enumerate(reversed(lineage))}
        return min(rows, key=lambda r: rank.get(r.organisation_id, len(rank)), default=None)

    def subtree(self) -> models.QuerySet[Organisation]:
        return Organisation.objects.filter(path__startswith=self.path)


class Team(models.Model):
    """A team (团队) of staff within an organisation, e.g. 心内科随访组."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="teams",
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["organisation__path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="team_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.organisation.name} · {self.name}"


class User(AbstractUser):
    """A staff user (工作人员). Roles are groups (see accounts/roles.py)."""

    display_name = models.CharField(_("full name"), max_length=50, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    teams = models.ManyToManyField(
        Team, verbose_name=_("teams"), blank=True, related_name="members"
    )
    wecom_userid = models.CharField(
        _("WeCom user ID"),
        max_length=64,
        blank=True,
        help_text=_("企业微信 UserID: alerts assigned to this user are also sent there."),
    )

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def role_codes(self) -> set[str]:
        cached = getattr(self, "_role_codes", None)
        if cached is None:
            cached = set(self.groups.values_list("name", flat=True))
            self._role_codes = cached
        return cached

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes.intersection(codes))

    @property
    def requires_two_factor(self) -> bool:
        from careloop.accounts.roles import Role

        if settings.TWO_FACTOR_ALL_STAFF:
            return True
        return self.is_superuser or self.has_role(Role.ADMIN)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for integrators (接口令牌). Only its SHA-256 is stored; the token acts
    as its user, so it sees what the user's organisation sees.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class KeyCheck(models.Model):
    """One row: proof of the keys the machines of this database share (careloop/keycheck.py).
    ``field_key_proof`` is a known text encrypted under CARELOOP_FIELD_KEY, re-encrypted by
    ``careloop rotatekeys``; ``secret_key_digest`` an HMAC under CARELOOP_SECRET_KEY."""

    field_key_proof = EncryptedTextField()
    secret_key_digest = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"keys recorded {self.recorded_at:%Y-%m-%d %H:%M}"
