from django.apps import AppConfig


class PnlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pnl"
    verbose_name = "Positions and PnL"

    def ready(self) -> None:
        # pnl may import accounts (DESIGN.md): its dashboard panel goes through accounts'
        # registry. Hooks pnl needs from upper apps are wired by them (pnl/registry.py).
        from accounts.registry import DashboardPanel, register_dashboard_panel
        from execution.registry import register_resync_listener
        from pnl.pages import dashboard_panel_context
        from pnl.tasks import reconcile_after_reconnect

        register_dashboard_panel(
            DashboardPanel(
                name="positions",
                template="pnl/_dashboard_panel.html",
                context=dashboard_panel_context,
                order=20,
            )
        )
        # A real broker's stream (re)connected: OMS may have missed something there, so the
        # account is reconciled now rather than at the next minute.
        register_resync_listener("pnl.reconcile", reconcile_after_reconnect)
