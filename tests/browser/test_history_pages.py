"""The pages people use, in a real browser: register, browse, filter, resend, teams, phones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from notifier.storage.base import DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.browser.conftest import PHONE
from tests.support.history import (
    PASSWORD,
    delivered,
    deployment_event,
    failed,
    register,
    seed_delivery,
    seed_deployment,
    user,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, username: str, *, path: str = "/login/") -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    page.wait_for_load_state()


def seed_history(team: Group):
    """storefront with a failed and a succeeded deployment; billing with one of its own."""
    store = OrmStore()
    _, (setup,) = register("storefront", team=team, nr_apps=("web",))
    _, (billing,) = register("billing", nr_apps=("billing-web",))
    now = timezone.now()
    bad = deployment_event(
        "d-FAILED0001",
        "storefront",
        status="Failed",
        created=now - timedelta(minutes=5),
        error_code="HEALTH_CONSTRAINTS",
        error_message="Too many instances failed",
    )
    good = deployment_event("d-GOOD00001", "storefront", created=now - timedelta(minutes=30))
    other = deployment_event("d-BILLING01", "billing", created=now - timedelta(minutes=50))
    for event in (bad, good, other):
        seed_deployment(store, event)
    seed_delivery(store, bad, setup, outcomes=[failed("New Relic had a server error (502)")])
    seed_delivery(store, good, setup, outcomes=[delivered()])
    seed_delivery(store, other, billing, outcomes=[delivered()])
    return store, setup


def unlabelled_controls(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main textarea')]
            .filter(e => !['hidden', 'submit', 'button'].includes(e.type))
            .filter(e => !e.closest('.empty-form'))
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.name || e.id)"""
    )


def overflows_at_phone_width(page) -> bool:
    page.set_viewport_size(PHONE)
    return page.evaluate("() => document.body.scrollWidth > window.innerWidth")


# --- registering through the admin's typed forms -----------------------------------------


def test_a_team_member_registers_an_application_with_two_setups(page, live_server):
    team = Group.objects.create(name="storefront-team")
    user("alice", team=team)
    sign_in(page, live_server.url, "alice", path="/admin/login/")

    page.goto(f"{live_server.url}/admin/registrations/registration/add/")
    assert unlabelled_controls(page) == []
    page.get_by_label("CodeDeploy application name").fill("storefront")
    page.get_by_label("Team:", exact=True).select_option(label="storefront-team")
    heading = page.locator("h2.inline-heading", has_text="New Relic deployment markers")
    group = page.locator(".inline-group").filter(has=heading)
    for name in ("storefront-web", "storefront-worker"):
        group.locator(".add-row a").click()
        group.locator("input[name$='-application_name']:visible").last.fill(name)
    page.locator("input[name='_save']").click()

    expect(page.get_by_text("was added successfully")).to_be_visible()
    expect(
        page.locator("#result_list").get_by_role("link", name="storefront", exact=True)
    ).to_be_visible()
    registration = Registration.objects.get(codedeploy_application_name="storefront")
    typed = sorted(s.typed().application_name for s in registration.setups.all())
    assert typed == ["storefront-web", "storefront-worker"]
    assert all(s.events == ["succeeded"] for s in registration.setups.all())
    assert registration.team == team

    page.get_by_role("link", name="Deployments of storefront").click()
    expect(page.get_by_role("heading", name="storefront")).to_be_visible()
    expect(page.get_by_text("New Relic marker on storefront-worker")).to_be_visible()


# --- the history: filter, open, resend ---------------------------------------------------


def test_a_member_filters_opens_a_deployment_and_resends_a_failed_notification(
    page, live_server, newrelic
):
    team = Group.objects.create(name="storefront-team")
    store, setup = seed_history(team)
    newrelic.add_application("web", 7)
    user("alice", team=team)
    sign_in(page, live_server.url, "alice")

    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Application").select_option("storefront")
    page.get_by_label("Delivery outcome").select_option("failed")
    page.get_by_role("button", name="Show deployments").click()
    expect(rows).to_have_count(1)
    assert "outcome=failed" in page.url
    rows.first.get_by_role("link", name="d-FAILED0001").click()

    expect(page.get_by_role("heading", name="storefront / production")).to_be_visible()
    expect(page.get_by_text("HEALTH_CONSTRAINTS")).to_be_visible()
    attempts = page.locator(".delivery[data-event='failed'] tr.attempt")
    expect(attempts).to_have_count(1)
    page.get_by_role("button", name=re.compile("Resend the failed notification")).click()

    expect(page.get_by_text("The failed notification was sent and delivered.")).to_be_visible()
    expect(attempts).to_have_count(2)
    expect(attempts.nth(1)).to_contain_text("delivered")
    delivery = store.delivery_get(DeliveryKey("d-FAILED0001", "failed", setup.pk))
    assert [a.state for a in delivery.history] == ["failed", "delivered"]
    assert len(newrelic.markers) == 1


def test_a_user_of_another_team_reads_but_cannot_resend_or_edit(page, live_server):
    team = Group.objects.create(name="storefront-team")
    seed_history(team)
    registration = Registration.objects.get(codedeploy_application_name="storefront")
    user("mallory", team=Group.objects.create(name="billing-team"))
    sign_in(page, live_server.url, "mallory")

    page.goto(f"{live_server.url}/deployments/d-FAILED0001/")
    expect(page.get_by_text("HEALTH_CONSTRAINTS")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Resend"))).to_have_count(0)
    expect(page.get_by_text("Only members of the storefront-team team or staff")).to_be_visible()

    page.goto(f"{live_server.url}/admin/registrations/registration/")
    expect(page.get_by_role("link", name="storefront", exact=True)).to_have_count(0)
    page.goto(f"{live_server.url}/admin/registrations/registration/{registration.pk}/change/")
    expect(page.get_by_text("doesn’t exist").or_(page.get_by_text("doesn't exist"))).to_be_visible()
    expect(page.locator("input[name='_save']")).to_have_count(0)


# --- labels, keyboard, phones ------------------------------------------------------------


def test_the_pages_are_labelled_and_fit_a_phone(page, live_server):
    team = Group.objects.create(name="storefront-team")
    seed_history(team)
    user("alice", team=team)
    sign_in(page, live_server.url, "alice")
    for path in (
        "/",
        "/?status=Failed",
        "/deployments/d-FAILED0001/",
        "/applications/storefront/",
        "/dashboard/",
        "/status/",
    ):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{live_server.url}{path}")
        assert unlabelled_controls(page) == [], path
        assert page.locator("h1").count() == 1, path
        assert not overflows_at_phone_width(page), f"{path} overflows at 375px"


def test_a_keyboard_alone_searches_and_resends(page, live_server, newrelic):
    team = Group.objects.create(name="storefront-team")
    store, setup = seed_history(team)
    newrelic.add_application("web", 7)
    user("alice", team=team)
    sign_in(page, live_server.url, "alice")

    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    tab_to(page, "input#id_q")
    page.keyboard.type("d-failed0001")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=d-failed0001"))
    expect(page.locator("main tbody tr")).to_have_count(1)

    tab_to(page, "a[href='/deployments/d-FAILED0001/']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/deployments/d-FAILED0001/"))
    tab_to(page, "button[aria-label^='Resend the failed']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("#setup-"))
    expect(page.locator(".delivery[data-event='failed'] tr.attempt")).to_have_count(2)
    delivery = store.delivery_get(DeliveryKey("d-FAILED0001", "failed", setup.pk))
    assert delivery.attempts == 2


def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus (fails if it never does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")
