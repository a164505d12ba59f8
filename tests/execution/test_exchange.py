"""The internal exchange through its Django wrapper: adapter → command → shard → reports."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from execution.exchange.shard import shard_states_reset
from execution.models import CommandStatus, ShardLease, VenueCommand, VenueFill, VenueOrder
from execution.protocol import ReportType
from execution.services import broker_cancel, broker_modify, broker_positions, broker_submit
from marketdata.selectors import quote_latest
from tests.execution.factories import modify_request, order_request

pytestmark = pytest.mark.django_db

SELLER = "acct-seller-" + uuid.uuid4().hex[:6]
SELLER2 = "acct-seller2-" + uuid.uuid4().hex[:6]
BUYER = "acct-buyer-" + uuid.uuid4().hex[:6]


def crash_shard_worker() -> None:
    """The shard worker dies: its in-memory books are gone and its lease stops heart-beating
    (here: its heartbeat is made older than the TTL, so the next worker takes over)."""
    from datetime import timedelta

    from django.utils import timezone

    shard_states_reset()
    ShardLease.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Call fn with on-commit hooks executed (enqueue → eager shard task → publish)."""

    def _run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return _run


@pytest.fixture
def place(run):
    def _place(**kwargs):
        request = order_request(broker="exchange", **kwargs)
        assert run(broker_submit, request) == []  # every answer comes from the shard
        return request

    return _place


def test_two_accounts_trade_at_the_resting_price_with_maker_and_taker_fees(
    acme, sink, place, settings
):
    settings.OMS_EXCHANGE_FEE_BPS = {"maker": "1", "taker": "3"}
    # given a resting sell of 100 at 10.00
    sell = place(account_id=SELLER, side="sell", qty="100", limit_price="10.00")
    assert sink.types(sell.order_id) == [ReportType.ACK]
    # when a buy limit at 10.50 for 100 arrives
    buy = place(account_id=BUYER, side="buy", qty="100", limit_price="10.50")
    # then they trade 100 at the resting price 10.00: seller maker, buyer taker
    assert sink.types(buy.order_id) == [ReportType.ACK, ReportType.FILL]
    maker = sink.of(sell.order_id, ReportType.FILL)[0]
    taker = sink.of(buy.order_id, ReportType.FILL)[0]
    assert (maker.fill_price, maker.fill_qty, maker.liquidity) == (
        Decimal("10.00"),
        Decimal("100"),
        "maker",
    )
    assert (taker.fill_price, taker.fill_qty, taker.liquidity) == (
        Decimal("10.00"),
        Decimal("100"),
        "taker",
    )
    assert maker.trade_id == taker.trade_id
    assert maker.fee == Decimal("0.10")  # 1000 × 1 / 10 000
    assert taker.fee == Decimal("0.30")  # 1000 × 3 / 10 000
    assert len({r.report_id for r in sink.reports}) == len(sink.reports)
    # and both venue rows are filled, with one fill row each
    assert set(VenueOrder.objects.values_list("status", flat=True)) == {"filled"}
    assert VenueFill.objects.count() == 2
    assert [(p.symbol, p.qty) for p in broker_positions(broker="exchange", account_id=BUYER)] == [
        ("ACME", Decimal("100"))
    ]


def test_price_time_priority_and_partial_fills(acme, sink, place):
    # given asks: A 50 @ 10.00 (first), B 50 @ 10.00 (second), C 50 @ 9.95 (better price, last)
    a = place(account_id=SELLER, side="sell", qty="50", limit_price="10.00")
    b = place(account_id=SELLER2, side="sell", qty="50", limit_price="10.00")
    c = place(account_id=SELLER2, side="sell", qty="50", limit_price="9.95")
    # when a market buy of 120 arrives
    buy = place(account_id=BUYER, side="buy", qty="120", type="market")
    # then it takes the better price first, then time priority at 10.00
    fills = [(r.fill_qty, r.fill_price) for r in sink.of(buy.order_id) if r.fill_qty]
    assert fills == [
        (Decimal("50"), Decimal("9.95")),
        (Decimal("50"), Decimal("10.00")),
        (Decimal("20"), Decimal("10.00")),
    ]
    assert sink.types(c.order_id)[-1] == ReportType.FILL
    assert sink.types(a.order_id)[-1] == ReportType.FILL
    partial = sink.of(b.order_id, ReportType.PARTIAL_FILL)
    assert [(r.fill_qty, r.leaves_qty) for r in partial] == [(Decimal("20"), Decimal("30"))]
    assert sink.types(buy.order_id)[-1] == ReportType.FILL
    row = VenueOrder.objects.get(pk=b.order_id)
    assert (row.status, row.filled_qty, row.visible_qty) == ("open", Decimal("20"), Decimal("30"))


def test_market_order_without_liquidity_is_canceled_with_the_reason(acme, sink, place):
    buy = place(account_id=BUYER, side="buy", qty="5", type="market")
    assert sink.types(buy.order_id) == [ReportType.ACK, ReportType.CANCELED]
    assert "no more liquidity" in sink.of(buy.order_id, ReportType.CANCELED)[0].reason


def test_iceberg_shows_its_slice_and_refills_behind_the_queue(
    acme, sink, place, api_client, trader
):
    # given an iceberg sell 50 showing 10, then a plain sell 20 at the same price
    ice = place(account_id=SELLER, side="sell", qty="50", limit_price="10.00", display_qty="10")
    plain = place(account_id=SELLER2, side="sell", qty="20", limit_price="10.00")
    api_client.force_authenticate(trader)
    book = api_client.get("/api/v1/orderbook/ACME").json()
    assert book["asks"] == [{"price": "10", "qty": "30", "orders": 2}]
    # when a buy of 15 arrives: the slice (10) fills, the refill goes behind the plain order
    buy = place(account_id=BUYER, side="buy", qty="15", limit_price="10.00")
    fills = [
        (r.fill_qty, r.order_id) for r in sink.reports if r.fill_qty and r.liquidity == "maker"
    ]
    assert fills == [(Decimal("10"), ice.order_id), (Decimal("5"), plain.order_id)]
    assert sink.types(buy.order_id)[-1] == ReportType.FILL
    # and the book shows the refilled slice (10) + the plain order's rest (15), never the reserve
    book = api_client.get("/api/v1/orderbook/ACME").json()
    assert book["asks"] == [{"price": "10", "qty": "25", "orders": 2}]
    row = VenueOrder.objects.get(pk=ice.order_id)
    assert (row.filled_qty, row.visible_qty) == (Decimal("10"), Decimal("10"))


def test_modify_and_cancel_go_through_commands(acme, sink, place, run):
    # given two bids at 9.90: first X then Y
    x = place(account_id=BUYER, side="buy", qty="10", limit_price="9.90")
    y = place(account_id=SELLER2, side="buy", qty="10", limit_price="9.90")
    # when X shrinks (keeps priority) and Y is canceled
    assert (
        run(broker_modify, modify_request(order_id=x.order_id, account_id=BUYER, new_qty="6")) == []
    )
    assert (
        run(
            broker_cancel, order_id=y.order_id, account_id=SELLER2, symbol="ACME", broker="exchange"
        )
        == []
    )
    # then the venue reports the replacement and the cancel
    replaced = sink.of(x.order_id, ReportType.REPLACED)[0]
    assert replaced.data == {
        "old": {"qty": "10", "limit_price": "9.9"},
        "new": {"qty": "6", "limit_price": "9.9"},
    }
    assert sink.types(y.order_id) == [ReportType.ACK, ReportType.CANCELED]
    assert VenueOrder.objects.get(pk=y.order_id).status == "canceled"
    # and a sell hitting 9.90 trades only X's 6
    sell = place(account_id=SELLER, side="sell", qty="10", limit_price="9.90")
    assert [r.fill_qty for r in sink.of(x.order_id, ReportType.FILL)] == [Decimal("6")]
    assert sink.of(sell.order_id, ReportType.PARTIAL_FILL)[0].fill_qty == Decimal("6")
    # and cancelling a filled order is rejected at once
    late = run(
        broker_cancel, order_id=x.order_id, account_id=BUYER, symbol="ACME", broker="exchange"
    )
    assert [r.type for r in late] == [ReportType.CANCEL_REJECTED]


def test_price_change_loses_time_priority(acme, sink, place, run):
    first = place(account_id=BUYER, side="buy", qty="10", limit_price="9.90")
    second = place(account_id=SELLER2, side="buy", qty="10", limit_price="9.95")
    # first moves up to 9.95: it now queues behind second
    run(
        broker_modify,
        modify_request(order_id=first.order_id, account_id=BUYER, new_limit_price="9.95"),
    )
    place(account_id=SELLER, side="sell", qty="10", limit_price="9.95")
    assert sink.types(second.order_id)[-1] == ReportType.FILL
    assert ReportType.FILL not in sink.types(first.order_id)


def test_self_trade_cancels_the_incoming_remainder_with_the_reason(acme, sink, place):
    place(account_id=SELLER, side="sell", qty="10", limit_price="10.00")
    mine = place(account_id=SELLER, side="buy", qty="5", limit_price="10.00")
    canceled = sink.of(mine.order_id, ReportType.CANCELED)
    assert len(canceled) == 1
    assert "self-trade prevention" in canceled[0].reason
    assert "cancel-newest" in canceled[0].reason
    assert not VenueFill.objects.exists()


def test_rebuild_from_the_db_preserves_price_time_priority(acme, sink, place):
    # given three resting sells in this priority: A@10.00, B@10.00, C@10.05 (A part-filled)
    a = place(account_id=SELLER, side="sell", qty="30", limit_price="10.00")
    b = place(account_id=SELLER2, side="sell", qty="30", limit_price="10.00")
    place(account_id=SELLER2, side="sell", qty="30", limit_price="10.05")
    place(account_id=BUYER, side="buy", qty="10", limit_price="10.00")
    # when the shard worker crashes and a new one starts (its in-memory books are gone)
    crash_shard_worker()
    # then the rebuilt book keeps A (20 left) ahead of B
    buy = place(account_id=BUYER, side="buy", qty="30", limit_price="10.00")
    makers = [(r.order_id, r.fill_qty) for r in sink.reports if r.liquidity == "maker"]
    assert makers[-2:] == [(a.order_id, Decimal("20")), (b.order_id, Decimal("10"))]
    assert sink.types(buy.order_id)[-1] == ReportType.FILL


def test_a_duplicate_command_is_not_filled_twice(acme, sink, place):
    from execution.exchange.shard import exchange_command_process

    place(account_id=SELLER, side="sell", qty="10", limit_price="10.00")
    buy = place(account_id=BUYER, side="buy", qty="10", limit_price="10.00")
    command = VenueCommand.objects.get(order_id=buy.order_id, kind="new")
    assert command.status == CommandStatus.DONE
    fills_before, reports_before = VenueFill.objects.count(), len(sink.reports)
    # when the same task is delivered again (after a crash before the ack)
    assert exchange_command_process(command_id=command.id) == "duplicate"
    crash_shard_worker()
    assert exchange_command_process(command_id=command.id) == "duplicate"
    # then nothing new happens
    assert VenueFill.objects.count() == fills_before == 2
    assert len(sink.reports) == reports_before


def test_resubmitting_an_exchange_order_does_not_enter_it_twice(acme, sink, place, run):
    sell = place(account_id=SELLER, side="sell", qty="10", limit_price="10.00")
    assert run(broker_submit, sell) == []
    assert VenueCommand.objects.filter(order_id=sell.order_id).count() == 1
    assert sink.types(sell.order_id) == [ReportType.ACK]


def test_a_second_lease_holder_is_refused_and_a_stale_holder_is_fenced(acme, sink, run):
    from datetime import timedelta

    from django.utils import timezone

    from execution.exchange.shard import ShardLeaseHeld, ShardState, shard_state

    # given this process holds shard 0 (it processed a command)
    run(
        broker_submit,
        order_request(broker="exchange", account_id=SELLER, side="sell", qty="5", limit_price="10"),
    )
    holder = shard_state(0)
    assert holder.holds_lease
    # when a second worker for the same shard gets a command
    request = order_request(
        broker="exchange", account_id=BUYER, side="buy", qty="5", limit_price="10"
    )
    broker_submit(request)  # enqueue not run: the other worker picks it up
    command = VenueCommand.objects.get(order_id=request.order_id)
    intruder = ShardState(0, owner="other-host:1")
    # then it refuses and the command stays pending, untouched
    with pytest.raises(ShardLeaseHeld):
        intruder.process(command.id)
    command.refresh_from_db()
    assert command.status == CommandStatus.PENDING
    assert VenueOrder.objects.get(pk=request.order_id).status == "pending"
    # when the holder stops heart-beating past the TTL, the other takes over (new token)
    ShardLease.objects.filter(shard=0).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    old_token = holder.token
    assert intruder.process(command.id) == "filled"
    assert ShardLease.objects.get(shard=0).fencing_token == old_token + 1
    # and the old holder, waking up, cannot process anything any more
    late = order_request(broker="exchange", account_id=BUYER, side="buy", qty="1", limit_price="9")
    broker_submit(late)
    with pytest.raises(ShardLeaseHeld):
        holder.process(VenueCommand.objects.get(order_id=late.order_id).id)
    assert VenueOrder.objects.get(pk=late.order_id).status == "pending"


def test_a_restarted_shard_takes_over_at_once_from_a_dead_process_of_this_host(acme, sink, run):
    import socket
    import subprocess
    import sys

    from execution.exchange.shard import ShardLeaseHeld, ShardState, shard_state

    # given the lease is held, freshly heart-beaten, by this process's shard state
    run(
        broker_submit,
        order_request(broker="exchange", account_id=SELLER, side="sell", qty="5", limit_price="10"),
    )
    token = shard_state(0).token
    host = socket.gethostname()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        request = order_request(
            broker="exchange", account_id=BUYER, side="buy", qty="5", limit_price="10"
        )
        broker_submit(request)
        command = VenueCommand.objects.get(order_id=request.order_id)
        # when the holder is a live process of this host, or one of another host
        for owner in (f"{host}:{live.pid}:aaaa", f"elsewhere:{dead.pid}:bbbb"):
            ShardLease.objects.filter(shard=0).update(owner=owner)
            # then a newcomer still waits (fencing stands)
            with pytest.raises(ShardLeaseHeld):
                ShardState(0).process(command.id)
        # when the holder is a process of this host that no longer exists (a crashed worker)
        ShardLease.objects.filter(shard=0).update(owner=f"{host}:{dead.pid}:cccc")
        # then the restarted shard takes over at once, with a new fencing token
        assert ShardState(0).process(command.id) == "filled"
        assert ShardLease.objects.get(shard=0).fencing_token == token + 1
    finally:
        live.kill()
        live.wait()


def test_each_trade_updates_the_last_price_through_the_tick_path(acme, sink, place):
    place(account_id=SELLER, side="sell", qty="10", limit_price="10.05")
    place(account_id=SELLER2, side="sell", qty="10", limit_price="10.20")
    place(account_id=BUYER, side="buy", qty="5", limit_price="9.80")
    assert quote_latest(symbol="ACME") is None
    place(account_id=BUYER, side="buy", qty="15", limit_price="10.20")
    quote = quote_latest(symbol="ACME")
    # the last trade was 5 @ 10.20; the book after it: bid 9.80, ask 10.20 (5 left)
    assert quote.last == Decimal("10.2")
    assert quote.bid == Decimal("9.8")
    assert quote.ask == Decimal("10.2")


def test_depth_is_pushed_to_the_book_group(acme, place):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("book.ACME", channel)
    place(account_id=SELLER, side="sell", qty="7", limit_price="10.00")
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "stream.event"
    assert message["kind"] == "book"
    assert message["symbol"] == "ACME"
    assert message["event"] == "book"
    assert message["data"]["asks"] == [{"price": "10", "qty": "7", "orders": 1}]
    async_to_sync(layer.group_discard)("book.ACME", channel)


def test_a_burst_of_book_changes_pushes_once_then_the_last_depth(
    acme, place, run, book_pushes, api_client, trader
):
    # given the book push throttled to 0.1 s and a clock that does not move
    # when twelve sells come to rest at 10.00, 10.05, … 10.55 and the last one is canceled
    orders = [
        place(
            account_id=SELLER,
            side="sell",
            qty="1",
            limit_price=str(Decimal("10") + Decimal(i) / 20),
        )
        for i in range(12)
    ]
    run(
        broker_cancel,
        order_id=orders[-1].order_id,
        account_id=SELLER,
        symbol="ACME",
        broker="exchange",
    )
    # then only the first change was pushed so far, while the REST depth is already current
    assert [len(depth["asks"]) for depth in book_pushes.depths()] == [1]
    api_client.force_authenticate(trader)
    assert len(api_client.get("/api/v1/orderbook/ACME?depth=20").json()["asks"]) == 11
    # when the interval has passed (the trailing timer fires)
    book_pushes.advance(0.1)
    # then the last depth is delivered: eleven levels, the canceled one gone
    pushed = book_pushes.depths()
    assert [len(depth["asks"]) for depth in pushed] == [1, 11]
    assert pushed[-1]["asks"][-1] == {"price": "10.5", "qty": "1", "orders": 1}
    assert book_pushes.sent[-1][0] == "book.ACME"
    book_pushes.advance(1)
    assert len(book_pushes.sent) == 2  # nothing more to send


def test_book_pushes_stay_near_ten_a_second_and_end_on_the_final_book(acme, place, book_pushes):
    # when a sell of 1 comes to rest at 10.00 every 10 ms for one second (100 book changes)
    for _ in range(100):
        place(account_id=SELLER, side="sell", qty="1", limit_price="10.00")
        book_pushes.advance(0.01)
    book_pushes.advance(0.2)
    # then about ten depths were pushed, each newer than the one before, the last one complete
    shown = [depth["asks"][0]["orders"] for depth in book_pushes.depths()]
    assert 9 <= len(shown) <= 12
    assert shown == sorted(shown) and shown[-1] == 100
    assert book_pushes.depths()[-1]["asks"] == [{"price": "10", "qty": "100", "orders": 100}]


def test_invalid_input_is_rejected_synchronously(acme, sink, run):
    request = order_request(
        broker="exchange", account_id=BUYER, side="buy", qty="5", type="market", display_qty="1"
    )
    reports = run(broker_submit, request)
    assert [r.type for r in reports] == [ReportType.REJECTED]
    assert "iceberg" in reports[0].reason
    assert not VenueCommand.objects.exists()
