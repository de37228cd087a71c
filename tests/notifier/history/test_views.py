from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from notifier import history, storage
from notifier.events import Rollback
from notifier.storage.base import SUPERSEDED, AttemptOutcome, DeliveryKey, PollState
from notifier.storage.history_store import StoreHistoryReader
from notifier.storage.orm import OrmStore
from tests.support.history import (
    delivered,
    deployment_event,
    failed,
    register,
    seed_delivery,
    seed_deployment,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return OrmStore()


@pytest.fixture
def team():
    return Group.objects.create(name="storefront-team")


@pytest.fixture
def member(client, team):
    client.force_login(user("alice", team=team))
    return client


def seed(
    store,
    deployment_id,
    application,
    setup,
    *,
    status="Succeeded",
    minutes_ago=10,
    outcome=None,
    **kw,
):
    event = deployment_event(
        deployment_id,
        application,
        status=status,
        created=timezone.now() - timedelta(minutes=minutes_ago),
        **kw,
    )
    seed_deployment(store, event)
    if setup is not None:
        seed_delivery(store, event, setup, outcomes=[outcome or delivered()])
    return event


def without_a_history_database(monkeypatch) -> None:
    """The pages read history the way they do with DynamoDB alone (a Store's own reads)."""
    monkeypatch.setattr(storage, "get_history_reader", lambda: StoreHistoryReader(OrmStore()))


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def deployment_ids(response) -> list[str]:
    return re.findall(r'href="/deployments/(d-[A-Z0-9]+)/"', response.content.decode())


# --- health ------------------------------------------------------------------------------


def test_healthz_is_200_while_the_poller_succeeds(client, store):
    store.poll_state_save(PollState(last_success=timezone.now() - timedelta(seconds=5)))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert 4 <= response.json()["poll_lag_seconds"] < 60


def test_healthz_is_503_when_the_poller_never_ran_or_stalled(client, store):
    assert client.get("/healthz").status_code == 503
    store.poll_state_save(
        PollState(
            last_success=timezone.now() - timedelta(hours=1),
            last_error="AWS denied codedeploy:ListDeployments.",
        )
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


# --- sign-in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/deployments/d-X/", "/dashboard/", "/status/", "/applications/x/"]
)
def test_every_page_needs_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_any_active_user_signs_in_without_a_staff_flag(client):
    user("reader")
    response = client.post("/login/", {"username": "reader", "password": "a-long-test-password-1"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


# --- the list ----------------------------------------------------------------------------


def test_the_list_shows_each_deployment_at_a_glance_newest_first(member, store, team):
    _, (setup,) = register("storefront", team=team)
    seed(store, "d-OLDER0001", "storefront", setup, minutes_ago=60, creator="bob")
    seed(
        store, "d-NEWER0001", "storefront", setup, status="Failed", minutes_ago=5, outcome=failed()
    )
    response = member.get("/")
    assert deployment_ids(response) == ["d-NEWER0001", "d-OLDER0001"]
    page = text(response)
    assert "storefront</a> / production" in page
    assert "9f1c2d3e4b5a" in page  # the revision, linked to its commit
    assert "https://github.com/acme/storefront/commit/9f1c2d3e" in page
    assert "bob" in page
    assert "1 min 35 s" in page  # the duration
    assert "failed: failed" in page and "succeeded: delivered" in page


def test_each_filter_narrows_the_list(member, store, team):
    _, (setup,) = register("storefront", team=team)
    _, (other,) = register("billing")
    seed(store, "d-AAAAAA001", "storefront", setup, minutes_ago=3, creator="carol")
    seed(
        store,
        "d-BBBBBB001",
        "storefront",
        setup,
        status="Failed",
        minutes_ago=4,
        outcome=failed(),
        group="canary",
    )
    seed(
        store,
        "d-CCCCCC001",
        "billing",
        other,
        minutes_ago=60 * 24 * 3,
        commit="0123456789abcdef0123456789abcdef01234567",
    )
    seed(store, "d-DDDDDD001", "billing", None, status="InProgress", minutes_ago=1)

    def ids(**params):
        return deployment_ids(member.get("/", params))

    assert ids() == ["d-DDDDDD001", "d-AAAAAA001", "d-BBBBBB001", "d-CCCCCC001"]
    assert ids(application="billing") == ["d-DDDDDD001", "d-CCCCCC001"]
    assert ids(deployment_group="canary") == ["d-BBBBBB001"]
    assert ids(status="Failed") == ["d-BBBBBB001"]
    assert ids(event="failed") == ["d-BBBBBB001"]
    assert ids(event="started") == ["d-DDDDDD001", "d-AAAAAA001", "d-BBBBBB001", "d-CCCCCC001"]
    assert ids(outcome="failed") == ["d-BBBBBB001"]
    assert ids(outcome="delivered", application="billing") == ["d-CCCCCC001"]
    assert ids(kind="newrelic") == ["d-AAAAAA001", "d-BBBBBB001", "d-CCCCCC001"]
    # Days from 10 minutes ago, so a run just after midnight still brackets the seeds.
    recently = timezone.localtime() - timedelta(minutes=10)
    assert ids(since=recently.date().isoformat()) == ["d-DDDDDD001", "d-AAAAAA001", "d-BBBBBB001"]
    before = (recently - timedelta(days=1)).date().isoformat()
    assert ids(until=before) == ["d-CCCCCC001"]
    assert ids(q="d-cccccc001") == ["d-CCCCCC001"]
    assert ids(q="0123456789ab") == ["d-CCCCCC001"]
    assert ids(q="carol") == ["d-AAAAAA001"]


def test_a_filter_that_matches_nothing_says_how_to_widen_it(member, store):
    register("storefront")
    response = member.get("/", {"status": "Stopped"})
    assert "No deployment matches these filters" in text(response)
    assert "clear every filter" in text(response)


def test_a_bad_filter_value_names_the_field(member):
    response = member.get("/", {"since": "2026-13-45", "outcome": "exploded"})
    page = text(response)
    assert "From date: Enter a valid date." in page
    assert "Delivery outcome: Select a valid choice." in page


def test_pages_follow_a_keyset_both_ways(store):
    _, (setup,) = register("storefront")
    now = timezone.now()
    for n in range(5):
        seed(store, f"d-PAGE{n:05d}", "storefront", None, minutes_ago=n)
    filters = history.HistoryFilters()
    first = history.deployment_list(filters=filters, per_page=2)
    assert [r.deployment_id for r in first.rows] == ["d-PAGE00000", "d-PAGE00001"]
    assert first.newer is None
    second = history.deployment_list(filters=filters, before=first.older["before"], per_page=2)
    assert [r.deployment_id for r in second.rows] == ["d-PAGE00002", "d-PAGE00003"]
    third = history.deployment_list(filters=filters, before=second.older["before"], per_page=2)
    assert [r.deployment_id for r in third.rows] == ["d-PAGE00004"]
    assert third.older is None
    back = history.deployment_list(filters=filters, after=third.newer["after"], per_page=2)
    assert [r.deployment_id for r in back.rows] == ["d-PAGE00002", "d-PAGE00003"]
    assert now  # the same instant for every row's reference


def test_deployments_with_the_same_create_time_are_neither_lost_nor_repeated(store):
    register("storefront")
    created = timezone.now() - timedelta(minutes=1)
    for n in range(5):
        seed_deployment(store, deployment_event(f"d-SAME{n:05d}", "storefront", created=created))
    seen, cursor = [], ""
    while True:
        page = history.deployment_list(filters=history.HistoryFilters(), before=cursor, per_page=2)
        seen += [r.deployment_id for r in page.rows]
        if page.older is None:
            break
        cursor = page.older["before"]
    assert seen == [f"d-SAME{n:05d}" for n in reversed(range(5))]


def test_the_list_pages_through_older_deployments(member, store):
    register("storefront")
    for n in range(history.PER_PAGE + 3):
        seed(store, f"d-MANY{n:05d}", "storefront", None, minutes_ago=n)
    first = member.get("/")
    assert len(deployment_ids(first)) == history.PER_PAGE
    older = re.search(r'href="/(\?[^"]*before=[^"]+)" rel="next"', first.content.decode())
    second = member.get("/" + older.group(1).replace("&amp;", "&"))
    assert deployment_ids(second) == [f"d-MANY{n:05d}" for n in range(50, 53)]
    assert "No older deployments." in text(second)


def test_without_a_history_database_the_list_says_which_filters_need_the_mirror(
    member, store, monkeypatch
):
    register("storefront")
    seed(store, "d-DYNAMO001", "storefront", None)
    without_a_history_database(monkeypatch)
    response = member.get("/", {"application": "storefront", "status": "Failed"})
    page = text(response)
    assert "Filtering by status needs the audit mirror" in page
    assert "AUDIT_DATABASE_URL" in page
    assert deployment_ids(response) == ["d-DYNAMO001"]  # the application filter still works


# --- empty states ------------------------------------------------------------------------


def test_with_nothing_registered_the_list_links_to_registering(member):
    page = text(member.get("/"))
    assert "No applications are registered yet" in page
    assert 'href="/admin/registrations/registration/add/"' in page


def test_registered_but_nothing_seen_says_what_the_poller_is_doing(member, store):
    register("storefront")
    page = text(member.get("/"))
    assert "has not completed a check of CodeDeploy yet" in page
    store.poll_state_save(
        PollState(
            last_success=timezone.now() - timedelta(seconds=3),
            last_error="AWS denied codedeploy:ListDeployments. Add it to the IAM policy",
            last_error_at=timezone.now() - timedelta(minutes=5),
        )
    )
    page = text(member.get("/"))
    assert "its last successful check was" in page
    assert "AWS denied codedeploy:ListDeployments. Add it to the IAM policy" in page


# --- one deployment ----------------------------------------------------------------------


def test_the_deployment_page_shows_timeline_links_counts_error_and_attempts(member, store, team):
    _, (setup,) = register("storefront", team=team)
    event = deployment_event(
        "d-FAILED001",
        "storefront",
        status="Failed",
        error_code="HEALTH_CONSTRAINTS",
        error_message="Too many instances failed",
        rollback=Rollback(rollback_deployment_id="d-ROLLBK001"),
    )
    seed_deployment(store, event, statuses=("Created", "InProgress"))
    seed_delivery(
        store,
        event,
        setup,
        outcomes=[
            failed("New Relic had a server error (502): upstream", status=502),
        ],
    )
    page = text(member.get("/deployments/d-FAILED001/"))
    assert re.search(r"Created</span></td> <td>.*?</td> <td>30 s</td>", page)
    assert re.search(r"InProgress</span></td> <td>.*?</td> <td>30 s</td>", page)
    assert "final" in page
    assert 'href="https://github.com/acme/storefront/commit/9f1c2d3e' in page
    assert "console.aws.amazon.com/codesuite/codedeploy/deployments/d-FAILED001" in page
    assert "1 succeeded, 1 failed" in page
    assert "HEALTH_CONSTRAINTS</strong>: Too many instances failed" in page
    assert 'href="/deployments/d-ROLLBK001/"' in page
    assert "80 ms" in page and "502" in page and "New Relic had a server error (502)" in page
    assert ">Resend</button>" in page
    assert f'<h3 id="setup-{setup.pk}-title">New Relic marker on web</h3>' in page


def test_secrets_in_errors_are_redacted(member, store, settings):
    settings.NEW_RELIC_API_KEY = "NRAK-SECRETVALUE123"
    _, (setup,) = register("storefront")
    event = seed(store, "d-SECRET001", "storefront", None, status="Failed")
    seed_delivery(
        store,
        event,
        setup,
        outcomes=[
            failed(
                "refused: key NRAK-SECRETVALUE123 for https://bot:hunter22@hooks.example.com/x?token=abc123"
                " and https://hooks.slack.com/services/T000/B000/XXXX"
            )
        ],
    )
    page = text(member.get("/deployments/d-SECRET001/"))
    assert "NRAK-SECRETVALUE123" not in page
    assert "hunter22" not in page and "abc123" not in page and "B000/XXXX" not in page
    assert "refused: key •••••• for https://bot:••••••@hooks.example.com" in page


def test_an_unknown_deployment_is_404_with_a_way_on(member):
    response = member.get("/deployments/d-NOTHERE01/")
    assert response.status_code == 404
    assert "No deployment d-NOTHERE01 has been seen." in text(response)
    assert "search by deployment id, revision or creator" in text(response)


# --- resend ------------------------------------------------------------------------------


def failed_deployment(store, setup):
    event = deployment_event(
        "d-RESEND001", setup.registration.codedeploy_application_name, status="Failed"
    )
    seed_deployment(store, event)
    seed_delivery(store, event, setup, outcomes=[failed()])
    return event


def test_a_team_member_resends_a_failed_notification_as_a_new_attempt(
    member, store, team, newrelic
):
    _, (setup,) = register("storefront", team=team, nr_apps=("web",))
    newrelic.add_application("web", 7)
    failed_deployment(store, setup)
    response = member.post(
        "/deployments/d-RESEND001/resend/", {"event": "failed", "setup": setup.pk}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/deployments/d-RESEND001/#setup-{setup.pk}"
    delivery = store.delivery_get(DeliveryKey("d-RESEND001", "failed", setup.pk))
    assert [a.state for a in delivery.history] == ["failed", "delivered"]
    assert len(newrelic.markers) == 1
    page = text(member.get(response["Location"]))
    assert "The failed notification was sent and delivered." in page


def test_another_team_cannot_resend(client, store, team):
    _, (setup,) = register("storefront", team=team)
    failed_deployment(store, setup)
    client.force_login(user("mallory", team=Group.objects.create(name="billing-team")))
    page = client.get("/deployments/d-RESEND001/")
    assert ">Resend</button>" not in page.content.decode()
    assert "Only members of the storefront-team team or staff" in text(page)
    response = client.post(
        "/deployments/d-RESEND001/resend/", {"event": "failed", "setup": setup.pk}
    )
    assert response.status_code == 403
    assert "may resend" in text(response)
    delivery = store.delivery_get(DeliveryKey("d-RESEND001", "failed", setup.pk))
    assert (delivery.state, delivery.attempts) == ("failed", 1)


def test_staff_may_resend_for_any_team(client, store, team, newrelic):
    _, (setup,) = register("storefront", team=team)
    newrelic.add_application("web", 7)
    failed_deployment(store, setup)
    client.force_login(user("operator", staff=True))
    client.post("/deployments/d-RESEND001/resend/", {"event": "failed", "setup": setup.pk})
    delivery = store.delivery_get(DeliveryKey("d-RESEND001", "failed", setup.pk))
    assert delivery.attempts == 2


def test_resend_needs_post_and_a_csrf_token(team, store):
    _, (setup,) = register("storefront", team=team)
    failed_deployment(store, setup)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user("alice", team=team))
    assert browser.get("/deployments/d-RESEND001/resend/").status_code == 405
    response = browser.post(
        "/deployments/d-RESEND001/resend/", {"event": "failed", "setup": setup.pk}
    )
    assert response.status_code == 403
    delivery = store.delivery_get(DeliveryKey("d-RESEND001", "failed", setup.pk))
    assert delivery.attempts == 1


def test_resending_a_pending_notification_is_refused_with_the_reason(member, store, team):
    _, (setup,) = register("storefront", team=team)
    event = seed(store, "d-PENDING01", "storefront", None, status="Failed")
    seed_delivery(store, event, setup)
    response = member.post(
        "/deployments/d-PENDING01/resend/", {"event": "failed", "setup": setup.pk}, follow=True
    )
    assert "Not resent: this notification is already waiting to be sent." in text(response)


# --- application, dashboard, status ------------------------------------------------------


def test_the_application_page_sums_up_releases_and_setups(member, store, team):
    registration, (good, bad) = register("storefront", team=team, nr_apps=("web", "gone"))
    seed(store, "d-APP000001", "storefront", good, minutes_ago=30, seconds=60)
    seed(store, "d-APP000002", "storefront", good, minutes_ago=20, seconds=120)
    seed(
        store,
        "d-APP000003",
        "storefront",
        bad,
        status="Failed",
        minutes_ago=10,
        seconds=300,
        outcome=failed(),
    )
    page = text(member.get("/applications/storefront/"))
    assert "67%" in page and "2 of 3 finished" in page
    assert "2 min 0 s" in page  # the median of 60, 120 and 300 seconds
    assert "Deployments per week" in page and "<svg" in page
    assert re.search(r"<title>\d\d \w\w\w: 3 deployments</title>", page)  # this week
    assert "New Relic marker on gone" in page
    assert "Failing:" in page and "New Relic has no application named" in page
    assert "correct the name or URL in this setup" in page
    assert f'href="/admin/registrations/registration/{registration.pk}/change/"' in page


def test_the_dashboard_draws_its_charts_without_any_external_script(member, store, team):
    _, (setup,) = register("storefront", team=team)
    seed(store, "d-DASH00001", "storefront", setup, minutes_ago=30, outcome=delivered(100))
    seed(
        store, "d-DASH00002", "storefront", setup, status="Failed", minutes_ago=20, outcome=failed()
    )
    response = member.get("/dashboard/")
    page = text(response)
    assert page.count("<svg") == 3
    assert "<script" not in page and "cdn" not in page.lower()
    assert "50% (1 of 2)" in page  # change failure rate of storefront
    assert "p50 100 ms" in page and "p95 100 ms" in page
    assert "Setups failing now" in page and "New Relic marker on web" in page


def test_the_status_page_shows_lag_the_last_aws_error_and_queue_depth(member, store, team):
    _, (setup,) = register("storefront", team=team)
    event = seed(store, "d-QUEUE0001", "storefront", None)
    seed_delivery(store, event, setup)
    store.poll_state_save(
        PollState(
            last_success=timezone.now() - timedelta(minutes=30),
            last_error="AWS denied codedeploy:BatchGetDeployments. Add it to the IAM policy of the "
            "service's role (see docs/iam-policy.json).",
            last_error_at=timezone.now(),
        )
    )
    page = text(member.get("/status/"))
    assert "The poller has not succeeded for 30 min." in page
    assert "AWS denied codedeploy:BatchGetDeployments. Add it to the IAM policy" in page
    assert re.search(r"Notifications waiting</dt><dd>1 ", page)
    assert re.search(r"Task queue</dt><dd>0 ", page)


def test_valid_filters_still_apply_beside_a_wrong_one(member, store):
    register("storefront")
    register("billing")
    seed(store, "d-KEEP00001", "storefront", None)
    seed(store, "d-DROP00001", "billing", None)
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = member.get(
        "/", {"application": "storefront", "since": tomorrow, "until": "2020-01-01"}
    )
    assert "To date: the to date must be on or after the from date" in text(response)
    assert deployment_ids(response) == []  # since applies; until is refused
    response = member.get("/", {"application": "storefront", "since": "yesterday"})
    assert deployment_ids(response) == ["d-KEEP00001"]


def test_without_a_history_database_the_dashboard_asks_for_the_mirror(member, monkeypatch):
    without_a_history_database(monkeypatch)
    page = text(member.get("/dashboard/"))
    assert "The charts need the audit mirror." in page
    assert "<svg" not in page


def test_charts_escape_every_name():
    from notifier.history import charts

    svg = charts.horizontal_bars([("<script>x</script>", 0.5, "50% & more")], label="a <b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "50% &amp; more" in svg and 'aria-label="a &lt;b&gt;"' in svg


def test_a_superseded_notification_reads_as_superseded_not_failed(member, store, team):
    _, (setup,) = register("storefront", team=team)
    event = seed(store, "d-SUPER0001", "storefront", setup, status="Succeeded")
    seed(store, "d-OTHER0001", "storefront", setup, status="Succeeded", minutes_ago=20)
    why = "Superseded: the deployment had already succeeded when this was due"
    superseded = AttemptOutcome(
        state=SUPERSEDED,
        started_at=timezone.now(),
        latency_ms=0,
        error=why,
        error_code="superseded",
    )
    seed_delivery(store, event, setup, outcomes=[superseded], event_name="started")

    listed = member.get("/", {"outcome": "superseded"})
    assert deployment_ids(listed) == ["d-SUPER0001"]
    assert "Superseded (the outcome was already sent)" in text(member.get("/"))
    assert deployment_ids(member.get("/", {"outcome": "failed"})) == []
    page = text(member.get("/deployments/d-SUPER0001/"))
    assert 'class="badge d-superseded">superseded' in page
    assert why in page
