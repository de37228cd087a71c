from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from channels import newrelic as channel
from channels.base import ChannelError, SendContext
from notifier import codedeploy as cd
from notifier.events import Event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "codedeploy"


def sample(name: str, event: Event = Event.SUCCEEDED):
    info = json.loads((FIXTURES / name).read_text())["deploymentsInfo"][0]
    return cd.normalise(info, event=event, region="us-east-1", account="123456789012")


class FakeSetup:
    def __init__(self, application_name: str) -> None:
        self.application_name = application_name


def test_the_marker_names_the_github_commit_and_the_creator():
    body = channel.marker_body(sample("deployment-succeeded-github.json"))["deployment"]
    assert body["revision"] == "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"
    assert body["user"] == "an AWS user (not known yet)"  # CloudTrail has not named them
    assert body["description"] == (
        "CodeDeploy storefront/production deployment d-7QK2M4ZP1 Succeeded"
    )
    assert "release 2026.11.27-1" in body["changelog"]
    assert "https://github.com/acme/storefront/commit/9f1c2d3e" in body["changelog"]


def test_an_s3_revision_is_bucket_key_and_version():
    event = sample("deployment-failed-with-rollback.json", Event.FAILED)
    assert channel.marker_revision(event) == (
        "acme-releases/storefront/2026.11.27-2.zip@3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    )


def test_an_ecs_revision_names_the_task_definition():
    event = sample("deployment-ecs-appspec-succeeded.json")
    assert channel.marker_revision(event) == "payments-api:42"


def test_it_records_a_marker(newrelic):
    app_id = newrelic.add_application("storefront-web")
    newrelic.add_application("storefront-web-staging")  # filter[name] matches substrings
    sent = newrelic_send(sample("deployment-succeeded-github.json"), "storefront-web")
    assert sent.response_status == 201
    (marker,) = newrelic.markers
    assert marker["app_id"] == app_id
    assert marker["body"]["deployment"]["revision"].startswith("9f1c2d3e")


def newrelic_send(event, application_name):
    return channel.send(event, FakeSetup(application_name))


def test_it_caches_the_application_id(newrelic):
    newrelic.add_application("web")
    event = sample("deployment-succeeded-github.json")
    newrelic_send(event, "web")
    newrelic_send(event, "web")
    assert newrelic.lookups == 1
    assert len(newrelic.markers) == 2


def test_an_unknown_application_is_permanent(newrelic):
    with pytest.raises(ChannelError) as error:
        newrelic_send(sample("deployment-succeeded-github.json"), "nope")
    assert not error.value.retryable
    assert "New Relic has no application named 'nope'" in str(error.value)


@pytest.mark.fault
def test_a_rejected_key_is_permanent(newrelic, settings):
    settings.NEW_RELIC_API_KEY = "wrong"
    with pytest.raises(ChannelError) as error:
        newrelic_send(sample("deployment-succeeded-github.json"), "web")
    assert not error.value.retryable
    assert "New Relic rejected NEW_RELIC_API_KEY" in str(error.value)


def test_a_missing_key_says_which_setting(newrelic, settings):
    settings.NEW_RELIC_API_KEY = ""
    with pytest.raises(ChannelError, match="NEW_RELIC_API_KEY is not set"):
        newrelic_send(sample("deployment-succeeded-github.json"), "web")


@pytest.mark.fault
@pytest.mark.parametrize("status", [429, 500, 503])
def test_it_marks_throttling_and_server_errors_retryable(newrelic, status):
    newrelic.add_application("web")
    newrelic.fail_next = [status]
    with pytest.raises(ChannelError) as error:
        newrelic_send(sample("deployment-succeeded-github.json"), "web")
    assert error.value.retryable
    assert error.value.response_status == status


@pytest.mark.fault
def test_it_honours_retry_after(httpserver, settings):
    settings.NEW_RELIC_API_URL = httpserver.url_for("").rstrip("/")
    settings.NEW_RELIC_API_KEY = "k"
    channel._app_ids.clear()
    httpserver.expect_request("/v2/applications.json").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "17"}
    )
    with pytest.raises(ChannelError) as error:
        newrelic_send(sample("deployment-succeeded-github.json"), "web")
    assert error.value.retryable and error.value.retry_after == 17


@pytest.mark.fault
def test_a_timeout_is_retryable(httpserver, settings):
    import threading

    release = threading.Event()
    settings.NEW_RELIC_API_URL = httpserver.url_for("").rstrip("/")
    settings.NEW_RELIC_API_KEY = "k"
    settings.NOTIFIER_SEND_TIMEOUT = 0.3
    channel._app_ids.clear()

    def hang(request):
        release.wait(2)
        from werkzeug import Response

        return Response("late")

    httpserver.expect_request("/v2/applications.json").respond_with_handler(hang)
    try:
        with pytest.raises(ChannelError) as error:
            newrelic_send(sample("deployment-succeeded-github.json"), "web")
    finally:
        release.set()
    assert error.value.retryable
    assert "did not answer within 0.3 seconds" in str(error.value)


@pytest.mark.fault
def test_an_unreachable_server_is_retryable(settings):
    from tests.support.services import free_port

    settings.NEW_RELIC_API_URL = f"http://127.0.0.1:{free_port()}"
    settings.NEW_RELIC_API_KEY = "k"
    channel._app_ids.clear()
    with pytest.raises(ChannelError) as error:
        newrelic_send(sample("deployment-succeeded-github.json"), "web")
    assert error.value.retryable
    assert "could not connect to New Relic" in str(error.value)


# --- the delivery id, and re-sending an attempt that was in flight -------------------------


def in_flight(delivery_id: str) -> SendContext:
    since = timezone.now() - timedelta(minutes=1)
    return SendContext(delivery_id=delivery_id, in_flight_since=since)


def test_the_changelog_ends_with_the_delivery_id(newrelic):
    newrelic.add_application("storefront-web")
    event = sample("deployment-succeeded-github.json")
    channel.send(event, FakeSetup("storefront-web"), SendContext(delivery_id="delivery-1"))
    (marker,) = newrelic.markers
    assert marker["body"]["deployment"]["changelog"].endswith("\n\nNotifier delivery delivery-1")
    assert newrelic.listings == 0  # a first attempt does not look


def test_a_resend_of_an_attempt_in_flight_finds_the_marker_and_does_not_send_again(newrelic):
    app_id = newrelic.add_application("storefront-web")
    event = sample("deployment-succeeded-github.json")
    channel.send(event, FakeSetup("storefront-web"), SendContext(delivery_id="delivery-1"))

    again = channel.send(event, FakeSetup("storefront-web"), in_flight("delivery-1"))

    assert len(newrelic.markers) == 1 and newrelic.listings == 1
    assert again.detail == (
        f"marker 1 on application {app_id} was recorded before the sender stopped; not sent again"
    )


def test_a_resend_of_an_attempt_in_flight_sends_when_no_marker_matches(newrelic):
    newrelic.add_application("storefront-web")
    event = sample("deployment-succeeded-github.json")
    channel.send(event, FakeSetup("storefront-web"), SendContext(delivery_id="another"))
    channel.send(event, FakeSetup("storefront-web"), in_flight("delivery-2"))
    assert len(newrelic.markers) == 2 and newrelic.listings == 1
