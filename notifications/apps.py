from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications and live stream"

    def ready(self) -> None:
        # accounts reports kill-switch changes through its registry (DESIGN.md: no hidden
        # signals), and hands the live publisher and the notifier registered here to the
        # apps that may not import notifications (pnl). Broker status comes from execution,
        # which notifications may not import: orders/apps.py wires that one.
        from accounts.registry import (
            register_account_notifier,
            register_kill_switch_listener,
            register_live_publisher,
        )
        from notifications.events import kill_switch_changed
        from notifications.services import notify, publish

        register_kill_switch_listener("notifications", kill_switch_changed)
        register_live_publisher(publish)
        register_account_notifier(notify)
