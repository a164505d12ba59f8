"""The orders pages (ticket, blotter, detail) and the admin (read-only, cancel action)."""

from __future__ import annotations

import pytest
from django.test import Client

from orders.models import Order, OrderStatus
from tests.factories import DEFAULT_PASSWORD
from tests.orders.factories import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    assert client.login(username=trader.username, password=DEFAULT_PASSWORD)
    return client


@pytest.fixture
def admin_browser(admin_user) -> Client:
    admin_user.is_staff = True
    admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    assert client.login(username=admin_user.username, password=DEFAULT_PASSWORD)
    return client


def test_pages_need_a_login():
    response = Client().get("/orders/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_ticket_lists_tradable_accounts_and_instruments(browser, account, quoted):
    response = browser.get("/orders/ticket/?symbol=acme&side=sell")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="ticket"' in html
    assert str(account.pk) in html and "ACME" in html
    assert 'value="ACME"' in html  # prefilled symbol
    assert 'id="side-sell" name="side" value="sell" checked' in html
    assert "js/orders/ticket.js" in html
    # the nav shows the ticket and the blotter
    assert 'href="/orders/ticket/"' in html and 'href="/orders/"' in html


def test_ticket_without_tradable_accounts_says_so(browser, trader, quoted):
    from tests.factories import account_with_member

    account_with_member(user=trader, role="view")
    html = browser.get("/orders/ticket/").content.decode()
    assert "no account you may trade on" in html


def test_blotter_renders_its_tabs_and_filters(browser, account, quoted):
    response = browser.get("/orders/?tab=filled")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-tab="filled" aria-current="page"' in html
    assert 'id="blotter"' in html and "Main" in html


def test_order_detail_shows_the_trail_and_fills(
    browser, trader, account, quoted, fake_broker, submit
):
    fake_broker.mode = "fill"
    with submit():
        order = place(trader, account)
    response = browser.get(f"/orders/{order.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="order-events"' in html and '"type": "fill"' in html
    assert 'id="order-fills"' in html and '"price": "100"' in html


def test_someone_elses_order_page_is_404(browser, other_user, fake_broker, quoted):
    from tests.factories import account_with_member

    theirs = account_with_member(user=other_user, broker="fake")
    order = place(other_user, theirs)
    assert browser.get(f"/orders/{order.pk}/").status_code == 404


def test_admin_shows_orders_read_only_with_their_trail(admin_browser, trader, account, quoted):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    listing = admin_browser.get("/admin/orders/order/")
    assert listing.status_code == 200
    page = admin_browser.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Audit trail" in html and "created" in html
    assert 'name="_save"' not in html  # no save button: read-only
    assert admin_browser.get("/admin/orders/order/add/").status_code == 403


def test_admin_cancel_action_goes_through_the_service(admin_browser, trader, account, quoted):
    order = place(trader, account, order_type="stop", limit_price=None, stop_price="105")
    response = admin_browser.post(
        "/admin/orders/order/",
        {"action": "cancel_orders", "_selected_action": [str(order.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    event = order.events.order_by("-seq").first()
    assert event.type == "canceled" and event.actor["type"] == "user"
    assert event.data["reason"] == "admin"
    assert Order.objects.count() == 1
