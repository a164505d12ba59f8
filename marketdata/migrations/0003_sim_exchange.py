"""The `SIM` exchange is part of the API contract (always open, no holidays): every install
has it, seeded or not."""

from django.db import migrations

SIM = {
    "name": "Simulated exchange (24×7)",
    "timezone": "UTC",
    "always_open": True,
    "open_time": None,
    "close_time": None,
    "trading_weekdays": "0123456",
    "holiday_calendar": "",
}


def create_sim(apps, schema_editor):
    Exchange = apps.get_model("marketdata", "Exchange")
    Exchange.objects.get_or_create(code="SIM", defaults=SIM)


class Migration(migrations.Migration):
    dependencies = [("marketdata", "0002_quote_bar_watchlistitem")]

    operations = [migrations.RunPython(create_sim, migrations.RunPython.noop)]
