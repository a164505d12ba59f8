"""The demo's market maker: exchange accounts trade out of the box in a seeded demo."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import TradingAccount, User
from execution.exchange.shard import shard_states_reset
from execution.services import broker_callers_reset
from marketdata.selectors import quote_latest
from marketdata.services import tick_ingest
from orders import services
from orders.management.commands.run_market_maker import MarketMaker
from orders.market_maker import (
    HOUSE_ACCOUNT_NAME,
    TAG_PREFIX,
    MakerConfig,
    house_account,
    market_maker_processes,
    quote_targets,
)
from orders.models import OPEN_STATUSES, Order

pytestmark = pytest.mark.django_db
CONFIG = MakerConfig()


@pytest.fixture(autouse=True)
def _fresh_books():
    shard_states_reset()  # the exchange's in-memory books must not leak between tests
    broker_callers_reset()
    yield
    shard_states_reset()
    broker_callers_reset()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Submissions and the exchange's shard commands run when the transaction commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def demo(run_on_commit):
    with run_on_commit():
        call_command("seed_demo", stdout=io.StringIO())
    return house_account()


def _tick(last: str, symbol: str = "ACME", spread: str = "0.10") -> None:
    bid, ask = Decimal(last) - Decimal(spread) / 2, Decimal(last) + Decimal(spread) / 2
    result = tick_ingest(symbol=symbol, last=last, bid=bid, ask=ask, volume=1, source="test")
    assert result.applied


def _maker_round(maker: MarketMaker, run_on_commit, *, at: float) -> None:
    with run_on_commit():
        maker.round(now=at)


def _trader_market_buy(run_on_commit, *, qty: str) -> Order:
    """The demo trader's market buy of ACME from the exchange account."""
    trader = User.objects.get(username="trader")
    account = TradingAccount.objects.get(name="Trader — Exchange")
    with run_on_commit():
        return services.order_place(
            user=trader,
            account_id=account.pk,
            symbol="ACME",
            side="buy",
            order_type="market",
            qty=Decimal(qty),
        ).order


def _quotes(account, symbol="ACME") -> list[Order]:
    return list(
        Order.objects.filter(
            account=account, symbol=symbol, status__in=OPEN_STATUSES, tag__startswith=TAG_PREFIX
        ).order_by("side", "tag")
    )


def test_targets_straddle_the_mid_on_the_tick_grid():
    targets = quote_targets(mid=Decimal("1250"), tick_size=Decimal("0.05"), config=CONFIG)
    assert [(t.side, t.level, t.price, t.qty) for t in targets] == [
        ("buy", 0, Decimal("1248.75"), Decimal("100")),  # mid − 0.10 %
        ("sell", 0, Decimal("1251.25"), Decimal("100")),
        ("buy", 1, Decimal("1246.85"), Decimal("200")),  # mid − 0.25 %, rounded down
        ("sell", 1, Decimal("1253.15"), Decimal("200")),  # rounded up
    ]


def test_seed_demo_creates_the_house_account_with_its_own_limits(demo):
    assert demo.name == HOUSE_ACCOUNT_NAME and demo.broker == "exchange"
    assert demo.cash >= Decimal("1000000000")
    assert demo.risk_limits.allow_short
    assert not User.objects.get(username="house").has_usable_password()


def test_a_market_order_of_an_exchange_account_fills_against_the_maker(demo, run_on_commit):
    # given the seeded demo, ACME quoted by the simulator, and the market maker running
    _tick("1250")
    maker = MarketMaker(CONFIG)
    _maker_round(maker, run_on_commit, at=0)
    assert len(_quotes(demo)) == 2 * CONFIG.levels
    # when the trader sends a market buy of 10 from the exchange account
    placed = _trader_market_buy(run_on_commit, qty="10")
    # then it fills at the maker's best ask
    order = Order.objects.get(pk=placed.pk)
    assert (order.status, order.filled_qty, order.avg_fill_price) == (
        "filled",
        Decimal("10"),
        Decimal("1251.25"),
    )
    # and the book shows the maker's depth on both sides
    quotes = _quotes(demo)
    assert {(q.side, q.status) for q in quotes} == {
        ("buy", "new"),
        ("sell", "new"),
        ("sell", "partially_filled"),
    }


def test_the_maker_requotes_when_the_price_moves(demo, run_on_commit):
    _tick("1250")
    maker = MarketMaker(CONFIG)
    _maker_round(maker, run_on_commit, at=0)
    before = {q.tag: (q.pk, q.limit_price) for q in _quotes(demo)}
    # when the price stays, nothing is re-sent (a second round is a no-op)
    _maker_round(maker, run_on_commit, at=CONFIG.min_requote_secs + 1)
    assert {q.tag: (q.pk, q.limit_price) for q in _quotes(demo)} == before
    # when the simulated price moves to 1260, the same orders move around it
    _tick("1260")
    _maker_round(maker, run_on_commit, at=2 * CONFIG.min_requote_secs + 2)
    after = {q.tag: (q.pk, q.limit_price) for q in _quotes(demo)}
    assert {tag: pk for tag, (pk, _) in after.items()} == {
        tag: pk for tag, (pk, _) in before.items()
    }
    assert after[f"{TAG_PREFIX}buy:0"][1] == Decimal("1258.70")
    assert after[f"{TAG_PREFIX}sell:0"][1] == Decimal("1261.30")
    # through the order services: each move is in the audit trail
    moved = Order.objects.get(pk=after[f"{TAG_PREFIX}sell:0"][0])
    assert moved.events.filter(type="modified").count() == 1
    assert len(_quotes(demo)) == 2 * CONFIG.levels  # bounded: one order per level and side


def test_a_price_move_within_the_rate_limit_waits(demo, run_on_commit):
    _tick("1250")
    maker = MarketMaker(CONFIG)
    _maker_round(maker, run_on_commit, at=0)
    _tick("1260")
    _maker_round(maker, run_on_commit, at=1)  # 1 s later: before min_requote_secs
    assert quote_latest(symbol="ACME").last == Decimal("1260")
    assert {q.limit_price for q in _quotes(demo)} == {
        Decimal("1248.75"),
        Decimal("1251.25"),
        Decimal("1246.85"),
        Decimal("1253.15"),
    }


def test_a_filled_quote_is_replaced(demo, run_on_commit):
    _tick("1250")
    maker = MarketMaker(CONFIG)
    _maker_round(maker, run_on_commit, at=0)
    _trader_market_buy(run_on_commit, qty="150")
    assert f"{TAG_PREFIX}sell:0" not in {q.tag for q in _quotes(demo)}  # swept
    _maker_round(maker, run_on_commit, at=CONFIG.min_requote_secs + 1)
    assert sorted(q.tag for q in _quotes(demo)) == sorted(
        f"{TAG_PREFIX}{side}:{level}" for side in ("buy", "sell") for level in range(2)
    )


def test_a_refused_quote_backs_off_instead_of_retrying_every_second(demo, run_on_commit):
    _tick("1250")
    demo.risk_limits.max_order_qty = Decimal("1")  # every quote is refused by risk
    demo.risk_limits.save()
    maker = MarketMaker(CONFIG)
    _maker_round(maker, run_on_commit, at=0)
    rejected = Order.objects.filter(account=demo, status="rejected").count()
    assert rejected == 2 * CONFIG.levels
    _maker_round(maker, run_on_commit, at=CONFIG.min_requote_secs + 1)
    assert Order.objects.filter(account=demo, status="rejected").count() == rejected


def test_the_run_command_starts_the_maker_with_the_simulator_feed():
    (spec,) = market_maker_processes({})
    assert spec.name == "market-maker" and spec.argv[-1] == "run_market_maker"
    assert market_maker_processes({"OMS_FEED": "simulator"})
    assert market_maker_processes({"OMS_FEED": "none"}) == []
    assert market_maker_processes({"OMS_FEED": "replay:ticks.csv"}) == []
    assert market_maker_processes({"OMS_MARKET_MAKER": "0"}) == []


def test_the_command_waits_for_the_house_account_and_stops_on_time(caplog):
    # given no seeded demo: the command neither crashes (that would stop the stack) nor spins
    out = io.StringIO()
    call_command("run_market_maker", "--duration", "0.3", "--interval", "0.1", stdout=out)
    assert "market maker stopped" in out.getvalue()
    waiting = [r for r in caplog.records if "no house account yet" in r.getMessage()]
    assert len(waiting) == 1  # said once, not every round


def test_the_command_quotes_for_the_seeded_house_account(demo, run_on_commit):
    _tick("1250")
    out = io.StringIO()
    with run_on_commit():
        call_command("run_market_maker", "--duration", "0.2", "--interval", "0.1", stdout=out)
    assert len(_quotes(demo)) == 2 * CONFIG.levels
    assert "'placed': 4" in out.getvalue()
