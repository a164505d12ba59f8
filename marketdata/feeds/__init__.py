"""Tick feeds: long-running sources that hand raw ticks to the one ingest path.

- `base`: the adapter protocol (connect, subscribe, receive, close), the runner that
  reconnects with exponential backoff, and the batching sink.
- `simulator`: seeded per-instrument geometric Brownian motion.
- `replay`: a CSV of ticks or OHLC bars at 1×, 10×, … or max speed.
- Outside feeds implement `FeedAdapter` and register with `register_feed_adapter`; the HTTP
  push endpoint (`POST /api/v1/market-data/ticks`) is the first real outside source — a
  push source needs no process: each request calls the same `ticks_ingest`.
"""
