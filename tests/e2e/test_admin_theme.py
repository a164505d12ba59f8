"""The back office looks like the app: the same dark background and text, on a desktop and a
phone, whatever light/dark preference the browser has."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory, account_with_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COLOURS_JS = """() => {
  const s = getComputedStyle(document.body);
  return [s.backgroundColor, s.color];
}"""


@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_back_office_wears_the_app_theme(logged_in_page, screenshot, width, scheme):
    # Given an admin whose browser prefers a light (or dark) scheme
    admin = UserFactory(username="ops", role="admin", is_staff=True)
    account = account_with_member(user=admin)
    page = logged_in_page(admin)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme)
    # When they open the app, then the back office
    page.goto("/")
    app_colours = page.evaluate(COLOURS_JS)
    page.goto(f"/admin/accounts/risklimits/{account.pk}/change/")
    # Then the back office has the app's background and text colours
    assert page.evaluate(COLOURS_JS) == app_colours
    # And the allowed symbols are an empty line with help, not "null"
    assert page.input_value("input[name=allowed_symbols]") == ""
    assert "Empty: any symbol." in page.inner_text("#content")
    assert page.locator("#site-name").inner_text().strip() == "OMS back office"
    screenshot(page, f"admin_risk_limits_{scheme}_{width}")
    assert page.js_errors == []
