from django.apps import AppConfig


class PnlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pnl"
    verbose_name = "Positions and PnL"

    def ready(self) -> None:
        # pnl may import accounts (DESIGN.md): its dashboard panel goes through accounts'
        # registry. pnl wires its own pushes and alerts (pnl/registry.py): through the live
        # publisher and notifier notifications registers in accounts' registry. orders
        # wires what pnl needs of orders and of execution beside it (orders/apps.py).
        from accounts.registry import DashboardPanel, register_dashboard_panel
        from pnl import registry as pnl_registry
        from pnl.pages import dashboard_panel_context

        pnl_registry.register_position_publisher(pnl_registry.publish_live)
        pnl_registry.register_alert_notifier(pnl_registry.notify_account)

        register_dashboard_panel(
            DashboardPanel(
                name="positions",
                template="pnl/_dashboard_panel.html",
                context=dashboard_panel_context,
                order=20,
            )
        )
