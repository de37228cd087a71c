"""New kinds through the unchanged engine: poll CodeDeploy (moto), create deliveries, claim,
send, record. Slack's started message is updated in place; a failing webhook is recorded
with its reason, its secrets masked, and retried later without holding the others up."""

from __future__ import annotations

import json

import pytest

from channels.slack import SlackSetup
from channels.webhook import WebhookSetup
from notifier import codedeploy as cd
from notifier.dispatch import delivery_send
from notifier.poller import deployment_poll
from notifier.storage.base import DELIVERED, PENDING
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.slack import TOKEN, FakeSlack

pytestmark = pytest.mark.django_db(transaction=True)


def poll_and_send(store):
    counter = cd.CallCounter()
    report = deployment_poll(store=store, client=cd.make_client(counter=counter), counter=counter)
    return {key: delivery_send(key, store=store, holder="test") for key in report.deliveries}


@pytest.mark.fault
def test_a_deployment_reaches_slack_once_and_a_failing_webhook_waits(
    codedeploy, httpserver, settings, fast_retries
):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    slack_api = FakeSlack(httpserver)
    httpserver.expect_request("/hook/abcdefghijklmnop").respond_with_data("busy", status=503)
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    slack = SlackSetup.objects.create(
        registration=registration,
        bot_token=TOKEN,
        channel="#deploys",
        events=["started", "succeeded", "failed"],
    )
    hook = WebhookSetup.objects.create(
        registration=registration,
        url=httpserver.url_for("/hook/abcdefghijklmnop"),
        secret="hmac-secret-value",
        events=["succeeded"],
    )
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "InProgress")

    first = poll_and_send(store)
    assert list(first.values()) == [DELIVERED]

    codedeploy.move(deployment, "Succeeded")
    second = poll_and_send(store)

    by_setup = {key.setup_id: state for key, state in second.items()}
    assert by_setup == {slack.pk: DELIVERED, hook.pk: PENDING}
    assert [m for m, _ in slack_api.calls] == ["chat.postMessage", "chat.update"]
    (message,) = slack_api.messages.values()
    assert "succeeded" in message["text"] and deployment in message["text"]

    failed = store.delivery_get(next(k for k in second if k.setup_id == hook.pk))
    (attempt,) = failed.history
    assert "server error (503)" in attempt.error
    assert "abcdefghijklmnop" not in attempt.error
    sent = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path.startswith("/hook")]
    assert sent[0]["deployment_id"] == deployment and sent[0]["event"] == "succeeded"
