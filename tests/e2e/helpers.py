"""Helpers for browser tests that drive the server as an API client would."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def api_post(base_url: str, path: str, body: dict, key: str) -> tuple[int, dict]:
    """POST JSON to the test server as an API client would (Token auth)."""
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # the local test server
        return response.status, json.loads(response.read() or b"{}")


def push_tick(base_url: str, key: str, **tick: str) -> None:
    """A feed pushing one tick through the HTTP API (the same path as every tick)."""
    status, _ = api_post(base_url, "/api/v1/market-data/ticks", tick, key)
    assert status == 202


def record_posts(page, path: str) -> list[dict]:
    """The JSON bodies the page POSTs to `path` (e.g. "/api/v1/orders"), in order, as sent."""
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data))
            if r.method == "POST" and r.url.endswith(path)
            else None
        ),
    )
    return bodies


def run_outside_loop(service, **kwargs):
    """Call a service as a request or the admin would: in a thread without an event loop
    (Playwright's sync API keeps one running in the test's thread, and live pushes refuse
    to be published from a running loop). Returns its result; raises what it raised."""

    def run():
        try:
            return service(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)
