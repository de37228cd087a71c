from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Deployment history"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from notifier.checks import TAG, provider_settings
        from notifier.ratelimit import create_cache_table

        checks.register(provider_settings, TAG)
        # `migrate` also creates the rate limiter's cache table (settings.CACHES).
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="ratelimit-table")
