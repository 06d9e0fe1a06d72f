"""Pathways edited in the administration: each save is kept as a new version (the admin's own
save page, two-factor verified, as an administrator uses it)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.followup.models import Pathway
from careloop.followup.pathways import load_pack
from tests.factories import UserFactory


def _admin_client(hospital: Any) -> Client:
    admin = UserFactory(organisation=hospital, role="admin", is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's inline of versions (its management form and ids)."""
    return dict(re.findall(r'name="(versions-[\w-]+)"[^>]*value="([^"]*)"', html))


def test_saving_a_pathway_in_the_administration_keeps_a_new_version(hospital: Any) -> None:
    load_pack()
    pathway = Pathway.objects.get(code="post-op")
    client = _admin_client(hospital)
    url = f"/admin/followup/pathway/{pathway.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][0]["count"] = 10
    data = {
        "name": pathway.name,
        "description": pathway.description,
        "organisation": "",
        "enabled": "on",
        "definition": json.dumps(definition, ensure_ascii=False),
        "note": "伤口观察缩短为10天",
        "_continue": "1",
        **_form_fields(page.content.decode()),
    }
    saved = client.post(url, data)
    errors = re.findall(r"errorlist[^>]*>(.*?)</ul>", saved.content.decode(), re.S)
    assert saved.status_code == 302, errors
    pathway.refresh_from_db()
    assert pathway.version == 2 and pathway.definition["nodes"][0]["count"] == 10
    assert pathway.versions.get(version=2).note == "伤口观察缩短为10天"
