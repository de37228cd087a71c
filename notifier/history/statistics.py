"""The dashboard: how releases go across every application."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from channels.registry import label_for
from notifier import storage
from notifier.events import TERMINAL_STATUSES
from notifier.history.setups import SetupHealth, setup_health
from notifier.history.sources import SourceNames
from notifier.storage.base import HistoryReader
from registrations.models import NotificationSetup

OUTCOME_BUCKETS = ("Succeeded", "Failed", "Stopped", "Running")


@dataclass(frozen=True)
class Dashboard:
    days: int
    per_day: list[tuple[date, dict[str, int]]]  # oldest first; every day of the window
    failure_rates: list[tuple[str, int, int]]  # (application, failed, finished), worst first
    latency: list[tuple[str, str, int, float, float]]  # (kind, label, attempts, p50, p95) ms
    failing_setups: list[SetupHealth]
    needs_audit_mirror: bool
    # (source name or "", account, region, deployments, failed), most deployments first
    per_source: list[tuple[str, str, str, int, int]] = field(default_factory=list)


def dashboard(
    *,
    days: int = 30,
    now: datetime | None = None,
    reader: HistoryReader | None = None,
    sources: SourceNames | None = None,
) -> Dashboard:
    """Deployments per day by outcome, change failure rate per application, deployments and
    failures per source, notification latency per channel kind, and the setups failing
    now, over the last `days` days."""
    reader = reader or storage.get_history_reader()
    now = timezone.localtime(now or timezone.now())
    first_day = now.date() - timedelta(days=days - 1)
    setups = list(NotificationSetup.objects.select_related("registration").order_by("id"))
    failing = [h for h in setup_health(setups=setups, reader=reader) if h.failing]
    stats = reader.dashboard_stats(
        since=datetime.combine(first_day, time.min, now.tzinfo), zone=now.tzinfo
    )
    if stats is None:
        return Dashboard(days, [], [], [], failing, True)
    names = sources or SourceNames()
    per_day: dict[date, dict[str, int]] = {
        first_day + timedelta(days=i): dict.fromkeys(OUTCOME_BUCKETS, 0) for i in range(days)
    }
    for day, status, n in stats.per_day:
        bucket = status if status in TERMINAL_STATUSES else "Running"
        if day in per_day:
            per_day[day][bucket] += n
    return Dashboard(
        days=days,
        per_day=sorted(per_day.items()),
        failure_rates=sorted(stats.failure_rates, key=lambda r: (-r[1] / r[2], r[0])),
        latency=[(k.kind, label_for(k.kind), k.attempts, k.p50, k.p95) for k in stats.latency],
        failing_setups=failing,
        needs_audit_mirror=False,
        per_source=[
            (names.name_for(account=account, region=region), account, region, n, failed)
            for account, region, n, failed in stats.per_source
        ],
    )
