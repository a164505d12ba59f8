from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_list_page, name="notification-list"),
    path(
        "notifications/read-all",
        views.notification_read_all_page,
        name="notification-read-all",
    ),
    path(
        "notifications/<uuid:notification_id>/read",
        views.notification_read_page,
        name="notification-read",
    ),
]
