"""The history selectors on PostgreSQL (the audit mirror's database, and production's)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import timedelta

import pytest
from django.utils import timezone

from notifier import history
from notifier.storage.history_rows import percentile
from notifier.storage.history_sql import SqlHistoryReader
from notifier.storage.history_sql_stats import latency_by_kind
from notifier.storage.orm import OrmStore
from tests.support.databases import POSTGRES_ALIAS, add_postgres_alias
from tests.support.history import (
    delivered,
    deployment_event,
    failed,
    register,
    seed_delivery,
    seed_deployment,
)
from tests.support.services import POSTGRES_HOW, missing

HAVE_POSTGRES = add_postgres_alias()
DATABASES = ["default", POSTGRES_ALIAS] if HAVE_POSTGRES else ["default"]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases=DATABASES)]


@pytest.fixture
def store() -> OrmStore:
    if not HAVE_POSTGRES:
        missing("PostgreSQL", POSTGRES_HOW)
    return OrmStore(using=POSTGRES_ALIAS)


def test_filters_and_keyset_pages_work_on_postgres(store):
    _, (setup,) = register("storefront")
    now = timezone.now()
    for n in range(5):
        event = deployment_event(
            f"d-PG{n:07d}",
            "storefront",
            status="Failed" if n % 2 else "Succeeded",
            created=now - timedelta(minutes=n),
        )
        seed_deployment(store, event)
        seed_delivery(store, event, setup, outcomes=[failed() if n % 2 else delivered()])

    def ids(filters, **kw):
        page = history.deployment_list(
            filters=filters, reader=SqlHistoryReader(POSTGRES_ALIAS), per_page=2, **kw
        )
        return [r.deployment_id for r in page.rows], page

    first, page = ids(history.HistoryFilters())
    assert first == ["d-PG0000000", "d-PG0000001"]
    second, _ = ids(history.HistoryFilters(), before=page.older["before"])
    assert second == ["d-PG0000002", "d-PG0000003"]
    failing, _ = ids(history.HistoryFilters(outcome="failed", kind="newrelic"))
    assert failing == ["d-PG0000001", "d-PG0000003"]
    started, _ = ids(history.HistoryFilters(event="started", q="d-pg0000004"))
    assert started == ["d-PG0000004"]


def test_postgres_percentiles_match_the_python_ones(store):
    _, (setup,) = register("storefront")
    latencies = [40, 55, 70, 90, 120, 150, 200, 400, 800, 1500]
    for n, latency in enumerate(latencies):
        event = deployment_event(f"d-LAT{n:06d}", "storefront")
        seed_deployment(store, event)
        seed_delivery(store, event, setup, outcomes=[delivered(latency)])
    since = timezone.now() - timedelta(days=1)
    ((kind, count, p50, p95),) = map(astuple, latency_by_kind(POSTGRES_ALIAS, since=since))
    assert (kind, count) == ("newrelic", 10)
    assert (p50, p95) == (
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
    )
    assert (p50, p95) == (120, 1500)
