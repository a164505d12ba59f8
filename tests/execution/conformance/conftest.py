"""The `venue` fixture: one driver per venue kind, the scripted tests parametrized over them."""

from __future__ import annotations

import pytest

from execution import registry
from tests.execution.conformance.broker_drivers import FAST_POLICY, AlpacaDriver, KiteDriver
from tests.execution.conformance.drivers import ExchangeDriver, PaperDriver

VENUES = ["paper", "exchange", "alpaca", "kite"]


@pytest.fixture
def zero_fees(settings):
    settings.OMS_PAPER_SLIPPAGE_BPS = 0
    settings.OMS_PAPER_FEE_BPS = 0
    settings.OMS_PAPER_FEE_FIXED = 0
    settings.OMS_EXCHANGE_FEE_BPS = {}
    settings.OMS_BROKER_POLICIES = {"alpaca": FAST_POLICY, "kite": FAST_POLICY}


@pytest.fixture(params=VENUES)
def venue(request, transactional_db, zero_fees, trader, make_key_client, tick):
    client = make_key_client(trader)
    kind = request.param
    saved = registry.ADAPTER_FACTORIES.snapshot()
    registry.adapter_instances_clear()
    if kind == "paper":
        driver = PaperDriver(trader=trader, client=client, tick=tick)
    elif kind == "exchange":
        driver = ExchangeDriver(
            trader=trader, client=client, tick=tick, make_key_client=make_key_client
        )
    elif kind == "alpaca":
        driver = AlpacaDriver(trader=trader, client=client, tick=tick)
    else:
        driver = KiteDriver(trader=trader, client=client, tick=tick)
    yield driver
    driver.stop()
    registry.ADAPTER_FACTORIES.restore(saved)
    registry.adapter_instances_clear()
