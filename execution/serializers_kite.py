"""Request and response shapes of the Kite login and postback endpoints."""

from rest_framework import serializers

from accounts.models import ConnectionStatus
from oms_site.api import StrictFieldsMixin


class KiteLoginUrlSerializer(serializers.Serializer):
    login_url = serializers.CharField(help_text="Open it to log in to Kite (once a day).")


class KiteSessionSerializer(StrictFieldsMixin, serializers.Serializer):
    request_token = serializers.CharField(
        max_length=200,
        help_text="The `request_token` Kite added to the redirect URL after the login.",
    )


class BrokerStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConnectionStatus.values)
    last_checked_at = serializers.DateTimeField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class KitePostbackSerializer(serializers.Serializer):
    """What Kite posts (documented fields OMS reads; the rest of the order is kept as sent)."""

    order_id = serializers.CharField()
    order_timestamp = serializers.CharField(help_text='Kite\'s "YYYY-MM-DD HH:MM:SS" (IST).')
    status = serializers.CharField()
    checksum = serializers.CharField(
        help_text="SHA-256 hex of order_id + order_timestamp + the app's api_secret."
    )


class KitePostbackResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reports = serializers.IntegerField(help_text="Execution reports it produced (0: a repeat).")
