from django.apps import AppConfig


class PnlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pnl"
