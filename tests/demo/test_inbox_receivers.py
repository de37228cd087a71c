"""Each receiving end of the demo inbox, driven by the real channel senders over HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest

from channels import newrelic, pagerduty, slack, teams, webhook
from channels.messages import sample_event
from channels.newrelic import NERDGRAPH, NewRelicSetup
from channels.pagerduty import PagerDutySetup
from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier.demo.models import InboxMessage
from notifier.events import Event

pytestmark = pytest.mark.django_db(transaction=True)
GUID = "MXxBUE18QVBQTElDQVRJT058MTIzNDU2"


def only_message(channel: str) -> InboxMessage:
    (message,) = InboxMessage.objects.filter(channel=channel)
    return message


def test_a_new_relic_marker_is_recorded_and_shown_as_a_marker(demo, registration, signed_in):
    setup = NewRelicSetup(registration=registration, application_name="storefront-web")
    event = sample_event("succeeded")

    delivery = newrelic.send(event, setup)

    assert delivery.response_status == 201
    message = only_message("newrelic")
    assert (message.deployment_id, message.event) == (event.deployment_id, "succeeded")
    assert message.target == str(newrelic.application_id("storefront-web"))
    assert message.headers["X-Api-Key"] == "… (hidden)"
    page = signed_in.get("/demo/inbox/").content.decode()
    assert "REST v2 deployment marker" in page
    assert message.payload["deployment"]["revision"] in page
    assert f"Open deployment {event.deployment_id}" in page


def test_a_nerdgraph_change_tracking_marker_is_recorded(demo, registration):
    setup = NewRelicSetup(registration=registration, api=NERDGRAPH, entity_guid=GUID)
    event = sample_event("failed")

    newrelic.send(event, setup)

    message = only_message("newrelic")
    assert (message.deployment_id, message.target) == (event.deployment_id, GUID)


def test_a_slack_bot_message_is_updated_in_place(demo, registration, signed_in):
    setup = SlackSetup.objects.create(
        registration=registration,
        bot_token="xoxb-demo-token",
        channel="#deploys",
        events=["started", "succeeded"],
    )
    started = sample_event("started")
    succeeded = replace(started, event=Event.SUCCEEDED, status="Succeeded")

    slack.send(started, setup)
    delivery = slack.send(succeeded, setup)

    assert "updated message" in delivery.detail
    message = only_message("slack")
    assert message.updated_count == 1
    assert message.target == "#deploys"
    assert (message.deployment_id, message.event) == (started.deployment_id, "succeeded")
    page = signed_in.get("/demo/inbox/?channel=slack").content.decode()
    assert "(edited)" in page
    assert page.count('data-channel="slack" data-message=') == 1


def test_slack_answers_message_not_found_for_an_update_of_an_unknown_message(demo, client):
    answer = client.post(
        "/demo/inbox/slack/api/chat.update",
        {"channel": "#deploys", "ts": "1.000001", "text": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer xoxb-1",
    ).json()

    assert answer == {"ok": False, "error": "message_not_found"}


def test_a_slack_incoming_webhook_message_is_recorded(demo, registration):
    setup = SlackSetup(registration=registration, webhook_url=f"{demo}/slack/webhook/deploys/")

    slack.send(sample_event("failed"), setup)

    assert only_message("slack").target == "webhook deploys"


def test_a_teams_card_is_recorded_and_shown_with_its_facts(demo, registration, signed_in):
    setup = TeamsSetup(registration=registration, webhook_url=f"{demo}/teams/platform/")
    event = sample_event("failed")

    delivery = teams.send(event, setup)

    assert delivery.response_status == 202
    message = only_message("teams")
    assert (message.deployment_id, message.event) == (event.deployment_id, "failed")
    page = signed_in.get(f"/demo/inbox/{message.id}/").content.decode()
    assert '<th scope="row">Deployment group</th><td>canary</td>' in page
    assert "HOOK_EXECUTION_FAILURE" in page


def test_a_pagerduty_change_event_is_recorded_with_its_details(demo, registration, signed_in):
    setup = PagerDutySetup(registration=registration, routing_key="a" * 32)
    event = sample_event("failed")

    pagerduty.send(event, setup)

    message = only_message("pagerduty")
    assert (message.deployment_id, message.event) == (event.deployment_id, "failed")
    page = signed_in.get("/demo/inbox/?channel=pagerduty").content.decode()
    assert "custom_details" in page and "rollback_deployment_id" in page


@pytest.mark.parametrize(
    ("secret", "stored_secret", "state"),
    [("s3cret", "s3cret", "valid"), ("forged", "s3cret", "invalid"), ("", "", "unsigned")],
)
def test_a_webhook_signature_is_checked_against_its_setup(
    demo, registration, signed_in, secret, stored_secret, state
):
    url = f"{demo}/webhook/ops/"
    WebhookSetup.objects.create(registration=registration, url=url, secret=stored_secret)

    webhook.send(sample_event("failed"), WebhookSetup(url=url, secret=secret))

    message = only_message("webhook")
    assert message.signature == state
    page = signed_in.get("/demo/inbox/?channel=webhook").content.decode()
    assert f'data-signature="{state}"' in page


def test_the_inbox_answers_404_everywhere_when_the_demo_is_off(settings, signed_in):
    settings.NOTIFIER_DEMO = False
    for path in (
        "/demo/inbox/",
        "/demo/inbox/1/",
        "/demo/inbox/newrelic/v2/applications.json?filter[name]=x",
    ):
        assert signed_in.get(path).status_code == 404, path
    for path in (
        "/demo/inbox/newrelic/graphql",
        "/demo/inbox/slack/api/chat.postMessage",
        "/demo/inbox/slack/webhook/x/",
        "/demo/inbox/teams/x/",
        "/demo/inbox/pagerduty/v2/change/enqueue",
        "/demo/inbox/webhook/x/",
        "/demo/inbox/sns/",
    ):
        assert signed_in.post(path, {}, content_type="application/json").status_code == 404, path


def test_the_inbox_pages_need_a_signed_in_user(demo, client):
    answer = client.get("/demo/inbox/")

    assert answer.status_code == 302
    assert answer["Location"].startswith("/login/")
