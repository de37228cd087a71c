"""The demo as a newcomer walks it, in Chromium, against `python -m notifier.demo` running as
`make demo` runs it (tests/support/demo.py): sign in with the password it printed, open the
inbox, follow a failed deployment's message to the deployment, resend a notification, and
register the unregistered application by picking it from the admin's suggestions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from notifier.demo.world import ERRORS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ERROR_CODE = re.compile("|".join(code for code, _message in ERRORS))
# The inbox refreshes itself every 10 s; the opening plays a failure within the first minute
# (its email, to the person who deployed too, waits up to NOTIFIER_DEPLOYER_WAIT for CloudTrail).
FAILED_MESSAGE_WITHIN_MS = 90_000


def click_in_view(link) -> None:
    """Scroll `link` into view, wait until it is there, then click. On the inbox (a page of
    sandboxed email iframes) headless Chromium can drop a click that Playwright sends straight
    after its own scroll: 0 of 8 such clicks navigated, 8 of 8 once the link was in view."""
    link.scroll_into_view_if_needed()
    expect(link).to_be_in_viewport()
    link.click()


def sign_in(page, demo) -> None:
    page.goto(f"{demo.base}/login/")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    page.wait_for_load_state()


def test_a_newcomer_follows_a_failed_deployments_message_to_its_page_and_resends_it(
    page, running_demo
):
    sign_in(page, running_demo)
    page.goto(f"{running_demo.base}/demo/inbox/")
    expect(page.locator(".demo-banner")).to_be_visible()

    page.locator(".chips a[data-channel='email']").click()
    # The unfiltered page holds failed emails too: wait for the filtered one before clicking.
    expect(page).to_have_url(re.compile(r"\?channel=email$"))
    page.wait_for_load_state()
    failed = page.locator("article.msg").filter(has=page.locator(".badge.ev-failed"))
    expect(failed.first).to_be_visible(timeout=FAILED_MESSAGE_WITHIN_MS)
    click_in_view(failed.first.get_by_role("link", name="Open message"))
    expect(page).to_have_url(re.compile(r"/demo/inbox/\d+/$"))
    # The email as its reader sees it: its HTML part.
    expect(page.frame_locator("iframe.email-html").get_by_text(ERROR_CODE).first).to_be_visible()

    click_in_view(page.get_by_role("link", name=re.compile(r"Open deployment d-")).first)
    expect(page.get_by_role("heading", name="Where it broke")).to_be_visible()
    expect(page.get_by_text("CodeDeploy's error")).to_be_visible()
    expect(page.get_by_text(ERROR_CODE).first).to_be_visible()

    delivery = page.locator(".delivery[data-event='failed']").first
    attempts = delivery.locator("tr.attempt")
    before = attempts.count()
    assert before >= 1
    delivery.get_by_role("button", name=re.compile("Resend the failed notification")).click()

    expect(page.get_by_text(re.compile("The failed notification was sent"))).to_be_visible()
    delivery = page.locator(".delivery[data-event='failed']").first
    expect(delivery.locator("tr.attempt")).to_have_count(before + 1)


def test_a_newcomer_registers_the_unregistered_application_from_the_suggestions(page, running_demo):
    sign_in(page, running_demo)
    page.goto(f"{running_demo.base}/admin/registrations/registration/add/")

    name = page.get_by_label("CodeDeploy application name")
    suggestions = page.locator(f"datalist#{name.get_attribute('list')} option")
    offered = suggestions.evaluate_all("options => options.map(o => o.value)")
    assert "search-indexer" in offered, offered
    assert "storefront" in offered  # the default source's applications, registered or not
    # Choosing a suggestion puts its value in the box, as the browser's list does.
    name.fill(suggestions.and_(page.locator("[value='search-indexer']")).get_attribute("value"))
    page.get_by_label("Team:", exact=True).select_option(label="Web")
    heading = page.locator("h2.inline-heading", has_text="New Relic deployment markers")
    group = page.locator(".inline-group").filter(has=heading)
    group.locator(".add-row a").click()
    group.locator("input[name$='-application_name']:visible").last.fill("search-indexer")
    page.locator("input[name='_save']").click()

    expect(page.get_by_text("was added successfully")).to_be_visible()
    expect(page.locator(".messagelist .warning")).to_have_count(0)
    expect(
        page.locator("#result_list").get_by_role("link", name="search-indexer", exact=True)
    ).to_be_visible()
