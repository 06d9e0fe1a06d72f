"""What the browser tests share."""

from typing import Any

from tests.factories import PASSWORD


def sign_in(page: Any, username: str) -> None:
    """Sign ``username`` in through the login form (every test user has ``PASSWORD``)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
