from django.urls import path

from notifications import views, views_settings

urlpatterns = [
    path(
        "notifications/settings",
        views_settings.notification_settings_page,
        name="notification-settings",
    ),
    path(
        "notifications/settings/preferences",
        views_settings.notification_preferences_save,
        name="notification-preferences-save",
    ),
    path("notifications/webhooks", views_settings.webhook_create_page, name="webhook-create"),
    path(
        "notifications/webhooks/<uuid:webhook_id>/delete",
        views_settings.webhook_delete_page,
        name="webhook-delete",
    ),
    path(
        "notifications/webhooks/<uuid:webhook_id>/test",
        views_settings.webhook_test_page,
        name="webhook-test-page",
    ),
    path(
        "notifications/webhooks/<uuid:webhook_id>/rotate-secret",
        views_settings.webhook_rotate_page,
        name="webhook-rotate",
    ),
    path("notifications/deliveries", views_settings.delivery_list_page, name="delivery-list"),
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
