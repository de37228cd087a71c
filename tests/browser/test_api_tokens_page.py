"""/tokens/ in a real browser: make a token, copy it, use it, revoke it."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from registrations.tokens import ApiToken
from tests.browser.test_history_pages import overflows_at_phone_width, sign_in, unlabelled_controls
from tests.support.history import user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clipboard_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def api_status(base: str, secret: str) -> int:
    headers = {"Authorization": f"Token {secret}"}
    return requests.get(f"{base}/api/registrations/", headers=headers, timeout=10).status_code


def test_a_person_makes_copies_uses_and_revokes_a_token(clipboard_page, live_server):
    page = clipboard_page
    user("alice")
    sign_in(page, live_server.url, "alice")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    page.get_by_label("Name").fill("deploy scripts")
    page.get_by_role("button", name="Make token").click()

    shown = page.get_by_label("New API token")
    expect(shown).to_be_visible()
    secret = shown.input_value()
    assert secret.startswith("cdn_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    row = page.locator("table.tokens tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("deploy scripts")
    expect(row).to_contain_text(f"{secret[:8]}…")
    assert unlabelled_controls(page) == []
    assert api_status(live_server.url, secret) == 200

    page.goto(f"{live_server.url}/tokens/")
    expect(page.get_by_label("New API token")).to_have_count(0)  # shown once only
    expect(page.locator("body")).not_to_contain_text(secret)
    expect(page.locator("table.tokens tbody tr")).not_to_contain_text("never")  # last used

    page.get_by_role("link", name="Revoke deploy scripts").click()
    expect(page.get_by_role("heading", name="Revoke the token “deploy scripts”?")).to_be_visible()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("Token 'deploy scripts'")).to_contain_text("was revoked")
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    assert api_status(live_server.url, secret) == 401
    assert not ApiToken.objects.get().active


def test_the_page_says_what_is_wrong_with_a_name_and_fits_a_phone(page, live_server):
    user("alice")
    sign_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/tokens/")
    for _ in range(2):
        page.get_by_label("Name").fill("CI")
        page.get_by_role("button", name="Make token").click()
    expect(page.locator(".errorlist")).to_contain_text("you already have a token named 'CI'")
    expect(page.get_by_label("New API token")).to_have_count(0)
    assert not overflows_at_phone_width(page)
