"""A separate Django project that uses the engine as a library: only what the three apps
need (no admin, no REST framework, no task queue, no sessions)."""

from __future__ import annotations

import os

from notifier.defaults import ENGINE_SETTINGS

# The test run made both keys (tests/settings.py) and this process inherits them.
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",  # a registration's team is a Group
    "django.contrib.contenttypes",
    "notifier.apps.NotifierConfig",
    "registrations.apps.RegistrationsConfig",
    "channels.apps.NotificationChannelsConfig",
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["LIBRARY_DATABASE"]}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

globals().update(ENGINE_SETTINGS)
NOTIFIER_ENCRYPTION_KEY = os.environ["NOTIFIER_ENCRYPTION_KEY"]
NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]  # the test's webhook receiver is on loopback
