"""`make demo` as a person runs it: `python -m notifier.demo` (tests/support/demo.py starts it
once for the session) fills the inbox, the history, the dashboard and the status page by
itself, and Ctrl-C stops all of it, leaving nothing outside its directory."""

from __future__ import annotations

import re
import time

import pytest

from notifier.demo.inbox import CHANNELS
from notifier.demo.world import ERRORS
from tests.support.demo import repository_status
from tests.support.processes import group_members, wait_until

pytestmark = [pytest.mark.e2e]

FULL_WITHIN = 90  # seconds after the start, as the issue asks for 60 on a laptop
STOP_WITHIN = 60  # the launcher's own bounds: the service gets 45 s, the rest a few
ERROR_CODES = tuple(code for code, _message in ERRORS)
ARTICLE = re.compile(r"<article\b[^>]*>.*?</article>", re.S)


def _articles(session, base: str, channel: str = "") -> list[str]:
    query = f"?channel={channel}" if channel else ""
    page = session.get(f"{base}/demo/inbox/{query}", timeout=10)
    page.raise_for_status()
    return ARTICLE.findall(page.text)


def _missing_from_the_pages(demo, session) -> list[str]:
    """What a person would not see yet: a channel kind with no message in the inbox, a
    Slack message not updated in place, an outcome with no deployment in the history."""
    missing = [kind for kind in CHANNELS if not _articles(session, demo.base, channel=kind)]
    if not any("(edited)" in a for a in _articles(session, demo.base, channel="slack")):
        missing.append("a Slack message updated in place")
    for status in ("Succeeded", "Failed", "Stopped", "Ready"):
        listing = session.get(f"{demo.base}/?status={status}", timeout=10).text
        if f"badge s-{status}" not in listing:
            missing.append(f"a {status} deployment in the history")
    for source in ("default", "payments-eu"):
        listing = session.get(f"{demo.base}/?source={source}", timeout=10).text
        if "badge s-" not in listing:
            missing.append(f"a deployment of source {source}")
    if "automatic rollback of d-" not in session.get(f"{demo.base}/", timeout=10).text:
        missing.append("a rollback in the history")
    return missing


def test_the_demo_fills_the_inbox_and_the_history_with_every_path_by_itself(running_demo):
    demo = running_demo
    session = demo.signed_in()
    deadline = time.monotonic() + FULL_WITHIN
    missing = _missing_from_the_pages(demo, session)
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = _missing_from_the_pages(demo, session)
    assert not missing, (
        f"{FULL_WITHIN} s after the demo started, the pages still lack: {', '.join(missing)}"
        f"\n{demo.console}"
    )
    # It measured itself, once, and said so.
    full = demo.wait_for(r"demo is full: every path delivered after (\d+) s", timeout=30)
    assert re.search(r"first notification in the inbox after \d+ s", demo.console)
    assert int(full.group(1)) > 0


def test_a_failed_deployments_message_carries_its_error_and_leads_to_its_page(running_demo):
    demo = running_demo
    session = demo.signed_in()
    failed = [a for a in _articles(session, demo.base) if "ev-failed" in a]
    assert failed, "no failed deployment's message in the inbox"
    message_id = re.search(r'data-message="(\d+)"', failed[0]).group(1)
    message = session.get(f"{demo.base}/demo/inbox/{message_id}/", timeout=10).text
    assert any(code in message for code in ERROR_CODES), message[:3000]
    link = re.search(r'<a class="deployment" href="([^"]+)"', message)
    assert link, "the message has no link to its deployment"
    deployment = session.get(f"{demo.base}{link.group(1)}", timeout=10)
    assert deployment.status_code == 200
    assert "CodeDeploy&#x27;s error" in deployment.text or "CodeDeploy's error" in deployment.text
    assert any(code in deployment.text for code in ERROR_CODES)


def test_the_dashboard_and_status_pages_show_both_sources_and_the_demo_banner(running_demo):
    demo = running_demo
    session = demo.signed_in()
    dashboard = session.get(f"{demo.base}/dashboard/", timeout=10)
    status = session.get(f"{demo.base}/status/", timeout=10)
    assert dashboard.status_code == 200 and status.status_code == 200
    # The opening plays a storefront success and a payments failure first.
    for application in ("storefront", "payments"):
        assert application in dashboard.text, f"{application} not on the dashboard"
    for source in ("default", "payments-eu"):
        assert source in dashboard.text, f"source {source} not on the dashboard"
        assert source in status.text, f"source {source} not on the status page"
    for page in (dashboard, status, session.get(f"{demo.base}/demo/inbox/", timeout=10)):
        assert 'class="demo-banner"' in page.text, page.url


def test_ctrl_c_stops_all_of_it_and_leaves_nothing_outside_its_directory(running_demo):
    demo = running_demo
    service_group = demo.service_pid
    assert group_members(service_group), "the service was not running"

    assert demo.interrupt(timeout=STOP_WITHIN) == 0, demo.console

    wait_until(
        lambda: not group_members(demo.process.pid) and not group_members(service_group),
        timeout=15,
        what="every process of the demo to exit",
    )
    assert "stopped" in demo.lines[-1], demo.console
    made = {path.name for path in demo.directory.iterdir()}
    assert {"db.sqlite3", "keys.env", "static", "service.log", "timings.json"} <= made, made
    assert repository_status() - demo.repository_before == set()
