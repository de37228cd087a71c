from django.apps import AppConfig


class NotificationChannelsConfig(AppConfig):
    name = "channels"
    label = "notification_channels"
    verbose_name = "Notification channels"
    default_auto_field = "django.db.models.BigAutoField"
