"""A first run without AWS configuration guides instead of waiting: the service loop's poll
of the default source fails for want of a region or credentials (against moto's server over
HTTP once configured), /healthz says "not configured" and names what, and the history and
status pages say exactly what to set, each line only while it is missing."""

from __future__ import annotations

import time

import pytest

from notifier.pollers import SourcePollers
from notifier.sources import boto3_session_for
from notifier.storage.orm import OrmStore
from registrations.sources import source_default
from tests.support.history import user

pytestmark = pytest.mark.django_db(transaction=True)

CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture(autouse=True)
def fresh_sessions(settings, tmp_path, monkeypatch):
    settings.NOTIFIER_NODE_LOCK = tmp_path / "node.lock"
    # No AWS config or credentials file of the machine running the tests, no instance role.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


def without_region(monkeypatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    source = source_default()
    source.region = ""
    source.save()


def without_credentials(monkeypatch) -> None:
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


def poll_once() -> None:
    """One cycle of every enabled source, as the service loop runs it."""
    pollers = SourcePollers(
        store=OrmStore(), holder="node-a", interval=60, idle_interval=60, threads=1
    )
    try:
        pollers.start_due()
        deadline = time.monotonic() + 30
        while any(s.busy_polling for s in pollers.schedules.values()):
            assert time.monotonic() < deadline, "the poll cycle did not end"
            time.sleep(0.02)
    finally:
        pollers.close()


def test_healthz_says_not_configured_and_names_the_region_when_none_is_set(
    aws, client, monkeypatch
):
    without_region(monkeypatch)
    poll_once()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not configured",
        "poll_lag_seconds": None,
        "failing": "aws_region",
    }


def test_healthz_names_the_credentials_when_none_are_found(aws, client, monkeypatch):
    without_credentials(monkeypatch)
    poll_once()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not configured" and body["failing"] == "aws_credentials"
    assert "123456789012" not in response.content.decode()


def test_the_history_page_says_what_to_set_when_nothing_is_configured(
    aws, client, monkeypatch, settings
):
    settings.NEW_RELIC_API_KEY = ""
    without_region(monkeypatch)
    without_credentials(monkeypatch)
    poll_once()
    client.force_login(user("newcomer"))
    page = client.get("/").content.decode()
    assert "AWS is not configured yet" in page
    assert 'data-setting="AWS_REGION"' in page and "us-east-1" in page
    assert 'data-setting="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"' in page
    assert 'data-setting="NEW_RELIC_API_KEY"' in page
    assert "Want to see it work first?" in page and "<code>make demo</code>" in page


def test_the_status_page_lists_only_what_is_missing(aws, client, monkeypatch, settings):
    settings.NEW_RELIC_API_KEY = "NRAK-TESTKEY"
    without_credentials(monkeypatch)  # a region is set
    poll_once()
    client.force_login(user("newcomer"))
    page = client.get("/status/").content.decode()
    assert "AWS is not configured yet" in page
    assert 'data-setting="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"' in page
    assert 'data-setting="AWS_REGION"' not in page
    assert 'data-setting="NEW_RELIC_API_KEY"' not in page


def test_a_region_alone_missing_lists_the_region_and_not_the_credentials(aws, client, monkeypatch):
    without_region(monkeypatch)  # moto's test credentials are in the environment
    poll_once()
    client.force_login(user("newcomer"))
    page = client.get("/status/").content.decode()
    assert 'data-setting="AWS_REGION"' in page
    assert 'data-setting="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"' not in page


def test_once_configured_the_guidance_disappears_and_healthz_is_ok(aws, client, settings):
    settings.NEW_RELIC_API_KEY = ""
    poll_once()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    client.force_login(user("newcomer"))
    for path in ("/", "/status/"):
        page = client.get(path).content.decode()
        assert "AWS is not configured yet" not in page
        assert "data-setting=" not in page


def test_before_any_poll_an_environment_without_aws_is_named_at_once(aws, client, monkeypatch):
    without_region(monkeypatch)
    without_credentials(monkeypatch)  # and no poll has run: nothing has failed yet

    response = client.get("/healthz")
    client.force_login(user("newcomer"))
    page = client.get("/").content.decode()
    status = client.get("/status/").content.decode()

    assert response.status_code == 503
    assert response.json()["status"] == "not configured"
    assert response.json()["failing"] == "aws_region"
    for shown in (page, status):
        assert 'data-setting="AWS_REGION"' in shown
        assert 'data-setting="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"' in shown
        assert "<code>make demo</code>" in shown


def test_before_any_poll_a_configured_environment_shows_no_guidance(aws, client):
    response = client.get("/healthz")
    client.force_login(user("newcomer"))
    page = client.get("/").content.decode()

    assert response.json()["status"] != "not configured"
    assert "AWS is not configured yet" not in page
