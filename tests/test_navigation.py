"""The sidebar: the places a user's role may go, the one they are in marked."""

from __future__ import annotations

import re
from typing import Any

from tests.test_patients_web import logged_in


def _sidebar(client: Any, path: str) -> tuple[list[str], list[str]]:
    """(every link's path, the active links' paths) in the sidebar of ``path``."""
    page = client.get(path)
    assert page.status_code == 200, path
    aside = page.content.decode().split("<aside", 1)[1].split("</aside>", 1)[0]
    links = re.findall(r'<a class="nav-link( active)?" href="([^"]+)"', aside)
    return [href for _a, href in links], [href for active, href in links if active]


def test_a_nurse_sees_her_places_and_the_one_she_is_in(alice: Any) -> None:
    client = logged_in(alice)
    links, active = _sidebar(client, "/worklist/")
    assert links[:2] == ["/", "/patients/"] and "/worklist/" in links
    assert "/worklist/team/" not in links  # team workload is for supervisors
    assert "/admin/" not in links
    assert active == ["/worklist/"]
    assert _sidebar(client, "/")[1] == ["/"]  # home: on its own path only
    assert _sidebar(client, "/patients/")[1] == ["/patients/"]
    # A page below the worklist's URL that has its own place is not the worklist.
    assert _sidebar(client, "/worklist/pathways/")[1] == ["/worklist/pathways/"]


def test_a_supervisors_quality_review_is_under_team_workload(bob: Any) -> None:
    links, active = _sidebar(logged_in(bob), "/worklist/quality/")
    assert "/worklist/team/" in links
    assert active == ["/worklist/team/"]
