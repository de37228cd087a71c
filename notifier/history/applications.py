"""An application's page: its recent deployments, how its releases go, its setups' health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from notifier import storage
from notifier.history.listing import HistoryPage, deployment_list
from notifier.history.setups import SetupHealth, setup_health
from notifier.history.sources import SourceLabel, SourceNames
from notifier.storage.base import HistoryReader
from notifier.storage.history_rows import DeploymentRow, HistoryFilters
from registrations.models import Registration

RECENT = 20  # deployments listed on the page


@dataclass(frozen=True)
class ApplicationSummary:
    application: str
    registration: Registration | None
    recent: HistoryPage
    window_days: int
    finished: int
    succeeded: int
    success_rate: float | None  # succeeded / finished in the window
    median_duration_seconds: float | None
    per_week: float  # deployments per week over the window
    weekly: list[tuple[date, int]]  # deployments per week, oldest first
    setups: list[SetupHealth]
    needs_audit_mirror: bool  # the figures cover the newest deployments only
    source: SourceLabel | None = None  # the source chosen (?source=); None: every source
    rows: list[tuple[DeploymentRow, str]] = field(default_factory=list)  # (row, source name)
    sources: list[SourceLabel] = field(default_factory=list)  # sources registering it


def _registrations(*, application: str, source: SourceLabel | None):
    """The registrations of `application`: in `source` only, or in every source."""
    rows = Registration.objects.filter(codedeploy_application_name=application)
    if source is not None:
        rows = rows.filter(source__name=source.name)
    return rows.select_related("team", "source")


def application_summary(
    *,
    application: str,
    window_days: int = 90,
    now: datetime | None = None,
    reader: HistoryReader | None = None,
    source: SourceLabel | None = None,
    sources: SourceNames | None = None,
) -> ApplicationSummary:
    """Recent deployments, success rate, median duration, weekly rate and setup health.

    Two sources can hold applications of the same name: with `source`, the page covers that
    source's deployments and registration only; without it, every source's, each row
    naming its source."""
    reader = reader or storage.get_history_reader()
    sources = sources or SourceNames()
    now = timezone.localtime(now or timezone.now())
    account, region = (source.account, source.region) if source else ("", "")
    recent = deployment_list(
        filters=HistoryFilters(
            application=application,
            source=source.name if source else "",
            account=account,
            region=region,
        ),
        per_page=RECENT,
        reader=reader,
    )
    stats = reader.release_stats(
        application=application,
        since=now - timedelta(days=window_days),
        zone=now.tzinfo,
        account=account,
        region=region,
    )
    registrations = _registrations(application=application, source=source)
    registered_in = {r.source.name for r in registrations}
    registration = registrations.first()
    setups = list(registration.setups.all()) if registration else []
    return ApplicationSummary(
        application=application,
        registration=registration,
        recent=recent,
        window_days=window_days,
        finished=stats.finished,
        succeeded=stats.succeeded,
        success_rate=stats.succeeded / stats.finished if stats.finished else None,
        median_duration_seconds=stats.median_duration_seconds,
        per_week=stats.total / (window_days / 7),
        weekly=weekly_counts(stats.per_day, today=now.date(), weeks=max(1, window_days // 7)),
        setups=setup_health(setups=setups, reader=reader),
        needs_audit_mirror=not reader.complete,
        source=source,
        rows=[
            (row, sources.name_for(account=row.account, region=row.region)) for row in recent.rows
        ],
        sources=[s for s in sources.labels if s.name in registered_in],
    )


def weekly_counts(per_day: list[tuple[date, int]], *, today: date, weeks: int):
    """Counts per day summed into `weeks` weeks, the last one ending `today`, oldest first."""
    week_start = today - timedelta(days=7 * weeks - 1)
    counts = [0] * weeks
    for day, n in per_day:
        index = (day - week_start).days // 7
        if 0 <= index < weeks:
            counts[index] += n
    return [(week_start + timedelta(days=7 * i), n) for i, n in enumerate(counts)]
