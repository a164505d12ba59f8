"""The GTT and schedules pages, and the automation admin (GTT disable, editable schedules
kept in step with their beat task)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from orders.automation.gtt import gtt_create
from orders.models import ScheduledOrder
from tests.factories import DEFAULT_PASSWORD

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


@pytest.mark.parametrize("url", ["/gtt/", "/schedules/"])
def test_automation_pages_need_a_login(url):
    response = Client().get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_gtt_page_has_the_form_the_ladder_and_the_nav_link(browser, paper, quoted):
    response = browser.get("/gtt/?symbol=acme")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="gtt-form"' in html and 'id="ladder"' in html
    assert str(paper.pk) in html and 'value="ACME"' in html
    assert "js/orders/gtt.js" in html and "js/orders/ladder.js" in html
    assert 'href="/gtt/"' in html and 'href="/schedules/"' in html


def test_schedules_page_lists_only_tradable_accounts_in_its_form(browser, paper, quoted):
    html = browser.get("/schedules/").content.decode()
    assert 'id="sched-form"' in html and "js/orders/schedules.js" in html
    assert f'<option value="{paper.pk}">' in html


def test_admin_disables_an_active_gtt(admin_browser, trader, paper, quoted):
    gtt = gtt_create(
        user=trader,
        account_id=paper.pk,
        symbol="ACME",
        trigger_type="single",
        trigger_values=["95"],
        orders=[{"side": "buy", "qty": "1", "type": "market"}],
    )
    response = admin_browser.post(
        "/admin/orders/gtt/",
        {"action": "disable_gtts", "_selected_action": [str(gtt.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    gtt.refresh_from_db()
    assert gtt.status == "disabled"
    assert list(gtt.events.values_list("type", flat=True)) == ["created", "disabled"]
    assert admin_browser.get(f"/admin/orders/gtt/{gtt.pk}/change/").status_code == 200


def test_admin_edits_a_schedule_and_its_beat_task_follows(admin_browser, paper, quoted):
    data = {
        "name": "Open buy",
        "account": str(paper.pk),
        "order": '{"symbol": "ACME", "side": "buy", "type": "market", "qty": "2"}',
        "kind": "cron",
        "run_at_0": "",
        "run_at_1": "",
        "cron": "0 10 * * *",
        "tz": "UTC",
        "enabled": "on",
    }
    response = admin_browser.post("/admin/orders/scheduledorder/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = ScheduledOrder.objects.get()
    task = PeriodicTask.objects.get(pk=row.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("0", "10", True)
    # a bad cron is refused by the form, nothing changes
    bad = admin_browser.post(
        f"/admin/orders/scheduledorder/{row.pk}/change/", {**data, "cron": "nope"}
    )
    assert bad.status_code == 200 and "cron" in bad.content.decode()
    # disabling in the admin disables the beat task
    data.pop("enabled")
    admin_browser.post(f"/admin/orders/scheduledorder/{row.pk}/change/", data)
    task.refresh_from_db()
    assert task.enabled is False
    # deleting removes the beat task
    admin_browser.post(f"/admin/orders/scheduledorder/{row.pk}/delete/", {"post": "yes"})
    assert (
        not ScheduledOrder.objects.exists() and not PeriodicTask.objects.filter(pk=task.pk).exists()
    )
