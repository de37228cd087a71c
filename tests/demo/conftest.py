"""The demo's simulated AWS with its world made (`simulated`, `aws`), and the demo inbox on
pytest-django's live_server, with the provider URLs pointed at it the way the demo launcher
points them, and a signed-in client for its pages."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User

from notifier.demo.aws import SimulatedAws
from notifier.demo.world import world_create
from notifier.sources import boto3_session_for
from registrations.models import Registration

PASSWORD = "a demo password 42"


@pytest.fixture(scope="module")
def simulated():
    """One SimulatedAws per module (one per process at a time: notifier.demo.aws)."""
    aws = SimulatedAws(host="127.0.0.1", port=0)
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture
def aws(simulated, monkeypatch):
    """The demo's world in a fresh simulated AWS, this process's AWS settings pointed at it."""
    simulated.reset()
    world_create(simulated)
    for name, value in simulated.env.items():
        monkeypatch.setenv(name, value)
    boto3_session_for.cache_clear()  # sessions of the product's sources, made for this AWS
    yield simulated
    boto3_session_for.cache_clear()


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
