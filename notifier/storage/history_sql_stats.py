"""Release statistics on notifier.models rows, aggregated in the database: an application
may deploy thousands of times a quarter, and a month is ~100,000 attempts at scale.

PostgreSQL computes percentiles itself (percentile_disc); other databases (SQLite in
development) hand the values over to Python's nearest-rank `percentile`, which agrees.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce, TruncDate

from notifier import models as m
from notifier.events import TERMINAL_STATUSES
from notifier.storage.base import DELIVERED
from notifier.storage.history_rows import DashboardStats, KindLatency, ReleaseStats, percentile


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: the value `fraction` of the way up the order.

    https://www.postgresql.org/docs/current/functions-aggregate.html#FUNCTIONS-ORDEREDSET-TABLE
    """

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _on_postgres(using: str) -> bool:
    return connections[using].vendor == "postgresql"


def release_stats(
    using: str,
    *,
    application: str,
    since: datetime,
    zone: tzinfo,
    account: str = "",
    region: str = "",
) -> ReleaseStats:
    rows = m.Deployment.objects.using(using).filter(application=application, create_time__gte=since)
    if account:
        rows = rows.filter(account=account)
    if region:
        rows = rows.filter(region=region)
    counts = rows.aggregate(
        total=Count("pk"),
        finished=Count("pk", filter=Q(status__in=TERMINAL_STATUSES)),
        succeeded=Count("pk", filter=Q(status="Succeeded")),
    )
    per_day = (
        rows.annotate(day=TruncDate("create_time", tzinfo=zone))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return ReleaseStats(
        total=counts["total"],
        finished=counts["finished"],
        succeeded=counts["succeeded"],
        median_duration_seconds=_median_duration(using, rows.filter(complete_time__isnull=False)),
        per_day=sorted((r["day"], r["n"]) for r in per_day),
    )


def _median_duration(using: str, rows: QuerySet) -> float | None:
    """The median (nearest rank) of complete - start (or create) time, in seconds."""
    duration = ExpressionWrapper(
        F("complete_time") - Coalesce(F("start_time"), F("create_time")),
        output_field=DurationField(),
    )
    if _on_postgres(using):
        median = rows.aggregate(
            median=PercentileDisc(duration, fraction=0.5, output_field=DurationField())
        )["median"]
        return median.total_seconds() if median is not None else None
    values = [d.total_seconds() for d in rows.annotate(d=duration).values_list("d", flat=True)]
    return percentile(values, 0.5)


def dashboard_stats(using: str, *, since: datetime, zone: tzinfo) -> DashboardStats:
    recent = m.Deployment.objects.using(using).filter(create_time__gte=since)
    by_day = (
        recent.annotate(day=TruncDate("create_time", tzinfo=zone))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rates = (
        recent.values("application")
        .annotate(
            failed=Count("pk", filter=Q(status="Failed")),
            finished=Count("pk", filter=Q(status__in=TERMINAL_STATUSES)),
        )
        .filter(finished__gt=0)
        .order_by()
    )
    by_source = (
        recent.values("account", "region")
        .annotate(n=Count("pk"), failed=Count("pk", filter=Q(status="Failed")))
        .order_by("-n", "account", "region")
    )
    return DashboardStats(
        per_day=[(r["day"], r["status"], r["n"]) for r in by_day],
        failure_rates=[(r["application"], r["failed"], r["finished"]) for r in rates],
        latency=latency_by_kind(using, since=since),
        per_source=[(r["account"], r["region"], r["n"], r["failed"]) for r in by_source],
    )


def latency_by_kind(using: str, *, since: datetime) -> list[KindLatency]:
    """p50 and p95 of delivered attempts' latency (ms) per channel kind since `since`."""
    attempts = m.DeliveryAttempt.objects.using(using).filter(started_at__gte=since, state=DELIVERED)
    if _on_postgres(using):
        rows = (
            attempts.values("delivery__kind")
            .annotate(
                n=Count("pk"),
                p50=PercentileDisc("latency_ms", fraction=0.5),
                p95=PercentileDisc("latency_ms", fraction=0.95),
            )
            .order_by("delivery__kind")
        )
        return [KindLatency(r["delivery__kind"], r["n"], r["p50"], r["p95"]) for r in rows]
    latencies: dict[str, list[float]] = defaultdict(list)
    for kind, latency in attempts.values_list("delivery__kind", "latency_ms").iterator(
        chunk_size=5000
    ):
        latencies[kind].append(latency)
    return [
        KindLatency(kind, len(v), percentile(v, 0.5), percentile(v, 0.95))
        for kind, v in sorted(latencies.items())
    ]
