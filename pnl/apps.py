from django.apps import AppConfig


class PnlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pnl"
    verbose_name = "Positions and PnL"

    def ready(self) -> None:
        # pnl may import accounts (DESIGN.md): its dashboard panel goes through accounts'
        # registry. Hooks pnl needs from upper apps are wired by them (pnl/registry.py).
        from accounts.registry import DashboardPanel, register_dashboard_panel
        from pnl.pages import dashboard_panel_context

        register_dashboard_panel(
            DashboardPanel(
                name="positions",
                template="pnl/_dashboard_panel.html",
                context=dashboard_panel_context,
                order=20,
            )
        )
