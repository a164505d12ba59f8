from __future__ import annotations

from collections.abc import Mapping

from django.apps import AppConfig


def feed_processes(env: Mapping[str, str]):
    """The market feed `make run` starts, chosen by OMS_FEED:

    - `simulator` (default): the seeded GBM simulator for instruments marked `simulate`;
    - `replay:<file>`: replays a CSV of ticks or bars in real time, re-stamped to now;
    - `none`: no feed (ticks only arrive through the API).
    """
    from oms_site.run_registry import KIND_FEED, manage_py

    choice = (env.get("OMS_FEED") or "simulator").strip()
    if choice.lower() == "none":
        return []
    if choice.lower() == "simulator":
        return [manage_py("feed", "run_feed", "--source", "simulator", kind=KIND_FEED)]
    if choice.lower().startswith("replay:"):
        path = choice.split(":", 1)[1]
        speed = env.get("OMS_FEED_SPEED", "1")
        return [
            manage_py(
                "feed",
                "run_feed",
                "--source",
                "replay",
                "--file",
                path,
                "--speed",
                speed,
                "--rebase",
                kind=KIND_FEED,
            )
        ]
    raise ValueError(f"OMS_FEED must be none, simulator or replay:<file>, not {choice!r}")


def _seed_demo_instruments() -> str:
    from marketdata.services import seed_demo_instruments, seed_demo_watchlists

    instruments = seed_demo_instruments()
    watchlists = seed_demo_watchlists()
    return f"{', '.join(i.symbol for i in instruments)}; {watchlists} new watchlists"


class MarketdataConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "marketdata"
    verbose_name = "Market data"

    def ready(self) -> None:
        from accounts.registry import register_demo_seeder
        from oms_site.run_registry import register_process

        register_demo_seeder("instruments", _seed_demo_instruments)
        register_process(feed_processes)

        from django.db.models.signals import post_delete, post_save

        from marketdata.models import Exchange, Instrument
        from marketdata.services import instruments_changed

        for model in (Instrument, Exchange):
            post_save.connect(instruments_changed, sender=model, dispatch_uid=f"memo-{model}")
            post_delete.connect(instruments_changed, sender=model, dispatch_uid=f"memo-d-{model}")
