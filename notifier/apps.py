from django.apps import AppConfig


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Deployment history"
    default_auto_field = "django.db.models.BigAutoField"
