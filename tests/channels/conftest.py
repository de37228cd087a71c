from __future__ import annotations

import pytest

from channels.messages import sample_event
from registrations.models import Registration


@pytest.fixture
def allow_local(settings):
    """Local test servers live on loopback, which user-supplied URLs may not name otherwise."""
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1", "localhost"]
    return settings


@pytest.fixture
def registration(db) -> Registration:
    return Registration.objects.create(codedeploy_application_name="storefront")


@pytest.fixture
def failed_event():
    return sample_event("failed")


@pytest.fixture
def succeeded_event():
    return sample_event("succeeded")
