from django.urls import re_path

from notifications.api import NotificationViewSet
from notifications.api_stream import StreamMissedView
from oms_site.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    *router.urls,
    re_path(r"^stream/missed/?$", StreamMissedView.as_view(), name="stream-missed"),
]
