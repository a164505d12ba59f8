"""Execution: getting orders to venues and their answers back (may import marketdata only).

What other apps call (all in `execution.services`, each through the broker's resilience
wrapper — rate limit, retries of `TransientBrokerError`, timeout, circuit breaker):
    broker_submit(request: OrderRequest) -> list[ExecutionReport]
    broker_modify(request: ModifyRequest) -> list[ExecutionReport]   # request.broker optional
    broker_cancel(*, order_id, account_id, symbol, broker) -> list[ExecutionReport]
    broker_open_orders(*, broker, account_id) -> list[VenueOrderView]
    broker_positions(*, broker, account_id) -> list[VenuePosition]
They raise `BrokerUnavailableError` (breaker open / retries exhausted / rate limited — the
API's 503 `broker_unavailable`) or `PermanentBrokerError` (unknown broker kind, refusal).
Asynchronous reports (paper fills on ticks, everything from the exchange) reach the sink
registered with `execution.registry.register_report_sink` (orders' `order_apply_reports`),
one burst per call.
Every report has a unique `report_id`; re-submitting an order is safe (same order id).

Venues:
- `paper` (adapters/paper.py): fills against the latest quote; see its docstring.
- `exchange` (adapters/exchange.py + exchange/): the internal price-time priority venue, one
  single-writer shard worker per `exchange.shard.<n>` queue (exchange/shard.py).

Reads: `execution.selectors.orderbook_get(*, symbol, depth)` (API.md order book shape),
`breaker_states()`. Page: `orderbook` (/orderbook/<symbol>/).
"""
