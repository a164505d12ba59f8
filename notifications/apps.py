from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications and live stream"

    def ready(self) -> None:
        # accounts reports kill-switch changes through its registry (DESIGN.md: no hidden
        # signals). Broker status comes from execution, which notifications may not import:
        # orders/apps.py wires that one.
        from accounts.registry import register_kill_switch_listener
        from notifications.events import kill_switch_changed

        register_kill_switch_listener("notifications", kill_switch_changed)
