"""CodeDeploy's free text (description, creator, error message, revision summary, repository)
cannot make markup in a message: no Slack mention or link, no Teams link, image or emphasis,
no HTML in an email. Checked on what arrives at a local HTTP server and a local SMTP server."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from channels import email as email_channel
from channels import slack, teams
from channels.email import EmailSetup
from channels.messages import SAMPLES_DIR
from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from notifier.codedeploy import normalise
from notifier.events import Event
from tests.channels.test_email import smtp  # noqa: F401 (fixture)

HOSTILE = (
    "<!channel> <!here> <@U123> <http://evil|click> *bold* _it_ ~s~ `code` "
    "[x](http://evil) ![img](http://evil/i.png) <script>alert(1)</script> & done"
)
REPOSITORY = "acme/shop)[x](http://evil)|<!here>"


@pytest.fixture
def hostile_event():
    data = json.loads((SAMPLES_DIR / "deployment-succeeded-github.json").read_text())
    info = data["deploymentsInfo"][0]
    info["description"] = HOSTILE
    info["revision"]["gitHubLocation"]["repository"] = REPOSITORY
    event = normalise(info, event=Event.FAILED, region="us-east-1", account="123456789012")
    return replace(
        event,
        status="Failed",
        creator=HOSTILE,
        error_code="HOOK_EXECUTION_FAILURE",
        error_message=HOSTILE,
        revision=replace(event.revision, summary=HOSTILE),
    )


def arrived_json(httpserver, path):
    (body,) = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == path]
    return body


def test_slack_receives_no_mention_and_no_link_from_the_data(
    httpserver, allow_local, hostile_event
):
    httpserver.expect_request("/slack").respond_with_data("ok")
    slack.send(hostile_event, SlackSetup(webhook_url=httpserver.url_for("/slack")))

    text = arrived_json(httpserver, "/slack")["text"]
    for markup in ("<!channel>", "<!here>", "<@U123>", "<http://evil", "<script>"):
        assert markup not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text and "&amp; done" in text
    links = re.findall(r"<([^<>]*)>", text)
    assert len(links) == 2  # the console link and the revision link, nothing else
    for link in links:
        url, label = link.split("|")  # exactly one separator: the data added none
        assert url.startswith(("https://us-east-1.console.aws.amazon.com/", "https://github.com/"))
    revision_url = links[1].split("|")[0]
    assert revision_url.startswith("https://github.com/acme/shop%29%5Bx%5D%28http://evil%29%7C")


def test_teams_receives_no_link_image_or_emphasis_from_the_data(
    httpserver, allow_local, hostile_event
):
    httpserver.expect_request("/teams").respond_with_data("", status=202)
    teams.send(hostile_event, TeamsSetup(webhook_url=httpserver.url_for("/teams")))

    card = arrived_json(httpserver, "/teams")["attachments"][0]["content"]
    text = card["body"][1]["text"]
    assert "[x](http://evil)" not in text and "![img]" not in text and "<script>" not in text
    assert r"\[x\]\(http://evil\)" in text and r"\*bold\*" in text and r"\<script\>" in text
    # Markdown links not preceded by a backslash: only the revision's, to GitHub.
    links = re.findall(r"(?<!\\)\[((?:\\.|[^\]\\])*)\]\(([^)\s]*)\)", text)
    assert len(links) == 1
    label, url = links[0]
    assert url.startswith("https://github.com/acme/shop%29%5Bx%5D%28http://evil%29%7C")
    assert r"\<\!channel\>" in label  # the summary, escaped
    assert re.search(r"(?<!\\)\*\*", text.replace("**Error HOOK_EXECUTION_FAILURE**", "")) is None


def test_an_email_carries_the_data_as_text_in_its_html(smtp, hostile_event):  # noqa: F811
    email_channel.send(hostile_event, EmailSetup(recipients="ops@example.com"))

    ((_, message),) = smtp.messages
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<!channel>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4  # each field, escaped
    anchors = re.findall(r"<a [^>]*>", html)
    assert len(anchors) == 2  # the revision and the console: the data made no link
    assert all(a.startswith('<a href="https://') for a in anchors)
    assert '">' not in anchors[0][:-2]  # the repository could not leave the attribute
