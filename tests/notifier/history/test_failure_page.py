"""The deployment page shows where a failed deployment broke: the lifecycle event, the target,
its status, the hook's message and the log tail in a <pre>, escaped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from notifier import storage
from notifier.events import FailurePoint, LifecycleStep
from notifier.storage.history_store import StoreHistoryReader
from notifier.storage.orm import OrmStore
from tests.support.history import deployment_event, register, seed_deployment, user

pytestmark = pytest.mark.django_db

FAILURE = FailurePoint(
    target_id="i-0a1b2c3d4e5f60718",
    target_kind="Instance",
    lifecycle_event="ApplicationStart",
    status="Failed",
    error_code="ScriptFailed",
    script_name="scripts/start_server.sh",
    message="Script run as user root failed with exit code 1 <img src=x onerror=alert(1)>",
    log_tail="[stdout]Starting storefront...\n[stderr]<script>alert('x')</script> & gone",
    failed_targets=3,
    failed_targets_more=True,
    lifecycle_events=(
        LifecycleStep("DownloadBundle", "Succeeded", 5.5),
        LifecycleStep("ApplicationStart", "Failed", 64.5),
        LifecycleStep("ValidateService", "Skipped", None),
    ),
)


@pytest.fixture
def member(client):
    team = Group.objects.create(name="storefront-team")
    register("storefront", team=team)
    client.force_login(user("alice", team=team))
    return client


@pytest.mark.parametrize("reader", ["history database", "store"])
def test_the_deployment_page_shows_where_it_broke_escaped(member, monkeypatch, reader):
    if reader == "store":
        monkeypatch.setattr(storage, "get_history_reader", lambda: StoreHistoryReader(OrmStore()))
    event = deployment_event("d-BROKE0001", "storefront", status="Failed", failure=FAILURE)
    seed_deployment(OrmStore(), event)

    page = member.get("/deployments/d-BROKE0001/").content.decode()

    assert '<h2 id="failure">Where it broke</h2>' in page
    assert (
        "Failed at ApplicationStart on i-0a1b2c3d4e5f60718 (script scripts/start_server.sh)" in page
    )
    assert "one of 3+ failed targets" in page
    assert "<code>scripts/start_server.sh</code>" in page
    assert "ScriptFailed" in page
    assert "<td>ApplicationStart</td>" in page and "1 min 4 s" in page
    pre = page.split('<pre class="log-tail"', 1)[1].split("</pre>", 1)[0]
    assert "[stdout]Starting storefront...\n[stderr]&lt;script&gt;" in pre
    assert "&amp; gone" in pre
    assert "<script>alert" not in page and "<img src=x" not in page


def test_a_deployment_without_a_failure_point_has_no_such_section(member):
    seed_deployment(OrmStore(), deployment_event("d-PLAIN0001", "storefront", status="Failed"))
    page = member.get("/deployments/d-PLAIN0001/").content.decode()
    assert "Where it broke" not in page and '<pre class="log-tail"' not in page
