"""The deployment list: filters, cursors and pages, newest first.

The rows come from the HistoryReader (notifier.storage.get_history_reader): keyset pages
from a history database, numbered pages filtered by application only with DynamoDB alone,
in which case the page names the filters it ignored (they need the audit mirror).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.registry import KINDS, label_for
from notifier import storage
from notifier.events import STATUSES, Event
from notifier.storage.base import DEAD, DELIVERED, FAILED, PENDING, SUPERSEDED, HistoryReader
from notifier.storage.history_rows import (
    EARLIEST_DATE,
    LATEST_DATE,
    DeploymentRow,
    HistoryFilters,
    PageLink,
    Position,
)
from registrations.models import NotificationSetup, Registration

__all__ = ["EARLIEST_DATE", "LATEST_DATE", "HistoryFilters", "HistoryPage", "deployment_list"]

PER_PAGE = 50
OUTCOME_LABELS = {
    DELIVERED: "Delivered",
    PENDING: "Waiting or retrying",
    FAILED: "Failed (will not retry)",
    DEAD: "Gave up after retries",
    SUPERSEDED: "Superseded (the outcome was already sent)",
}
CURSOR_MAX_LENGTH = 512  # a cursor the list made is ~60 characters
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class HistoryPage:
    rows: list[DeploymentRow]
    newer: dict[str, str] | None  # query parameters of the newer page, None on the newest
    older: dict[str, str] | None  # query parameters of the older page, None on the oldest
    unsupported_filters: list[str] = field(default_factory=list)  # ignored: no audit mirror
    page_number: int | None = None  # only without a history database (numbered pages)


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL_CHARACTERS.search(value))


def cursor_encode(create_time: datetime, deployment_id: str) -> str:
    raw = f"{create_time.isoformat()}|{deployment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> Position | None:
    """The (create_time, deployment_id) a cursor names, or None for a damaged cursor, one
    whose time is outside EARLIEST_DATE..LATEST_DATE, or one whose id holds control
    characters (PostgreSQL refuses a NUL in a query)."""
    if len(value) > CURSOR_MAX_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, _, deployment_id = raw.partition("|")
        parsed = datetime.fromisoformat(when)
        in_utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        return None
    if not deployment_id or in_utc is None or has_control_characters(deployment_id):
        return None
    if not EARLIEST_DATE <= in_utc.date() <= LATEST_DATE:
        return None
    return parsed, deployment_id


def _link(link: PageLink | None, params: dict[str, str]) -> dict[str, str] | None:
    """The query parameters of a neighbouring page."""
    if link is None:
        return None
    if link.page is not None:
        return {**params, "page": str(link.page)}
    if link.after is not None:
        return {**params, "after": cursor_encode(*link.after)}
    return {**params, "before": cursor_encode(*link.before)}


def deployment_list(
    *,
    filters: HistoryFilters,
    before: str = "",
    after: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    reader: HistoryReader | None = None,
) -> HistoryPage:
    """Deployments newest first, `per_page` at a time.

    `before`/`after` are cursors from a previous page's links (keyset pages, so page 5,000
    costs what page 1 costs); a damaged cursor means the newest page. `page` is the number
    of a numbered page (DynamoDB alone).
    """
    reader = reader or storage.get_history_reader()
    position = cursor_decode(after or before) if (after or before) else None
    result = reader.deployment_rows(
        filters=filters,
        before=position if position and not after else None,
        after=position if position and after else None,
        page=page,
        per_page=per_page,
    )
    params = {
        name: value
        for name, value in filters.as_params().items()
        if name not in result.ignored_filters
    }
    return HistoryPage(
        rows=result.rows,
        newer=_link(result.newer, params),
        older=_link(result.older, params),
        unsupported_filters=[HistoryFilters.LABELS[name] for name in result.ignored_filters],
        page_number=result.page_number,
    )


def filter_choices() -> dict[str, list]:
    """Values the list's filter menus offer: registered applications and groups seen."""
    applications = list(
        Registration.objects.order_by("codedeploy_application_name").values_list(
            "codedeploy_application_name", flat=True
        )
    )
    kinds = sorted(
        set(NotificationSetup.objects.values_list("kind", flat=True).distinct()) | set(KINDS)
    )
    return {
        "applications": applications,
        "kinds": [(kind, label_for(kind)) for kind in kinds],
        "statuses": list(STATUSES),
        "events": [(e.value, e.label) for e in Event],
        "outcomes": list(OUTCOME_LABELS.items()),
    }
