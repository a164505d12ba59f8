"""ASGI entry point: Django (its WSGI handler, see oms_site/wsgi_over_asgi.py) for HTTP,
Channels for the live stream."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_site.settings")
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.routing import websocket_urlpatterns  # noqa: E402
from notifications.ws_auth import (  # noqa: E402
    ApiKeyOrSessionAuthMiddlewareStack,
    StreamOriginValidator,
)
from oms_site.gc_tuning import tune_gc_for_server  # noqa: E402
from oms_site.log_redaction import install_query_secret_redaction  # noqa: E402
from oms_site.wsgi_over_asgi import WsgiOnThreadPool  # noqa: E402

# uvicorn configures its loggers before it imports this module; the filter goes on after.
install_query_secret_redaction()

application = ProtocolTypeRouter(
    {
        "http": WsgiOnThreadPool(django_wsgi_app),
        # API-key clients need no Origin header; session connections must send the site's.
        "websocket": StreamOriginValidator(
            ApiKeyOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Loaded: what exists now lives as long as the process (oms_site/gc_tuning.py).
tune_gc_for_server()
