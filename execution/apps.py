from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "execution"

    def ready(self) -> None:
        from celery import signals

        from execution.adapters.alpaca import AlpacaBroker
        from execution.adapters.exchange import ExchangeBroker
        from execution.adapters.paper import PaperBroker, paper_on_tick
        from execution.exchange.worker import on_worker_ready, on_worker_shutdown
        from execution.registry import register_adapter
        from marketdata.listeners import register_tick_listener
        from oms_site.run_registry import register_process

        register_adapter("paper", PaperBroker)
        register_adapter("exchange", ExchangeBroker)
        register_adapter("alpaca", AlpacaBroker)
        register_tick_listener("execution.paper", paper_on_tick)
        register_process(exchange_shard_workers)
        signals.worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="exec-shard-ready")
        signals.worker_shutdown.connect(
            on_worker_shutdown, weak=False, dispatch_uid="exec-shard-shutdown"
        )


def exchange_shard_workers(env):
    """One worker per exchange shard: `celery -A oms_site worker -Q exchange.shard.<n> -c 1
    -P solo` — the single consumer of its queue (the shard lease enforces single writer)."""
    from django.conf import settings

    from oms_site.run_registry import celery_worker

    shards = int(env.get("OMS_EXCHANGE_SHARDS") or settings.OMS_EXCHANGE_SHARDS)
    level = env.get("CELERY_LOG_LEVEL") or "INFO"
    return [
        celery_worker(
            name=f"exchange-shard{n}",
            queues=[f"exchange.shard.{n}"],
            concurrency=1,
            pool="solo",
            loglevel=level,
        )
        for n in range(max(1, shards))
    ]
