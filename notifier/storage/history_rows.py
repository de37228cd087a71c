"""What a HistoryReader (notifier/storage/base.py) takes and returns: plain dataclasses the
history pages render, the same whichever backend answered."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime

from channels.registry import short_label_for

# The calendar the history pages accept, in dates and in cursors: wide enough for any real
# deployment (CodeDeploy dates from 2014), narrow enough that a day either side of an end, in
# any time zone (UTC-12 to UTC+14), is still a datetime Python and the databases can hold.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(9998, 12, 31)

Position = tuple[datetime, str]  # (create_time, deployment_id) of a row the list paged at


@dataclass(frozen=True)
class HistoryFilters:
    """What a person asked the deployment list for; empty values mean "any".

    `source` is the name a person chose; the form resolves it into `account` and `region`,
    which are what a reader filters on (a source is an account and a region)."""

    application: str = ""
    deployment_group: str = ""
    status: str = ""
    event: str = ""
    kind: str = ""
    outcome: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    deployed_by: str = ""
    source: str = ""
    account: str = ""
    region: str = ""

    LABELS = {
        "deployment_group": "deployment group",
        "status": "status",
        "event": "event",
        "kind": "channel",
        "outcome": "delivery outcome",
        "since": "from date",
        "until": "to date",
        "q": "search",
        "deployed_by": "deployed by",
        "source": "source",
        "account": "account",
        "region": "region",
    }

    def needing_audit_mirror(self) -> list[str]:
        """The names of the filters in use that only a history database can answer."""
        return [name for name in self.LABELS if getattr(self, name)]

    def as_params(self) -> dict[str, str]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


@dataclass(frozen=True)
class DeliverySummary:
    event: str
    kind: str
    state: str
    setup_id: int
    attempts: int
    last_error: str

    @property
    def label(self) -> str:
        """The channel's short name, as the list shows it ("New Relic")."""
        return short_label_for(self.kind)


@dataclass(frozen=True)
class DeploymentRow:
    deployment_id: str
    application: str
    deployment_group: str
    status: str
    creator: str
    revision: str
    revision_url: str
    create_time: datetime | None
    start_time: datetime | None
    duration_seconds: float | None
    deliveries: tuple[DeliverySummary, ...] = ()
    account: str = ""  # the AWS account and region the deployment ran in
    region: str = ""
    deployed_by: str = ""  # DeploymentEvent.started_by


@dataclass(frozen=True)
class PageLink:
    """Where a neighbouring page starts: newer than `after`, older than `before` (keyset
    pages), or page number `page` (numbered pages)."""

    after: Position | None = None
    before: Position | None = None
    page: int | None = None


@dataclass(frozen=True)
class DeploymentRows:
    """One page of the deployment list, newest first."""

    rows: list[DeploymentRow]
    newer: PageLink | None  # None on the newest page
    older: PageLink | None  # None on the oldest page
    ignored_filters: tuple[str, ...] = ()  # names of filters this backend cannot apply
    page_number: int | None = None  # set when pages are numbered


@dataclass(frozen=True)
class LastDelivery:
    """A setup's most recent delivery."""

    state: str
    updated_at: datetime
    deployment_id: str
    last_error: str
    last_error_code: str
    attempts: int


@dataclass(frozen=True)
class PendingCount:
    count: int
    note: str  # what was counted, in words


@dataclass(frozen=True)
class ReleaseStats:
    """How one application's deployments went since a time."""

    total: int
    finished: int
    succeeded: int
    median_duration_seconds: float | None
    per_day: list[tuple[date, int]]  # deployments created per local day (days with any)


@dataclass(frozen=True)
class KindLatency:
    kind: str
    attempts: int
    p50: float
    p95: float


@dataclass(frozen=True)
class DashboardStats:
    per_day: list[tuple[date, str, int]]  # (local day, status, deployments)
    failure_rates: list[tuple[str, int, int]]  # (application, failed, finished)
    latency: list[KindLatency]  # delivered attempts' latency in ms, by kind
    per_source: list[tuple[str, str, int, int]] = field(default_factory=list)
    # (account, region, deployments, failed) since the window's start, most deployments first


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (what PostgreSQL's percentile_disc gives); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


@dataclass
class PushQueueStats:
    """What one push queue (an SQS queue EventBridge feeds) has done, over every node that
    consumes it: messages received, acted on (they made or confirmed a notification) and
    ignored by reason (`malformed`, `unknown_detail_type`, `unregistered_application`,
    `unknown_account`, ...), when a receive last completed (even an empty one: the consumer
    is alive), when one last returned messages, and the age of the oldest message in that
    batch (seconds from SQS's SentTimestamp to the receive). `last_error` is the last failed
    receive in words, cleared by the next receive that works."""

    queue_url: str
    received: int = 0
    acted: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    last_receive: datetime | None = None
    last_message_at: datetime | None = None
    oldest_age_seconds: float | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
