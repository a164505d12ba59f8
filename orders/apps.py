from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        # Upward hooks through explicit registries (DESIGN.md: no hidden signals). Imports
        # here, not at the top: the modules import models, which exist only once Django
        # has loaded every app.
        from accounts.registry import register_commitment_provider
        from execution.registry import register_report_sink
        from orders.automation import wiring as automation_wiring
        from orders.core.reports import order_apply_reports
        from orders.core.selectors import open_buy_commitment

        register_commitment_provider(open_buy_commitment)
        register_report_sink(order_apply_reports)
        # The automation wing registers into the core's hooks (orders/core/hooks.py).
        automation_wiring.register()
        self._wire_notifications()
        self._wire_pnl()
        self._wire_market_maker()

    @staticmethod
    def _wire_notifications() -> None:
        """Order events in words to the account's members (orders/notify_events.py), and
        broker reachability (execution may not import notifications) to the people it
        concerns."""
        from execution.registry import register_broker_status_listener
        from notifications.events import broker_status_changed
        from orders.core.hooks import register_transition_listener
        from orders.notify_events import order_transition_notify

        register_transition_listener("notifications", order_transition_notify)
        register_broker_status_listener("notifications", broker_status_changed)

    @staticmethod
    def _wire_market_maker() -> None:
        """The demo's house account (seed_demo) and its market maker process (make run)."""
        from accounts.registry import register_demo_seeder
        from oms_site.run_registry import register_process
        from orders.market_maker import market_maker_processes, seed_house_account

        register_demo_seeder("market_maker", seed_house_account)
        register_process(market_maker_processes)

    @staticmethod
    def _wire_pnl() -> None:
        """pnl reaches upward (and sideways: execution sits beside it) through pnl.registry:
        the order placer of POST /positions/close, the venue's positions and working orders
        for the reconciliation jobs, and a reconciliation when a broker's stream reconnects.
        pnl wires its live pushes and alerts itself (pnl/apps.py, through accounts.registry)."""
        from execution.broker_sync import broker_orders_check
        from execution.registry import register_resync_listener
        from execution.services import broker_positions
        from orders.core.cancel import order_cancel_all
        from orders.core.place import order_place
        from orders.core.serializers import OrderSerializer
        from pnl import registry as pnl_registry
        from pnl.tasks import reconcile_after_reconnect

        pnl_registry.register_order_placer(
            place=order_place,
            serialize=lambda order: OrderSerializer(order).data,
            cancel_open=order_cancel_all,
        )
        pnl_registry.register_position_source(broker_positions)
        pnl_registry.register_broker_orders_checker(broker_orders_check)
        # A real broker's stream (re)connected: OMS may have missed something there, so the
        # account is reconciled now rather than at the next minute.
        register_resync_listener("pnl.reconcile", reconcile_after_reconnect)
        OrdersConfig._wire_external()

    @staticmethod
    def _wire_external() -> None:
        """Kept in step with a real broker (issue 15): reconciliation compares OMS's orders at
        the broker with the broker's, and what the broker did outside OMS is imported as
        external orders and fills (orders/core/external.py)."""
        from execution.registry import register_external_sink
        from orders.core.external import orders_import_external
        from orders.core.selectors import orders_at_broker
        from pnl import registry as pnl_registry

        pnl_registry.register_open_orders_source(orders_at_broker)
        register_external_sink("orders.external", orders_import_external)
