from __future__ import annotations

from django.apps import AppConfig


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Deployment history"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from notifier.checks import TAG, provider_settings

        checks.register(provider_settings, TAG)
