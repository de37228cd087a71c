"""The HistoryReader on notifier.models rows in one Django database alias: `default` for the
ORM store, `audit` for the DynamoDB audit mirror. Keyset pages, every filter, and the
statistics (notifier/storage/history_sql_stats.py) are answered by the database."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from notifier import models as m
from notifier.events import STATUSES, TERMINAL_STATUSES, Event
from notifier.storage import history_sql_stats as stats
from notifier.storage.base import PENDING, DeploymentRecord
from notifier.storage.history_rows import (
    EARLIEST_DATE,
    LATEST_DATE,
    DashboardStats,
    DeliverySummary,
    DeploymentRow,
    DeploymentRows,
    HistoryFilters,
    LastDelivery,
    PageLink,
    PendingCount,
    Position,
    ReleaseStats,
)
from notifier.storage.orm import OrmStore

NOT_TERMINAL = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)
_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{6,}$", re.IGNORECASE)
_ROW_FIELDS = (
    "deployment_id",
    "application",
    "deployment_group",
    "status",
    "creator",
    "deployed_by",
    "revision",
    "account",
    "region",
    "create_time",
    "start_time",
    "complete_time",
    "event",
)


def deployments_filtered(using: str, filters: HistoryFilters) -> QuerySet:
    """Deployments with a create time that match every filter in use.

    The search matches a deployment id exactly, or a revision or creator by substring (the
    trigram index of migration 0003 serves it on PostgreSQL).
    """
    rows = m.Deployment.objects.using(using).filter(create_time__isnull=False)
    exact = {
        name: getattr(filters, name)
        for name in ("application", "deployment_group", "status", "account", "region")
        if getattr(filters, name)
    }
    rows = rows.filter(**exact)
    if filters.deployed_by:
        rows = rows.filter(deployed_by__icontains=filters.deployed_by.strip())
    if filters.event:
        rows = _event_filter(using, rows, filters.event)
    if filters.kind or filters.outcome:
        deliveries = m.Delivery.objects.using(using).filter(deployment=OuterRef("pk"))
        if filters.kind:
            deliveries = deliveries.filter(kind=filters.kind)
        if filters.outcome:
            deliveries = deliveries.filter(state=filters.outcome)
        rows = rows.filter(Exists(deliveries))
    tz = timezone.get_current_timezone()
    if filters.since:
        since = max(filters.since, EARLIEST_DATE)  # the form refuses earlier ones by name
        rows = rows.filter(create_time__gte=datetime.combine(since, time.min, tz))
    if filters.until:
        until = min(filters.until, LATEST_DATE)  # the form refuses later ones by name
        end = datetime.combine(until + timedelta(days=1), time.min, tz)
        rows = rows.filter(create_time__lt=end)
    if filters.q:
        q = filters.q.strip()
        if _DEPLOYMENT_ID.match(q):
            rows = rows.filter(deployment_id="d-" + q[2:].upper())
        else:
            rows = rows.filter(
                Q(deployment_id=q) | Q(revision__icontains=q) | Q(creator__icontains=q)
            )
    return rows


def _event_filter(using: str, rows: QuerySet, event: str) -> QuerySet:
    """Deployments that produced `event` (notifier.events.events_for_transition's rules)."""
    terminal = {"succeeded": "Succeeded", "failed": "Failed", "stopped": "Stopped"}
    if event in terminal:
        return rows.filter(status=terminal[event])
    changes = m.StatusChange.objects.using(using).filter(deployment=OuterRef("pk"))
    if event == Event.READY:
        return rows.filter(Exists(changes.filter(status="Ready")))
    return rows.filter(Exists(changes.filter(status__in=NOT_TERMINAL)))  # started


def _row(values: dict[str, Any], deliveries) -> DeploymentRow:
    revision = (values.get("event") or {}).get("revision") or {}
    begin = values["start_time"] or values["create_time"]
    duration = None
    if begin and values["complete_time"]:
        duration = max(0.0, (values["complete_time"] - begin).total_seconds())
    return DeploymentRow(
        deployment_id=values["deployment_id"],
        application=values["application"],
        deployment_group=values["deployment_group"],
        status=values["status"],
        creator=values["creator"],
        deployed_by=values["deployed_by"],
        revision=values["revision"],
        revision_url=revision.get("url", ""),
        create_time=values["create_time"],
        start_time=values["start_time"],
        duration_seconds=duration,
        deliveries=tuple(deliveries),
        account=values["account"],
        region=values["region"],
    )


class SqlHistoryReader:
    """HistoryReader on the notifier.models tables of the database alias `using`."""

    complete = True

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self.database = using

    def deployment_rows(
        self,
        *,
        filters: HistoryFilters,
        before: Position | None = None,
        after: Position | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> DeploymentRows:
        """Keyset pages: page 5,000 costs what page 1 costs. `page` is not used."""
        rows = deployments_filtered(self.using, filters)
        newest_first = after is None
        position = before if newest_first else after
        if position:
            when, deployment_id = position
            if newest_first:  # older than the cursor
                rows = rows.filter(create_time__lte=when).filter(
                    Q(create_time__lt=when) | Q(deployment_id__lt=deployment_id)
                )
            else:  # newer than the cursor
                rows = rows.filter(create_time__gte=when).filter(
                    Q(create_time__gt=when) | Q(deployment_id__gt=deployment_id)
                )
        order = (
            ("-create_time", "-deployment_id") if newest_first else ("create_time", "deployment_id")
        )
        chunk = list(rows.order_by(*order).values(*_ROW_FIELDS)[: per_page + 1])
        more = len(chunk) > per_page
        chunk = chunk[:per_page]
        if not newest_first:
            chunk.reverse()
        summaries = self._delivery_summaries([r["deployment_id"] for r in chunk])
        items = [_row(r, summaries.get(r["deployment_id"], ())) for r in chunk]
        newer = older = None
        if items:
            first, last = items[0], items[-1]
            if (newest_first and position) or (not newest_first and more):
                newer = PageLink(after=(first.create_time, first.deployment_id))
            if (newest_first and more) or not newest_first:
                older = PageLink(before=(last.create_time, last.deployment_id))
        return DeploymentRows(rows=items, newer=newer, older=older)

    def _delivery_summaries(self, deployment_ids: list[str]) -> dict[str, list[DeliverySummary]]:
        out: dict[str, list[DeliverySummary]] = defaultdict(list)
        if not deployment_ids:
            return out
        rows = (
            m.Delivery.objects.using(self.using)
            .filter(deployment_id__in=deployment_ids)
            .order_by("id")
            .values_list(
                "deployment_id", "event", "kind", "state", "setup_id", "attempts", "last_error"
            )
        )
        for deployment_id, *summary in rows:
            out[deployment_id].append(DeliverySummary(*summary))
        return out

    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        return OrmStore(using=self.using).deployment_get(deployment_id)

    def last_delivery(self, *, setup_id: int) -> LastDelivery | None:
        """One indexed lookup."""
        last = (
            m.Delivery.objects.using(self.using)
            .filter(setup_id=setup_id)
            .order_by("-updated_at")
            .values(
                "state",
                "updated_at",
                "deployment_id",
                "last_error",
                "last_error_code",
                "attempts",
            )
            .first()
        )
        return LastDelivery(**last) if last else None

    def pending_count(self) -> PendingCount:
        count = m.Delivery.objects.using(self.using).filter(state=PENDING).count()
        return PendingCount(count, "waiting or retrying")

    def release_stats(
        self,
        *,
        application: str,
        since: datetime,
        zone: tzinfo,
        account: str = "",
        region: str = "",
    ) -> ReleaseStats:
        return stats.release_stats(
            self.using,
            application=application,
            since=since,
            zone=zone,
            account=account,
            region=region,
        )

    def dashboard_stats(self, *, since: datetime, zone: tzinfo) -> DashboardStats:
        return stats.dashboard_stats(self.using, since=since, zone=zone)
