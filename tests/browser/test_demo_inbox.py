"""The demo inbox in a real browser: what the real senders delivered, shown as each channel
would show it — a Slack message edited in place, an email's HTML in a sandboxed frame, a
webhook's checked signature."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from channels import email, slack, webhook
from channels.email import EmailSetup
from channels.messages import sample_event
from channels.slack import SlackSetup
from channels.webhook import WebhookSetup
from notifier.demo.collect import SmtpInbox
from notifier.demo.models import InboxMessage
from notifier.env import email_from_url
from notifier.events import Event
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.browser.test_history_pages import sign_in
from tests.support.history import seed_deployment, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, live_server):
    base = f"{live_server.url}/demo/inbox"
    settings.NOTIFIER_DEMO = True
    settings.SLACK_API_URL = f"{base}/slack/api"
    settings.NOTIFIER_URL_ALLOWLIST = [urlsplit(live_server.url).netloc]
    inbox = SmtpInbox().start()
    settings.EMAIL_URL = inbox.url
    for name, value in email_from_url(inbox.url).items():
        setattr(settings, name, value)
    settings.NOTIFIER_FROM_EMAIL = "deploys@example.com"
    yield base
    inbox.stop()


def deliver_one_of_each(base: str) -> None:
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    bot = SlackSetup.objects.create(
        registration=registration, bot_token="xoxb-demo", channel="#deploys"
    )
    started = sample_event("started")
    slack.send(started, bot)
    slack.send(replace(started, event=Event.SUCCEEDED, status="Succeeded"), bot)
    email.send(sample_event("failed"), EmailSetup(recipients="ops@example.com"))
    hook = WebhookSetup.objects.create(
        registration=registration, url=f"{base}/webhook/ops/", secret="s3cret"
    )
    webhook.send(sample_event("failed"), hook)


def test_the_inbox_shows_each_message_as_its_channel_would(page, live_server, demo):
    user("viewer")
    deliver_one_of_each(demo)
    # the SMTP sink records on its own thread: wait for it before opening the page
    for _ in range(200):
        if InboxMessage.objects.count() >= 3:
            break
        page.wait_for_timeout(50)

    sign_in(page, live_server.url, "viewer", path="/demo/inbox/")
    page.goto(f"{live_server.url}/demo/inbox/")

    expect(page.get_by_role("note")).to_contain_text("Demo: simulated AWS on this machine")
    slack_message = page.locator("article[data-channel=slack]")
    expect(slack_message).to_have_count(1)
    expect(slack_message).to_contain_text("(edited)")
    expect(slack_message).to_contain_text("succeeded")
    frame = page.locator("article[data-channel=email] iframe.email-html")
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe.email-html").locator("body")).to_contain_text(
        "HOOK_EXECUTION_FAILURE"
    )
    badge = page.locator("article[data-channel=webhook] .sig")
    expect(badge).to_have_text("valid")


def test_a_message_leads_to_its_deployment_page(page, live_server, demo):
    user("viewer")
    failed = sample_event("failed")
    seed_deployment(OrmStore(), failed)  # the poller saw it
    deliver_one_of_each(demo)

    sign_in(page, live_server.url, "viewer", path="/demo/inbox/?channel=webhook")
    page.goto(f"{live_server.url}/demo/inbox/?channel=webhook")
    page.get_by_role("link", name=re.compile(r"Open deployment d-")).first.click()

    expect(page).to_have_url(re.compile(rf"/deployments/{failed.deployment_id}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("storefront / canary Failed")
    expect(page.get_by_text("HOOK_EXECUTION_FAILURE").first).to_be_visible()
