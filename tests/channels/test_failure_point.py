"""Every channel carries where a failed deployment broke, in its own form, to a real local
server: chat compactly (one line and the last lines of the log), email in full (text and HTML,
escaped), SNS and webhooks as a structured `failure` object, PagerDuty in custom_details, New
Relic in the marker's changelog. A deployment without a failure point sends none of it."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest

from channels import email as email_channel
from channels import newrelic as newrelic_channel
from channels import pagerduty, ses, slack, sns, teams, webhook
from channels.email import EmailSetup
from channels.messages import render, sample_event, template_problems
from channels.pagerduty import PagerDutySetup
from channels.ses import SesSetup
from channels.slack import SlackSetup
from channels.sns import SnsSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier.events import FailurePoint, LifecycleStep
from tests.channels.test_aws_channels import aws_channels, ses_sent, topic_with_queue  # noqa: F401
from tests.channels.test_email import smtp  # noqa: F401
from tests.channels.test_newrelic import FakeSetup
from tests.channels.test_pagerduty import KEY, events_api  # noqa: F401
from tests.support.aws import REGION

SUMMARY = (
    "Failed at ApplicationStart on i-0a1b2c3d4e5f60718 (script scripts/start_server.sh): "
    "Script at specified location: scripts/start_server.sh run as user root failed with exit "
    "code 1"
)
LAST_LINE = "[stderr]Error: listen EADDRINUSE: address already in use :::8080"


@pytest.fixture
def hostile_failure(failed_event):
    """A failure point whose script output is markup and mentions."""
    failure = FailurePoint(
        target_id="i-0a1b2c3d4e5f60718",
        target_kind="Instance",
        lifecycle_event="ApplicationStart",
        status="Failed",
        error_code="ScriptFailed",
        script_name="start.sh",
        message="<b>boom</b> <!channel>",
        log_tail="[stderr]<script>alert(1)</script>\n[stderr]``` <@U123> & done",
        failed_targets=3,
        lifecycle_events=(LifecycleStep("ApplicationStart", "Failed", 2.0),),
    )
    return failed_event.with_failure(failure)


def test_slack_says_where_it_broke_in_a_line_and_a_short_code_block(
    httpserver, allow_local, failed_event
):
    httpserver.expect_request("/services/T1/B2/abcdefghijkl").respond_with_data("ok")
    slack.send(
        failed_event, SlackSetup(webhook_url=httpserver.url_for("/services/T1/B2/abcdefghijkl"))
    )

    ((request, _),) = httpserver.log
    text = request.get_json()["text"]
    assert f"*{SUMMARY}*" in text
    assert f"```[stdout]Starting storefront...\n{LAST_LINE}```" in text


def test_slack_escapes_the_log_and_keeps_its_code_block_closed(hostile_failure):
    text = slack.message_payload(hostile_failure, SlackSetup(webhook_url="https://x"))["text"]
    assert "<!channel>" not in text and "<@U123>" not in text and "<script>" not in text
    assert "&lt;script&gt;" in text
    assert text.count("```") == 2
    assert "(3 targets failed)" in text


def test_teams_has_the_line_a_fact_and_the_log_as_a_monospace_block(
    httpserver, allow_local, failed_event
):
    path = "/workflows/abc123/triggers/manual/paths/invoke"
    httpserver.expect_request(path).respond_with_data("", status=202)
    query = "api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig=Zm9vYmFyYmF6cXV4"
    teams.send(failed_event, TeamsSetup(webhook_url=httpserver.url_for(path) + "?" + query))

    ((request, _),) = httpserver.log
    body = request.get_json()["attachments"][0]["content"]["body"]
    assert (
        "**Failed at ApplicationStart on i-0a1b2c3d4e5f60718 \\(script scripts/start\\_server.sh"
        in body[1]["text"]
    )
    assert {"title": "Failed at", "value": "ApplicationStart"} in body[2]["facts"]
    assert {"title": "Target", "value": "i-0a1b2c3d4e5f60718"} in body[2]["facts"]
    log = body[3]
    assert log["fontType"] == "Monospace"
    assert log["text"].endswith("address already in use :::8080")


def test_email_has_the_failure_in_full_in_text_and_escaped_html(smtp, hostile_failure):  # noqa: F811
    email_channel.send(hostile_failure, EmailSetup(recipients="ops@example.com"))

    ((_, message),) = smtp.messages
    text = message.get_body(("plain",)).get_content()
    assert "Failed at ApplicationStart on i-0a1b2c3d4e5f60718 (script start.sh)" in text
    assert "Lifecycle event: ApplicationStart (Failed), ScriptFailed" in text
    assert "[stderr]<script>alert(1)</script>" in text  # plain text: as it was
    page = message.get_body(("html",)).get_content()
    assert "<script>" not in page and "<b>boom</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    pre = page.split("<pre", 1)[1].split("</pre>", 1)[0]
    assert "[stderr]``` &lt;@U123&gt; &amp; done" in pre
    assert "<td>ApplicationStart</td>" in page
    assert "one of 3 failed targets" in page


def test_ses_sends_the_failure_in_its_html(aws_channels, failed_event):  # noqa: F811
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity="deploys@example.com"
    )
    ses.send(failed_event, SesSetup(from_address="deploys@example.com", recipients="o@example.com"))
    (message,) = ses_sent()
    assert "scripts/start_server.sh" in message.body
    assert "EADDRINUSE" in message.body


def test_sns_carries_the_failure_object_and_a_failed_at_attribute(topic_with_queue, failed_event):  # noqa: F811
    arn, received = topic_with_queue
    sns.send(failed_event, SnsSetup(topic=arn))
    (envelope,) = received()
    failure = json.loads(envelope["Message"])["failure"]
    assert failure["lifecycle_event"] == "ApplicationStart"
    assert failure["log_tail"].endswith("address already in use :::8080")
    assert envelope["MessageAttributes"]["failed_at"]["Value"] == "ApplicationStart"


def test_a_webhook_receives_the_failure_object(httpserver, allow_local, failed_event):
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook.send(failed_event, WebhookSetup(url=httpserver.url_for("/hook")))
    ((request, _),) = httpserver.log
    failure = json.loads(request.get_data())["failure"]
    assert failure["target_id"] == "i-0a1b2c3d4e5f60718"
    assert failure["script_name"] == "scripts/start_server.sh"
    assert failure["error_code"] == "ScriptFailed"
    assert [s["name"] for s in failure["lifecycle_events"]][2] == "ApplicationStart"


def test_pagerduty_custom_details_carry_the_failure(events_api, failed_event):  # noqa: F811
    events_api.expect_request("/v2/change/enqueue").respond_with_json(
        {"status": "success"}, status=202
    )
    pagerduty.send(failed_event, PagerDutySetup(routing_key=KEY))
    ((request, _),) = events_api.log
    details = request.get_json()["payload"]["custom_details"]
    assert details["failed_at"] == SUMMARY
    assert details["failure"]["lifecycle_event"] == "ApplicationStart"
    assert LAST_LINE in details["details"]


def test_the_new_relic_marker_changelog_says_where_it_broke(newrelic, failed_event):
    newrelic.add_application("web")
    newrelic_channel.send(failed_event, FakeSetup("web"))
    (marker,) = newrelic.markers
    changelog = marker["body"]["deployment"]["changelog"]
    assert SUMMARY in changelog and LAST_LINE in changelog


def test_a_failure_without_a_failure_point_sends_none_of_it(httpserver, allow_local, failed_event):
    plain = replace(failed_event, failure=None)
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook.send(plain, WebhookSetup(url=httpserver.url_for("/hook")))
    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["failure"] is None
    text = slack.message_payload(plain, SlackSetup(webhook_url="https://x"))["text"]
    assert "Failed at" not in text and "```" not in text
    assert (
        "failed_at"
        not in pagerduty.change_event(plain, PagerDutySetup(routing_key=KEY))["payload"][
            "custom_details"
        ]
    )
    assert (
        "failed_at"
        not in sns.publish_request(plain, SnsSetup(topic="t"), arn="arn")["MessageAttributes"]
    )
    assert newrelic_channel.marker_body(plain)["deployment"]["changelog"].count("Failed at") == 0


def test_a_setups_template_may_use_the_failure_point():
    body = (
        "{% if event.failure %}{{ event.failure.summary|mrkdwn }} ({{ event.failure.target_kind }})"
        "{% for step in event.failure.lifecycle_events %} {{ step.name }}={{ step.status }}"
        "{% endfor %}\n{{ event.failure.log_tail_short }}{% endif %}"
    )
    assert template_problems(kind="slack", body=body) == {}
    problems = template_problems(kind="slack", body="{{ event.failure.password }}")
    assert "event.failure has no field password" in problems["body_template"]

    text = render("slack", "body", sample_event("failed"), SlackSetup(body_template=body))
    assert "ApplicationStart=Failed ValidateService=Skipped" in text
    assert text.endswith(LAST_LINE)
    assert render("slack", "body", sample_event("succeeded"), SlackSetup(body_template=body)) == ""
