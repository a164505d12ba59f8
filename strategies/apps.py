from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "strategies"

    def ready(self) -> None:
        # A strategy's filled opening order gets its default trailing stop.
        from orders.core.hooks import register_transition_listener
        from strategies.trailing import on_order_transition

        register_transition_listener("strategies.trailing", on_order_transition)
