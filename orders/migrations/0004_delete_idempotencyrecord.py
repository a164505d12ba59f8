"""orders' own Idempotency-Key table goes: every POST now uses accounts.IdempotencyKey
(accounts.idempotency). Live keys are copied over first, so a retry sent across the deploy
still replays instead of placing a second order. A key the caller already holds in the
accounts table keeps that row (its retry then answers 409, never a duplicate)."""

from django.db import migrations

_BATCH = 1000


def copy_keys_to_accounts(apps, schema_editor):
    record_model = apps.get_model("orders", "IdempotencyRecord")
    key_model = apps.get_model("accounts", "IdempotencyKey")
    alias = schema_editor.connection.alias
    fields = (
        "user_id",
        "key",
        "path",
        "request_hash",
        "status_code",
        "response_body",
        "created_at",
    )
    batch = []
    for row in record_model.objects.using(alias).order_by("pk").values(*fields).iterator():
        batch.append(key_model(**row))
        if len(batch) == _BATCH:
            key_model.objects.using(alias).bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        key_model.objects.using(alias).bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_idempotency_key"),
        ("orders", "0003_order_account_side_open"),
    ]

    operations = [
        migrations.RunPython(copy_keys_to_accounts, migrations.RunPython.noop),
        migrations.DeleteModel(name="IdempotencyRecord"),
    ]
