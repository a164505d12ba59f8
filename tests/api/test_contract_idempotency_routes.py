"""API.md: "An `Idempotency-Key` header does the same for any POST" — every POST handler
of the REST API's view classes honours the header (a route added without it fails here).
The notification actions are checked by their own test in test_contract_idempotency.py."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from accounts.idempotency import idempotent_post


def _api_views(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_views(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None)
            if view_class is not None and route.startswith("api/v1/"):
                yield route, view_class


def _honours_the_key(handler) -> bool:
    # idempotent_post wraps the handler (functools.wraps keeps the original as __wrapped__)
    # with a closure whose code is the decorator's own wrapper.
    wrapper_code = idempotent_post()(lambda view, request: None).__code__
    return getattr(handler, "__wrapped__", None) is not None and handler.__code__ is wrapper_code


# Callbacks from a broker, not API clients: no user to key on, idempotent by their own ids
# (Kite's postbacks: deterministic report ids per order update).
_BROKER_CALLBACKS = ("brokers/kite/postback/",)


def test_every_api_post_handler_takes_an_idempotency_key():
    routes = [
        route
        for route, view in _api_views(get_resolver().url_patterns)
        if hasattr(view, "post")
        and not _honours_the_key(view.post)
        and not any(callback in route for callback in _BROKER_CALLBACKS)
    ]
    assert routes == []


def test_the_check_sees_the_api_post_routes():
    # guards the test above against finding nothing to check
    posts = [
        route for route, view in _api_views(get_resolver().url_patterns) if hasattr(view, "post")
    ]
    assert any("orders/batch" in route for route in posts)
    assert any("schedules" in route for route in posts)
    assert len(posts) >= 10
