from notifications.api import NotificationViewSet
from oms_site.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
