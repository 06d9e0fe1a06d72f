"""Error pages are CareLoop's own, in the user's language, with a way back; they stand alone
(no navigation, nothing read from the database)."""

from __future__ import annotations

from typing import Any

from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from tests.test_patients_web import logged_in

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _page(response: Any) -> str:
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and 'href="/"' in html and "返回首页" in html
    assert 'lang="zh-CN"' in html
    return html


def test_a_missing_page_says_so_in_chinese(bob: Any) -> None:
    response = logged_in(bob).get("/alerts/99999/", **ZH)
    assert response.status_code == 404 and "页面不存在" in _page(response)


def test_a_page_someone_may_not_open_says_so_in_chinese(alice: Any) -> None:
    response = logged_in(alice).get("/audit/", **ZH)
    assert response.status_code == 403 and "没有权限" in _page(response)


def test_a_form_sent_without_its_token_says_it_expired(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/worklist/assign/", {"task": ["1"], "assignee": "me"}, **ZH)
    assert response.status_code == 403 and "表单已过期" in _page(response)


def test_a_server_error_page_renders_without_any_context(db: None) -> None:
    request = RequestFactory().get("/")
    with translation.override("zh-hans"):
        response = server_error(request)
    assert response.status_code == 500 and "系统出错了" in _page(response)


def test_a_patient_page_not_found_offers_no_way_into_the_staff_pages(db: None) -> None:
    response = Client().get("/p/abc/def/nothing/", **ZH)
    html = response.content.decode()
    assert response.status_code == 404 and "页面不存在" in html and 'href="/"' not in html
