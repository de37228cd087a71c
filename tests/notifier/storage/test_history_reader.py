"""The HistoryReader contract (notifier/storage/base.py): the same list, detail and statistics
answers from the ORM store on SQLite and on PostgreSQL and from DynamoDB with the audit
mirror; and, from DynamoDB alone, the documented subset (by application, numbered pages, one
deployment) with everything else reported as needing the mirror."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from notifier.storage import get_history_reader
from notifier.storage.base import HistoryReader
from notifier.storage.history_rows import HistoryFilters, PageLink
from notifier.storage.history_sql import SqlHistoryReader
from notifier.storage.history_store import StoreHistoryReader
from notifier.storage.mirror import MirrorStore
from notifier.storage.orm import OrmStore
from tests.notifier.storage.conftest import BACKENDS, HAVE_POSTGRES
from tests.support.databases import POSTGRES_ALIAS
from tests.support.dynamodb import dynamo_store
from tests.support.history import delivered, deployment_event, failed, seed_delivery
from tests.support.history import seed_deployment as seed_timeline
from tests.support.services import POSTGRES_HOW, missing

NEW_RELIC = SimpleNamespace(pk=1, kind="newrelic")
SLACK = SimpleNamespace(pk=2, kind="slack")

# The store fixture's backends, with DynamoDB read through its audit mirror (on PostgreSQL).
ORM_SQLITE, ORM_POSTGRES, _ = BACKENDS
READERS = [ORM_SQLITE, ORM_POSTGRES, pytest.param("dynamodb-mirror", marks=ORM_POSTGRES.marks)]


PROD, STAGING = "111111111111", "222222222222"
# Where each deployment ran: d-A0003 in staging's eu-west-1, d-A0005 in prod's eu-west-1.
SOURCES = {"d-A0003": (STAGING, "eu-west-1"), "d-A0005": (PROD, "eu-west-1")}


def seed(store) -> None:
    """Five deployments of two applications in three account-regions; two share a create
    time."""
    now = timezone.now()
    plan = [
        ("d-A0001", "storefront", "Succeeded", 50, 60, "ana", delivered(100), NEW_RELIC),
        ("d-A0002", "storefront", "Failed", 40, 120, "bob", failed(), NEW_RELIC),
        ("d-A0003", "billing", "Succeeded", 30, 300, "ana", None, None),
        ("d-A0004", "billing", "InProgress", 20, 0, "ana", None, SLACK),
        ("d-A0005", "storefront", "Succeeded", 20, 90, "ana", None, None),
    ]
    for deployment_id, application, status, minutes_ago, seconds, creator, outcome, setup in plan:
        event = deployment_event(
            deployment_id,
            application,
            status=status,
            created=now.replace(microsecond=0) - timedelta(minutes=minutes_ago),
            seconds=seconds,
            creator=creator,
        )
        account, region = SOURCES.get(deployment_id, (PROD, "us-east-1"))
        event = dataclasses.replace(event, account=account, region=region)
        statuses = ("InProgress", "Ready") if deployment_id == "d-A0003" else ("InProgress",)
        seed_timeline(store, event, statuses=statuses if status != "InProgress" else ())
        if setup is not None:
            seed_delivery(store, event, setup, outcomes=[outcome] if outcome else [])


@pytest.fixture(params=READERS)
def reader(request) -> HistoryReader:
    if request.param == "orm-sqlite":
        store, reader = OrmStore(), SqlHistoryReader("default")
    else:
        if not HAVE_POSTGRES:
            missing("PostgreSQL", POSTGRES_HOW)
        store, reader = OrmStore(using=POSTGRES_ALIAS), SqlHistoryReader(POSTGRES_ALIAS)
        if request.param == "dynamodb-mirror":
            request.getfixturevalue("aws")
            store = MirrorStore(primary=dynamo_store(), mirror=store)
    seed(store)
    return reader


@pytest.fixture
def dynamodb_alone(aws, transactional_db) -> HistoryReader:
    store = dynamo_store()
    seed(store)
    return StoreHistoryReader(store)


def ids(result) -> list[str]:
    return [row.deployment_id for row in result.rows]


def test_it_lists_newest_first_and_pages_by_keyset_both_ways(reader):
    assert reader.complete
    first = reader.deployment_rows(filters=HistoryFilters(), per_page=2)
    assert ids(first) == ["d-A0005", "d-A0004"]
    assert first.newer is None and first.ignored_filters == ()
    second = reader.deployment_rows(filters=HistoryFilters(), before=first.older.before, per_page=2)
    assert ids(second) == ["d-A0003", "d-A0002"]
    third = reader.deployment_rows(filters=HistoryFilters(), before=second.older.before, per_page=2)
    assert ids(third) == ["d-A0001"] and third.older is None
    back = reader.deployment_rows(filters=HistoryFilters(), after=third.newer.after, per_page=2)
    assert ids(back) == ["d-A0003", "d-A0002"]
    failed_row = second.rows[1]
    assert (failed_row.application, failed_row.status, failed_row.creator) == (
        "storefront",
        "Failed",
        "bob",
    )
    assert failed_row.duration_seconds == 120
    assert failed_row.revision_url.startswith("https://github.com/acme/storefront/commit/")
    ((summary),) = failed_row.deliveries
    assert (summary.event, summary.kind, summary.state, summary.setup_id) == (
        "failed",
        "newrelic",
        "failed",
        1,
    )
    assert summary.label == "New Relic" and summary.attempts == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (HistoryFilters(application="billing"), ["d-A0004", "d-A0003"]),
        (HistoryFilters(deployment_group="production", status="Failed"), ["d-A0002"]),
        (HistoryFilters(event="ready"), ["d-A0003"]),
        (HistoryFilters(event="failed"), ["d-A0002"]),
        (HistoryFilters(kind="newrelic", outcome="failed"), ["d-A0002"]),
        (HistoryFilters(outcome="pending"), ["d-A0004"]),
        (HistoryFilters(q="d-A0003"), ["d-A0003"]),
        (HistoryFilters(q="BOB"), ["d-A0002"]),
        (HistoryFilters(q="9f1c2d3e", application="storefront"), ["d-A0005", "d-A0002", "d-A0001"]),
        (HistoryFilters(account=STAGING), ["d-A0003"]),
        (HistoryFilters(region="eu-west-1"), ["d-A0005", "d-A0003"]),
        (HistoryFilters(account=PROD, region="us-east-1"), ["d-A0004", "d-A0002", "d-A0001"]),
    ],
)
def test_it_applies_every_filter(reader, filters, expected):
    assert ids(reader.deployment_rows(filters=filters)) == expected


def test_it_filters_by_date(reader):
    today = timezone.localdate()
    assert ids(reader.deployment_rows(filters=HistoryFilters(until=today - timedelta(2)))) == []
    since = HistoryFilters(since=today - timedelta(1), until=today + timedelta(1))
    assert len(ids(reader.deployment_rows(filters=since))) == 5


def test_it_reads_one_deployment_with_its_timeline_and_attempts(reader):
    record = reader.deployment_get("d-A0002")
    assert [c.status for c in record.timeline] == ["InProgress", "Failed"]
    ((delivery),) = record.deliveries
    assert [a.error_code for a in delivery.history] == ["not_found"]
    assert reader.deployment_get("d-NOTHERE1") is None


def test_it_finds_each_setups_last_delivery_and_what_is_pending(reader):
    last = reader.last_delivery(setup_id=NEW_RELIC.pk)
    assert (last.deployment_id, last.state, last.last_error_code) == (
        "d-A0002",
        "failed",
        "not_found",
    )
    assert reader.last_delivery(setup_id=99) is None
    assert reader.pending_count().count == 1


def test_it_counts_releases_and_percentiles(reader):
    since = timezone.now() - timedelta(days=1)
    stats = reader.release_stats(application="storefront", since=since, zone=UTC)
    assert (stats.total, stats.finished, stats.succeeded) == (3, 3, 2)
    assert stats.median_duration_seconds == 90
    assert sum(n for _, n in stats.per_day) == 3
    board = reader.dashboard_stats(since=since, zone=UTC)
    by_status: dict[str, int] = {}
    for _, status, n in board.per_day:
        by_status[status] = by_status.get(status, 0) + n
    assert by_status == {"Succeeded": 3, "Failed": 1, "InProgress": 1}
    assert sorted(board.failure_rates) == [("billing", 0, 1), ("storefront", 1, 3)]
    ((latency),) = board.latency
    assert (latency.kind, latency.attempts, latency.p50, latency.p95) == ("newrelic", 1, 100, 100)


def test_it_reads_each_rows_source_and_counts_per_source(reader):
    since = timezone.now() - timedelta(days=1)
    rows = reader.deployment_rows(filters=HistoryFilters()).rows
    assert [(r.deployment_id, r.account, r.region) for r in rows][:2] == [
        ("d-A0005", PROD, "eu-west-1"),
        ("d-A0004", PROD, "us-east-1"),
    ]
    board = reader.dashboard_stats(since=since, zone=UTC)
    assert board.per_source == [
        (PROD, "us-east-1", 3, 1),
        (PROD, "eu-west-1", 1, 0),
        (STAGING, "eu-west-1", 1, 0),
    ]
    one_source = reader.release_stats(
        application="storefront", since=since, zone=UTC, account=PROD, region="us-east-1"
    )
    assert (one_source.total, one_source.finished, one_source.succeeded) == (2, 2, 1)


# --- DynamoDB alone: the documented subset --------------------------------------------------


def test_dynamodb_alone_lists_by_application_in_numbered_pages_and_names_the_rest(
    dynamodb_alone,
):
    assert not dynamodb_alone.complete and dynamodb_alone.database is None
    filters = HistoryFilters(application="storefront", status="Failed", q="bob")
    first = dynamodb_alone.deployment_rows(filters=filters, per_page=2)
    assert ids(first) == ["d-A0005", "d-A0002"]  # the application applies, nothing else
    assert first.ignored_filters == ("status", "q")
    assert (first.page_number, first.newer, first.older) == (1, None, PageLink(page=2))
    second = dynamodb_alone.deployment_rows(filters=filters, page=2, per_page=2)
    assert ids(second) == ["d-A0001"]
    assert (second.newer, second.older) == (PageLink(page=1), None)
    assert ids(dynamodb_alone.deployment_rows(filters=HistoryFilters()))[:2] == [
        "d-A0005",
        "d-A0004",
    ]


def test_dynamodb_alone_reads_one_deployment_and_counts_only_its_newest(dynamodb_alone):
    record = dynamodb_alone.deployment_get("d-A0002")
    assert [c.status for c in record.timeline] == ["InProgress", "Failed"]
    assert [d.state for d in record.deliveries] == ["failed"]
    assert dynamodb_alone.last_delivery(setup_id=NEW_RELIC.pk) is None
    assert dynamodb_alone.pending_count().count == 1
    since = timezone.now() - timedelta(days=1)
    stats = dynamodb_alone.release_stats(application="storefront", since=since, zone=UTC)
    assert (stats.total, stats.finished, stats.succeeded) == (3, 3, 2)
    assert stats.median_duration_seconds == 90
    assert dynamodb_alone.dashboard_stats(since=since, zone=UTC) is None


def test_one_function_chooses_the_reader(settings, monkeypatch, aws):
    settings.NOTIFIER_STORAGE = "orm"
    assert isinstance(get_history_reader(), SqlHistoryReader)
    assert get_history_reader().database == "default"
    settings.NOTIFIER_STORAGE = "dynamodb"
    assert isinstance(get_history_reader(), StoreHistoryReader)
    monkeypatch.setitem(settings.DATABASES, "audit", settings.DATABASES["default"])
    assert get_history_reader().database == "audit"


def test_dynamodb_alone_says_the_source_filters_need_the_mirror(dynamodb_alone):
    filters = HistoryFilters(source="prod-eu", account=PROD, region="eu-west-1")
    result = dynamodb_alone.deployment_rows(filters=filters)
    assert result.ignored_filters == ("source", "account", "region")
    assert ids(result)[0] == "d-A0005"  # every deployment, newest first
