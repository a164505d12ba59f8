"""Pages without their own icon link (the back office, the API docs) make the browser ask
for /favicon.ico: it is the app's icon, not a 404 in the console."""

from __future__ import annotations

import pytest
from django.templatetags.static import static


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_app_icon(client):
    # when a browser asks for the conventional icon path
    response = client.get("/favicon.ico", follow=True)
    # then it gets the app's icon
    assert response.redirect_chain[0][0] == static("img/favicon.svg")
    assert response.status_code == 200
