"""The demo inbox on pytest-django's live_server, with the provider URLs pointed at it the
way the demo launcher points them, and a signed-in client for its pages."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User

from registrations.models import Registration

PASSWORD = "a demo password 42"


@pytest.fixture
def demo(settings, live_server):
    """NOTIFIER_DEMO on; New Relic, Slack and PagerDuty at the inbox; the inbox's host allowed
    for user URLs. Returns the inbox's base URL."""
    base = f"{live_server.url}/demo/inbox"
    settings.NOTIFIER_DEMO = True
    settings.NEW_RELIC_API_KEY = "demo"
    settings.NEW_RELIC_API_URL = f"{base}/newrelic"
    settings.NEW_RELIC_NERDGRAPH_URL = f"{base}/newrelic/graphql"
    settings.SLACK_API_URL = f"{base}/slack/api"
    settings.PAGERDUTY_EVENTS_URL = f"{base}/pagerduty"
    settings.NOTIFIER_URL_ALLOWLIST = [urlsplit(live_server.url).netloc]
    return base


@pytest.fixture
def registration(transactional_db) -> Registration:
    return Registration.objects.create(codedeploy_application_name="storefront")


@pytest.fixture
def signed_in(client, transactional_db):
    client.force_login(User.objects.create_user("viewer", password=PASSWORD))
    return client
