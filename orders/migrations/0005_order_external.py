"""Orders kept in step with the broker: `external` (imported from the broker), its unique
import key `external_ref`, the chain of replaced broker ids, and the (account, broker id)
index a broker's update for an outside order is matched by."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0004_delete_idempotencyrecord'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='external',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='order',
            name='external_ref',
            field=models.CharField(blank=True, max_length=120, null=True),
        ),
        migrations.AddField(
            model_name='order',
            name='replaced_broker_order_ids',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['account', 'broker_order_id'], name='order_account_broker_id'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('account', 'external_ref'), name='uniq_order_account_external_ref'),
        ),
    ]
