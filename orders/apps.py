from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        # Upward hooks through explicit registries (DESIGN.md: no hidden signals).
        from accounts.registry import register_commitment_provider
        from execution.registry import register_report_sink
        from marketdata.listeners import register_tick_listener
        from orders.selectors import open_buy_commitment
        from orders.services_reports import order_apply_report
        from orders.trigger_engine import triggers_on_tick

        register_commitment_provider(open_buy_commitment)
        register_report_sink(order_apply_report)
        register_tick_listener("orders.triggers", triggers_on_tick)
