"""Stored secrets are encrypted with NOTIFIER_ENCRYPTION_KEY only, never a key derived from
DJANGO_SECRET_KEY."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from channels.webhook import WebhookSetup

URL = "https://example.com/hooks/abcdefghijklmnop"


def test_changing_the_secret_key_leaves_stored_secrets_readable(registration, settings):
    setup = WebhookSetup.objects.create(registration=registration, url=URL, secret="hmac-123456")
    settings.SECRET_KEY = "a-completely-different-django-secret-key-" + "x" * 20

    again = WebhookSetup.objects.get(pk=setup.pk)
    assert (again.url, again.secret) == (URL, "hmac-123456")


def test_without_an_encryption_key_secrets_are_refused_not_derived(registration, settings):
    settings.NOTIFIER_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="NOTIFIER_ENCRYPTION_KEY is not set"):
        WebhookSetup.objects.create(registration=registration, url=URL)
