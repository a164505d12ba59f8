"""Pages a user is refused or that do not exist are the app's pages (dark, with the menu and
a way back), not Django's bare white "403 Forbidden" / "Not Found"."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from oms_site import api_errors

pytestmark = pytest.mark.django_db


def test_a_trader_refused_the_back_office_sees_why_inside_the_app(client, trader):
    # given a trader (no back-office access) signed in
    client.force_login(trader)
    # when they open the back office
    response = client.get("/admin/login/?next=/admin/")
    # then the app's page says why, with the menu to go on
    assert response.status_code == 403
    page = response.content.decode()
    assert 'class="topbar"' in page
    assert "This account may not use the back office." in page
    assert 'href="/"' in page


def test_a_missing_page_is_the_apps_not_found_page(client, trader):
    client.force_login(trader)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'class="topbar"' in page
    assert "Page not found" in page


def test_a_missing_page_without_a_session_offers_the_sign_in(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert 'href="/accounts/login/"' in page


def test_a_server_error_page_is_the_apps_and_needs_nothing_that_may_be_down():
    # given a page failing with an unexpected error (the database may be what failed)
    request = RequestFactory().get("/orders/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        # when Django's handler500 answers
        response = api_errors.server_error_view(request)
    # then it is the app's dark page in words, with a way back
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "css/app.css" in page
    assert 'href="/"' in page
