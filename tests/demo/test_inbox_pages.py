"""The inbox pages: channel chips, the empty state, each kind rendered, hostile text escaped."""

from __future__ import annotations

import pytest

from notifier.demo.inbox import inbox_record

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def demo_on(settings):
    settings.NOTIFIER_DEMO = True


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer"))
    return client


def test_an_empty_inbox_says_what_it_is_and_that_the_demo_fills_it(demo_on, viewer):
    page = viewer.get("/demo/inbox/").content.decode()

    assert "The inbox is empty." in page
    assert "fills within a minute of <code>make demo</code>" in page


def test_the_chips_count_each_channel_and_filter_the_list(demo_on, viewer):
    inbox_record(channel="slack", title="one", payload={"text": "one"})
    inbox_record(channel="slack", title="two", payload={"text": "two"})
    inbox_record(channel="teams", title="card", payload={})

    page = viewer.get("/demo/inbox/?channel=teams").content.decode()

    assert 'data-channel="slack" aria-current' not in page
    assert 'Slack <span class="count">2</span>' in page
    assert 'Microsoft Teams <span class="count">1</span>' in page
    assert page.count('<article class="msg') == 1


def test_an_unknown_channel_filter_is_named_and_every_channel_shown(demo_on, viewer):
    inbox_record(channel="slack", title="one", payload={"text": "one"})

    page = viewer.get("/demo/inbox/?channel=fax").content.decode()

    assert "channel: there is no channel kind “fax”" in page
    assert page.count('<article class="msg') == 1


def test_hostile_payloads_render_as_text(demo_on, viewer):
    for channel in ("slack", "teams", "newrelic", "pagerduty", "sns", "webhook", "email"):
        inbox_record(
            channel=channel,
            title=HOSTILE,
            payload={
                "text": f"<https://example.com|{HOSTILE}> *{HOSTILE}*",
                "subject": HOSTILE,
                "html": HOSTILE,
                "deployment": {"description": HOSTILE, "changelog": HOSTILE},
                "payload": {"summary": HOSTILE, "custom_details": {HOSTILE: HOSTILE}},
                "Subject": HOSTILE,
                "MessageAttributes": {HOSTILE: {"Type": "String", "Value": HOSTILE}},
                "attachments": [{"content": {"body": [{"type": "TextBlock", "text": HOSTILE}]}}],
            },
            headers={HOSTILE: HOSTILE},
        )

    page = viewer.get("/demo/inbox/").content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_a_payload_not_in_its_providers_shape_is_shown_as_json(demo_on, viewer):
    inbox_record(channel="teams", title="odd", payload={"attachments": ["not a card"]})

    page = viewer.get("/demo/inbox/").content.decode()

    assert "not a card" in page


def test_sns_message_attributes_are_shown_as_a_table(demo_on, viewer):
    inbox_record(
        channel="sns",
        title="CodeDeploy storefront failed",
        payload={
            "Type": "Notification",
            "Subject": "CodeDeploy storefront failed",
            "Message": '{"deployment_id": "d-ABCDEF123"}',
            "MessageAttributes": {"event": {"Type": "String", "Value": "failed"}},
        },
    )

    page = viewer.get("/demo/inbox/").content.decode()

    assert "<td>event</td><td>String</td><td>failed</td>" in page


def test_slack_links_and_bold_render_and_only_web_links_become_links(demo_on, viewer):
    inbox_record(
        channel="slack",
        title="t",
        payload={"text": "*storefront* failed <https://aws.example/d|open> <javascript:x|bad>"},
    )

    page = viewer.get("/demo/inbox/").content.decode()

    assert "<strong>storefront</strong>" in page
    assert '<a href="https://aws.example/d" rel="noopener noreferrer">open</a>' in page
    assert 'href="javascript' not in page


def test_one_message_has_its_own_page_and_a_missing_one_is_404(demo_on, viewer):
    message = inbox_record(channel="slack", title="hello", payload={"text": "hello d-ABCDEF123"})

    page = viewer.get(f"/demo/inbox/{message.id}/").content.decode()
    missing = viewer.get(f"/demo/inbox/{message.id + 1}/")

    assert "Open deployment d-ABCDEF123" in page
    assert 'href="/deployments/d-ABCDEF123/"' in page
    assert missing.status_code == 404


def test_a_teams_card_shows_its_markdown_bold_and_links_and_escapes_the_rest(demo_on, viewer):
    text = r"**Error HOOK\_FAILURE**: see [the log](https://example.com/log) <b>not bold</b>"
    inbox_record(
        channel="teams",
        title="card",
        payload={
            "attachments": [
                {
                    "content": {
                        "body": [
                            {"type": "TextBlock", "text": "title"},
                            {"type": "TextBlock", "text": text},
                        ]
                    }
                }
            ]
        },
    )

    page = viewer.get("/demo/inbox/").content.decode()

    assert "<strong>Error HOOK_FAILURE</strong>" in page
    assert '<a href="https://example.com/log" rel="noopener noreferrer">the log</a>' in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page
