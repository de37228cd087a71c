from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from channels import slack
from channels.base import ChannelError, SendContext
from channels.slack import SlackMessage, SlackSetup, message_payload
from notifier.events import Event
from tests.support.slack import TOKEN, FakeSlack


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


# --- the delivery id, and re-sending an attempt that was in flight -------------------------


def in_flight(delivery_id: str, minutes_ago: float = 1) -> SendContext:
    since = timezone.now() - timedelta(minutes=minutes_ago)
    return SendContext(delivery_id=delivery_id, in_flight_since=since)


def test_a_bot_message_carries_the_delivery_id_in_its_metadata(fake_slack, bot_setup, failed_event):
    slack.send(failed_event, bot_setup, SendContext(delivery_id="delivery-1"))
    (posted,) = fake_slack.posts()
    assert posted["metadata"] == {
        "event_type": "codedeploy_notification",
        "event_payload": {"delivery_id": "delivery-1"},
    }


def test_a_first_attempt_posts_without_reading_the_channel(fake_slack, bot_setup, failed_event):
    slack.send(failed_event, bot_setup, SendContext(delivery_id="delivery-1"))
    assert [m for m, _ in fake_slack.calls] == ["chat.postMessage"]


def test_a_resend_of_an_attempt_in_flight_finds_the_message_and_does_not_post_again(
    fake_slack, bot_setup, failed_event
):
    bot_setup.channel = "C0DEPLOYS"
    slack.send(failed_event, bot_setup, SendContext(delivery_id="delivery-1"))
    SlackMessage.objects.all().delete()  # the sender died before it could remember the ts
    (ts,) = fake_slack.messages

    delivery = slack.send(failed_event, bot_setup, in_flight("delivery-1"))

    assert len(fake_slack.posts()) == 1
    method, query = fake_slack.calls[-1]
    assert method == "conversations.history"
    assert query["channel"] == "C0DEPLOYS" and query["include_all_metadata"] is True
    assert query["limit"] == 50 and float(query["oldest"]) > 0
    assert "not posted again" in delivery.detail and ts in delivery.detail
    assert SlackMessage.objects.get(setup=bot_setup).ts == ts  # later events update it


def test_a_resend_of_an_attempt_in_flight_posts_when_slack_has_no_such_message(
    fake_slack, bot_setup, failed_event
):
    slack.send(failed_event, bot_setup, SendContext(delivery_id="other-delivery"))
    SlackMessage.objects.all().delete()
    slack.send(failed_event, bot_setup, in_flight("delivery-2"))
    assert [m for m, _ in fake_slack.calls] == [
        "chat.postMessage",
        "conversations.history",
        "chat.postMessage",
    ]


def test_a_check_slack_refuses_falls_back_to_posting(fake_slack, bot_setup, failed_event):
    fake_slack.answer_next.append({"ok": False, "error": "missing_scope"})
    delivery = slack.send(failed_event, bot_setup, in_flight("delivery-3"))
    assert delivery.detail.startswith("posted message")
    assert [m for m, _ in fake_slack.calls] == ["conversations.history", "chat.postMessage"]
