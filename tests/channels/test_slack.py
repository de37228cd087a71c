from __future__ import annotations

import itertools
import json

import pytest
from werkzeug import Request, Response

from channels import slack
from channels.base import ChannelError
from channels.slack import SlackMessage, SlackSetup, message_payload
from notifier.events import Event

TOKEN = "xoxb-1234-5678-abcdefghijkl"


class FakeSlack:
    """Slack's Web API: chat.postMessage and chat.update, keeping messages by ts."""

    def __init__(self, server) -> None:
        self.messages: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.answer_next: list[dict] = []
        self._ts = (f"1700000000.{n:06d}" for n in itertools.count(1))
        for method in ("chat.postMessage", "chat.update"):
            server.expect_request(f"/api/{method}", method="POST").respond_with_handler(
                self._handle
            )

    def _handle(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1]
        body = request.get_json()
        self.calls.append((method, body))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"ok": False, "error": "invalid_auth"})
        if self.answer_next:
            return self._json(self.answer_next.pop(0))
        if method == "chat.postMessage":
            ts = next(self._ts)
            self.messages[ts] = body
            return self._json({"ok": True, "channel": "C0DEPLOYS", "ts": ts})
        if body["ts"] not in self.messages:
            return self._json({"ok": False, "error": "message_not_found"})
        self.messages[body["ts"]] = body
        return self._json({"ok": True, "channel": body["channel"], "ts": body["ts"]})

    @staticmethod
    def _json(data: dict) -> Response:
        return Response(json.dumps(data), content_type="application/json")


@pytest.fixture
def fake_slack(httpserver, settings) -> FakeSlack:
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    return FakeSlack(httpserver)


@pytest.fixture
def bot_setup(registration) -> SlackSetup:
    return SlackSetup.objects.create(
        registration=registration,
        bot_token=TOKEN,
        channel="#deploys",
        events=["started", "succeeded", "failed"],
    )


def test_the_message_carries_what_a_failure_needs(failed_event):
    text = message_payload(failed_event, SlackSetup(webhook_url="https://x"))["text"]
    assert "HOOK_EXECUTION_FAILURE" in text
    assert "0 succeeded, 1 failed, 3 skipped" in text
    assert "d-5RT8YB3NC" in text  # the rollback deployment
    assert failed_event.console_url in text


def test_the_body_template_can_be_overridden(failed_event):
    setup = SlackSetup(webhook_url="https://x", body_template="{{ event.application }} <b> & co")
    assert message_payload(failed_event, setup)["text"] == "storefront <b> & co"


def test_a_webhook_setup_posts_the_text(httpserver, allow_local, succeeded_event):
    httpserver.expect_request("/services/T1/B2/abcdefghijkl", method="POST").respond_with_data("ok")
    setup = SlackSetup(webhook_url=httpserver.url_for("/services/T1/B2/abcdefghijkl"))
    slack.send(succeeded_event, setup)
    (request, _), *_ = httpserver.log
    assert "d-7QK2M4ZP1" in request.get_json()["text"]


def test_a_webhook_error_is_permanent_and_hides_the_url(httpserver, allow_local, failed_event):
    httpserver.expect_request("/services/T1/B2/abcdefghijkl").respond_with_data(
        "no_service", status=404
    )
    setup = SlackSetup(webhook_url=httpserver.url_for("/services/T1/B2/abcdefghijkl"))
    with pytest.raises(ChannelError) as caught:
        slack.send(failed_event, setup)
    assert not caught.value.retryable and "404" in caught.value.message
    assert "abcdefghijkl" not in caught.value.message


def test_with_a_bot_token_one_message_is_updated_in_place(fake_slack, bot_setup):
    started = slack.send(sample_for("started"), bot_setup)  # posts and remembers the ts
    assert started.detail.startswith("posted message")
    finished = slack.send(sample_for("started").with_event(Event.SUCCEEDED), bot_setup)

    assert [method for method, _ in fake_slack.calls] == ["chat.postMessage", "chat.update"]
    assert len(fake_slack.messages) == 1
    (message,) = fake_slack.messages.values()
    assert "succeeded" in message["text"]
    assert message["channel"] == "C0DEPLOYS"  # the id Slack answered, not the #name
    assert finished.detail.startswith("updated message")
    row = SlackMessage.objects.get(setup=bot_setup)
    assert row.event == "succeeded"


def test_a_late_started_never_overwrites_the_outcome(fake_slack, bot_setup):
    event = sample_for("started")
    slack.send(event, bot_setup)
    slack.send(event.with_event(Event.FAILED), bot_setup)
    delivery = slack.send(event.with_event(Event.READY), bot_setup)
    assert "already shows failed" in delivery.detail
    assert [m for m, _ in fake_slack.calls] == ["chat.postMessage", "chat.update"]


def test_a_deleted_message_is_posted_again(fake_slack, bot_setup):
    event = sample_for("started")
    slack.send(event, bot_setup)
    fake_slack.messages.clear()
    delivery = slack.send(event.with_event(Event.SUCCEEDED), bot_setup)
    assert delivery.detail.startswith("posted message")
    assert [m for m, _ in fake_slack.calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]


def test_without_started_the_outcome_is_posted(fake_slack, bot_setup, failed_event):
    slack.send(failed_event, bot_setup)
    assert [m for m, _ in fake_slack.calls] == ["chat.postMessage"]
    assert fake_slack.calls[0][1]["channel"] == "#deploys"


@pytest.mark.parametrize(
    "error, retryable, words",
    [
        ("not_in_channel", False, "invite it"),
        ("invalid_auth", False, "not valid"),
        ("ratelimited", True, "ratelimited"),
    ],
)
def test_slack_errors_say_what_to_do(fake_slack, bot_setup, failed_event, error, retryable, words):
    fake_slack.answer_next.append({"ok": False, "error": error})
    with pytest.raises(ChannelError) as caught:
        slack.send(failed_event, bot_setup)
    assert caught.value.retryable is retryable
    assert words in caught.value.message
    assert TOKEN not in caught.value.message


@pytest.mark.fault
def test_a_429_is_retried_after_the_time_slack_asks(httpserver, settings, bot_setup, failed_event):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    httpserver.expect_request("/api/chat.postMessage").respond_with_response(
        Response("", status=429, headers={"Retry-After": "30"})
    )
    with pytest.raises(ChannelError) as caught:
        slack.send(failed_event, bot_setup)
    assert caught.value.retryable and caught.value.retry_after == 30


@pytest.mark.parametrize(
    "fields, field",
    [
        ({}, "webhook_url"),
        ({"bot_token": "xoxb-1", "webhook_url": "https://hooks.slack.com/services/x"}, "bot_token"),
        ({"bot_token": "not-a-token", "channel": "#x"}, "bot_token"),
        ({"bot_token": "xoxb-123"}, "channel"),
    ],
)
def test_a_setup_needs_a_webhook_or_a_token_and_channel(registration, fields, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        SlackSetup(registration=registration, events=["failed"], **fields).full_clean()
    assert field in caught.value.message_dict


def sample_for(event: str):
    from channels.messages import sample_event

    return sample_event(event)
