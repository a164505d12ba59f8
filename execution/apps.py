from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "execution"

    def ready(self) -> None:
        from celery import signals

        from execution.adapters.alpaca import AlpacaBroker
        from execution.adapters.exchange import ExchangeBroker
        from execution.adapters.kite import KiteBroker
        from execution.adapters.paper import PaperBroker, paper_on_tick
        from execution.exchange.worker import on_worker_ready, on_worker_shutdown
        from execution.registry import register_adapter
        from marketdata.listeners import register_tick_listener
        from oms_site.run_registry import register_process

        register_adapter("paper", PaperBroker)
        register_adapter("exchange", ExchangeBroker)
        register_adapter("alpaca", AlpacaBroker)
        register_adapter("kite", KiteBroker)
        self._wire_connections()
        register_tick_listener("execution.paper", paper_on_tick)
        register_process(exchange_shard_workers)
        signals.worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="exec-shard-ready")
        signals.worker_shutdown.connect(
            on_worker_shutdown, weak=False, dispatch_uid="exec-shard-shutdown"
        )

    @staticmethod
    def _wire_connections() -> None:
        """Real brokers: their connection specs and funds for accounts (which must not import
        execution), accounts' connection state on a circuit breaker change, and the stream
        runner process of `make run`."""
        from accounts import registry as accounts_registry
        from execution.connection_specs import SPECS
        from execution.connections import account_funds, on_broker_kind_status
        from execution.registry import broker_kinds, register_broker_status_listener
        from execution.streams import broker_stream_processes
        from oms_site.run_registry import register_process

        accounts_registry.register_broker_kinds_provider("execution", broker_kinds)
        for spec in SPECS:
            accounts_registry.register_broker_connection_spec(spec)
        accounts_registry.register_funds_provider("execution", account_funds)
        register_broker_status_listener("execution.connections", on_broker_kind_status)
        register_process(broker_stream_processes)


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
