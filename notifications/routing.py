"""WebSocket routes (mounted by oms_site/asgi.py inside the auth stack)."""

from django.urls import re_path

from notifications.consumers import StreamConsumer

websocket_urlpatterns = [
    re_path(r"^ws/stream/?$", StreamConsumer.as_asgi()),
]
