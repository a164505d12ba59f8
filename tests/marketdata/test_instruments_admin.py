"""Instrument CSV import (service and admin page), demo seed, admin pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from marketdata import calendar, services
from marketdata.models import Exchange, Instrument, WatchlistItem
from tests.factories import UserFactory
from tests.marketdata.factories import InstrumentFactory, NseExchangeFactory

pytestmark = pytest.mark.django_db

GOOD = """symbol,exchange,name,currency,tick_size,lot_size,price_band_pct,tradable,simulate
INFY,NSE,Infosys,INR,0.05,1,20,true,false
HDFCBANK,NSE,HDFC Bank,INR,0.05,1,,yes,no
"""


def test_csv_import_creates_and_updates(sim_exchange):
    NseExchangeFactory()
    InstrumentFactory(symbol="INFY", exchange=sim_exchange, name="old", tick_size=Decimal("1"))
    report = services.instruments_import_csv(text=GOOD)
    assert report.ok
    assert report.created == ["HDFCBANK"] and report.updated == ["INFY"]
    infy = Instrument.objects.get(symbol="INFY")
    assert (infy.exchange_id, infy.name, infy.tick_size, infy.price_band_pct) == (
        "NSE",
        "Infosys",
        Decimal("0.05"),
        Decimal("20"),
    )


def test_csv_import_reports_every_bad_line_and_imports_nothing(sim_exchange):
    text = (
        "symbol,exchange,tick_size,lot_size\n"
        "OK1,SIM,0.05,1\n"
        "BAD1,SIM,0,1\n"
        "BAD2,NOWHERE,0.05,1\n"
        "OK1,SIM,0.05,1\n"
        "BAD3,SIM,0.05,-2\n"
    )
    report = services.instruments_import_csv(text=text)
    assert [line for line, _ in report.errors] == [3, 4, 5, 6]
    assert "tick_size" in report.errors[0][1]
    assert "exchange" in report.errors[1][1]
    assert "line 2" in report.errors[2][1]
    assert not Instrument.objects.filter(symbol__startswith="OK").exists()


def test_csv_import_needs_the_key_columns(sim_exchange):
    report = services.instruments_import_csv(text="name,tick_size\nX,0.05\n")
    assert report.errors and report.errors[0][0] == 1


def test_admin_csv_import_page(admin_user, sim_exchange):
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    url = "/admin/marketdata/instrument/import-csv/"
    assert client.get(url).status_code == 200
    bad = SimpleUploadedFile("i.csv", b"symbol,exchange,tick_size\nZZ,SIM,-1\n")
    page = client.post(url, {"file": bad})
    assert page.status_code == 200 and b"nothing was imported" in page.content
    assert b"<td>2</td>" in page.content
    good = SimpleUploadedFile("i.csv", b"symbol,exchange,tick_size\nZZ,SIM,0.01\n")
    assert client.post(url, {"file": good}).status_code == 302
    assert Instrument.objects.get(symbol="ZZ").tick_size == Decimal("0.01")


def test_admin_import_is_forbidden_to_a_trader(trader):
    trader.is_staff = True
    trader.save()
    client = Client()
    client.force_login(trader)
    response = client.get("/admin/marketdata/instrument/import-csv/")
    assert response.status_code in (302, 403)


@pytest.mark.parametrize("model", ["exchange", "instrument", "quote", "bar", "exchangeholiday"])
def test_admin_lists_render(admin_user, acme, model):
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    services.tick_ingest(symbol="ACME", last="10")
    assert client.get(f"/admin/marketdata/{model}/").status_code == 200


def test_seed_demo_is_idempotent_and_gives_users_a_watchlist():
    user = UserFactory(username="newbie")
    services.seed_demo_instruments()
    services.seed_demo_watchlists()
    services.seed_demo_instruments()
    services.seed_demo_watchlists()
    assert Exchange.objects.get(code="SIM").always_open
    nse = Exchange.objects.get(code="NSE")
    assert nse.holiday_calendar == "XNSE" and calendar.maintained_calendar_known("XNSE")
    simulated = set(Instrument.objects.filter(simulate=True).values_list("symbol", flat=True))
    assert simulated == {"ACME", "GLOBEX", "INITECH", "UMBRELLA", "STARK"}
    assert Instrument.objects.filter(exchange_id="NSE", simulate=False).count() == 2
    assert (
        set(WatchlistItem.objects.filter(user=user).values_list("instrument__symbol", flat=True))
        == simulated
    )
