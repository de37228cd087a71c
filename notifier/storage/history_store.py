"""The HistoryReader for DynamoDB alone (no audit mirror): only what a Store can read.

A Store lists deployments newest first, by application, in numbered pages, and reads one
deployment with its deliveries. Every other filter is reported back as ignored, the
statistics cover the newest deployments only, and the dashboard has none: the pages say
that those need the audit mirror (AUDIT_DATABASE_URL).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from notifier.events import TERMINAL_STATUSES
from notifier.storage.base import DeploymentRecord, Store
from notifier.storage.history_rows import (
    DeliverySummary,
    DeploymentRow,
    DeploymentRows,
    HistoryFilters,
    LastDelivery,
    PageLink,
    PendingCount,
    Position,
    ReleaseStats,
    percentile,
)

STATS_SAMPLE = 20  # the newest deployments release_stats counts
PENDING_COUNTED = 1000  # deliveries_due is asked for at most this many


def row_from_record(record: DeploymentRecord) -> DeploymentRow:
    e = record.event
    return DeploymentRow(
        deployment_id=e.deployment_id,
        application=e.application,
        deployment_group=e.deployment_group,
        status=e.status,
        creator=e.creator,
        deployed_by=e.started_by,
        revision=e.revision.summary,
        revision_url=e.revision.url,
        create_time=e.create_time,
        start_time=e.start_time,
        duration_seconds=e.duration_seconds,
        deliveries=tuple(
            DeliverySummary(d.key.event, d.kind, d.state, d.key.setup_id, d.attempts, d.last_error)
            for d in record.deliveries
        ),
        account=e.account,
        region=e.region,
    )


class StoreHistoryReader:
    """HistoryReader over any Store's history reads (used for DynamoDB alone)."""

    complete = False
    database = None

    def __init__(self, store: Store) -> None:
        self.store = store

    def deployment_rows(
        self,
        *,
        filters: HistoryFilters,
        before: Position | None = None,
        after: Position | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> DeploymentRows:
        """Numbered pages filtered by application only; `before`/`after` are not used."""
        result = self.store.deployments_page(
            application=filters.application or None, page=max(1, page), per_page=per_page
        )
        return DeploymentRows(
            rows=[row_from_record(record) for record in result.items],
            newer=PageLink(page=result.number - 1) if result.number > 1 else None,
            older=PageLink(page=result.number + 1) if result.has_next else None,
            ignored_filters=tuple(filters.needing_audit_mirror()),
            page_number=result.number,
        )

    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        return self.store.deployment_get(deployment_id)

    def last_delivery(self, *, setup_id: int) -> LastDelivery | None:
        """Not known: finding it would read every delivery."""
        return None

    def pending_count(self) -> PendingCount:
        due = self.store.deliveries_due(limit=PENDING_COUNTED)
        return PendingCount(len(due), f"due now (at most {PENDING_COUNTED:,} counted)")

    def release_stats(
        self,
        *,
        application: str,
        since: datetime,
        zone: tzinfo,
        account: str = "",
        region: str = "",
    ) -> ReleaseStats:
        """Counted over the application's newest STATS_SAMPLE deployments only (of every
        source; those of `account` and `region` among them when given)."""
        newest = self.store.deployments_page(application=application, per_page=STATS_SAMPLE)
        known = [
            row_from_record(r)
            for r in newest.items
            if r.event.create_time
            and r.event.create_time >= since
            and (not account or r.event.account == account)
            and (not region or r.event.region == region)
        ]
        per_day: dict[date, int] = {}
        for row in known:
            day = row.create_time.astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + 1
        return ReleaseStats(
            total=len(known),
            finished=sum(1 for r in known if r.status in TERMINAL_STATUSES),
            succeeded=sum(1 for r in known if r.status == "Succeeded"),
            median_duration_seconds=percentile(
                [r.duration_seconds for r in known if r.duration_seconds], 0.5
            ),
            per_day=sorted(per_day.items()),
        )

    def dashboard_stats(self, *, since: datetime, zone: tzinfo) -> None:
        """None: the dashboard needs the audit mirror."""
        return None
