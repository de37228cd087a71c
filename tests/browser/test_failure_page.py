"""Where a failed deployment broke, on its page in a real browser: readable, escaped (script
output never runs), and a long log tail still fits a phone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from notifier.events import FailurePoint, LifecycleStep
from notifier.storage.orm import OrmStore
from tests.browser.test_history_pages import overflows_at_phone_width, sign_in
from tests.support.history import deployment_event, register, seed_deployment, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOG = "\n".join(
    [f"[stdout]step {n}: " + "x" * 180 for n in range(12)]
    + ["[stderr]<img src=x onerror=\"document.title='pwned'\"> failed"]
)


def test_the_deployment_page_shows_where_it_broke_in_a_browser(page, live_server):
    team = Group.objects.create(name="storefront-team")
    register("storefront", team=team)
    user("alice", team=team)
    failure = FailurePoint(
        target_id="i-0a1b2c3d4e5f60718",
        target_kind="Instance",
        lifecycle_event="ApplicationStart",
        status="Failed",
        error_code="ScriptFailed",
        script_name="scripts/start_server.sh",
        message="Script at specified location: scripts/start_server.sh failed with exit code 1",
        log_tail=LOG,
        failed_targets=1,
        lifecycle_events=(
            LifecycleStep("DownloadBundle", "Succeeded", 5.5),
            LifecycleStep("ApplicationStart", "Failed", 64.5),
        ),
    )
    event = deployment_event("d-BROKE0001", "storefront", status="Failed", failure=failure)
    seed_deployment(OrmStore(), event)

    sign_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/deployments/d-BROKE0001/")

    expect(page.get_by_role("heading", name="Where it broke")).to_be_visible()
    expect(page.get_by_text("Failed at ApplicationStart on i-0a1b2c3d4e5f60718")).to_be_visible()
    log = page.get_by_label("The last lines of the hook's log")
    expect(log).to_be_visible()
    expect(log).to_contain_text("<img src=x onerror=")  # shown as text...
    assert page.title() != "pwned"  # ...never run
    assert page.locator("main img").count() == 0
    table = page.get_by_role("table", name="Lifecycle events of i-0a1b2c3d4e5f60718")
    expect(table.get_by_role("row")).to_have_count(3)
    assert not overflows_at_phone_width(page)
