"""The Store contract: poll state, the delivery ledger and history reads.

Every backend (`orm`, `dynamodb`) implements `Store` and passes the one contract suite in
tests/notifier/storage/. Methods take and return the dataclasses below, never model
instances or DynamoDB items, so the engine does not know which backend it runs on.

Exactly-once rests on `delivery_claim`: a conditional write that succeeds for one caller
only, with a lease. A holder whose lease expired (it crashed, or hung) loses the delivery
to the next claimer, and its late `delivery_record` is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Protocol, runtime_checkable

from notifier.events import (
    DEAD,
    DELIVERED,
    DELIVERY_STATES,
    FAILED,
    FINAL_STATES,
    PENDING,
    SUPERSEDED,
    DeploymentEvent,
)
from notifier.storage.history_rows import (
    DashboardStats,
    DeploymentRows,
    HistoryFilters,
    LastDelivery,
    PendingCount,
    Position,
    PushQueueStats,
    ReleaseStats,
)
from notifier.storage.in_flight import maybe_sent_since, sending_since

# The delivery states live beside the events (notifier.models needs them, without the storage).
__all__ = [
    "DEAD",
    "DELIVERED",
    "DELIVERY_STATES",
    "FAILED",
    "FINAL_STATES",
    "PENDING",
    "SUPERSEDED",
    "maybe_sent_since",
    "sending_since",
]


class StorageError(Exception):
    """The backend could not be reached or refused a write; nothing was half-done."""


@dataclass(frozen=True)
class DeliveryKey:
    deployment_id: str
    event: str
    setup_id: int

    def __str__(self) -> str:
        return f"{self.deployment_id}/{self.event}/{self.setup_id}"

    @property
    def delivery_id(self) -> str:
        """The delivery's stable id, carried to providers so they can recognise a repeat: a
        UUIDv5 of the key, the same on every retry and resend and in every backend, stored
        nowhere (it is derived)."""
        return str(uuid.uuid5(DELIVERY_ID_NAMESPACE, str(self)))


# Never change it: every delivery id a provider has seen derives from it.
DELIVERY_ID_NAMESPACE = uuid.UUID("5b0d6f0e-2c1a-4c47-9a57-6d1c0de0e1d0")


# The default source's name (registrations.sources.DEFAULT_SOURCE_NAME): its poll state is
# stored under the key the one poll state had before sources.
DEFAULT_SOURCE = "default"


def poll_lease_name(source: str) -> str:
    """The lease a source's poll cycles run under: one poller per source at a time, any
    number of sources at once. The default source's is `poller`, the one lease before sources."""
    return "poller" if source == DEFAULT_SOURCE else f"poll:{source}"


@dataclass
class PollState:
    """Where the poller stands.

    watermark: deployments created before (watermark - overlap) have been listed already.
    pending: deployment id -> last status seen, for registered deployments not yet finished.
    recent_terminal: deployment id -> create time (epoch seconds) of finished deployments
        still inside the listing overlap, so they are not fetched again.
    failing_since: when the current run of failed cycles began (the first failure after a
        success); None after a success. notifier.health reports polling as failing from it.
    last_created: the create time of the newest watched deployment seen; a source is busy
        (polled every NOTIFIER_POLL_INTERVAL) for NOTIFIER_BUSY_WINDOW after it.
    """

    watermark: datetime | None = None
    pending: dict[str, str] = field(default_factory=dict)
    recent_terminal: dict[str, float] = field(default_factory=dict)
    last_success: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    last_created: datetime | None = None


@dataclass(frozen=True)
class Claim:
    key: DeliveryKey
    token: str
    attempt: int  # 1 for the first attempt
    lease_until: datetime
    # Set when the previous claim never recorded an outcome (its sender died, maybe after the
    # provider received the notification): the start of the first such attempt.
    in_flight_since: datetime | None = None


def claim_token(*, holder: str) -> str:
    """A new claim's token: the claimer's name and a random part, unique to this claim, at
    most 64 characters (what every backend stores)."""
    return f"{holder}:{uuid.uuid4().hex}"[:64]


@dataclass(frozen=True)
class AttemptOutcome:
    state: str  # one of DELIVERY_STATES; PENDING means "retry at next_attempt_at"
    started_at: datetime
    latency_ms: int
    response_status: int | None = None
    error: str = ""
    detail: str = ""  # what the provider answered, e.g. a marker id
    next_attempt_at: datetime | None = None
    error_code: str = ""  # a channels.base.ErrorCode value when error is set


@dataclass(frozen=True)
class Attempt:
    number: int
    state: str
    started_at: datetime
    latency_ms: int
    response_status: int | None
    error: str
    detail: str
    error_code: str = ""


@dataclass(frozen=True)
class Delivery:
    key: DeliveryKey
    kind: str
    state: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    last_error: str
    event: DeploymentEvent
    history: tuple[Attempt, ...] = ()
    last_error_code: str = ""
    # Pending after an attempt that may have reached the provider and has no outcome: when
    # that attempt started (history shows "maybe sent" until the next outcome).
    maybe_sent_since: datetime | None = None
    sending_since: datetime | None = None  # an attempt is being sent now, since then

    @property
    def delivery_id(self) -> str:
        return self.key.delivery_id


@dataclass(frozen=True)
class StatusChange:
    status: str
    seen_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    """The latest known state of one deployment, plus the deliveries it caused."""

    event: DeploymentEvent  # the latest DeploymentEvent seen for it
    first_seen: datetime
    updated_at: datetime
    timeline: tuple[StatusChange, ...] = ()
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class Page:
    items: list[DeploymentRecord]
    number: int
    has_next: bool
    total: int | None = None  # None when the backend cannot count cheaply


@runtime_checkable
class Store(Protocol):
    write_concurrency: int
    """How many deployments the poller may store at once, each on its own thread: 1 for a
    database connection, more where every write is an independent request (DynamoDB)."""

    # --- poll state -------------------------------------------------------------------
    def poll_state_get(self, *, source: str = DEFAULT_SOURCE) -> PollState:
        """The saved state of the source named `source` (each source is polled on its own),
        or an empty PollState before its first cycle. The default source's state is kept
        where the single poll state was kept before sources: no data migration."""

    def poll_state_save(self, state: PollState, *, source: str = DEFAULT_SOURCE) -> None: ...

    def lease_acquire(self, name: str, holder: str, *, seconds: float) -> bool:
        """Take or renew the named lease for `holder`; False while another holds it."""

    def lease_release(self, name: str, holder: str) -> None: ...

    # --- push queues ------------------------------------------------------------------
    def push_stats_add(
        self,
        queue_url: str,
        *,
        at: datetime,
        received: int = 0,
        acted: int = 0,
        ignored: dict[str, int] | None = None,
        oldest_age_seconds: float | None = None,
        error: str = "",
    ) -> None:
        """Count one receive of `queue_url` at `at`, atomically (consumers on every node add
        at once, none is lost); with messages it sets last_message_at and oldest_age_seconds;
        `error` records a failed receive, and one without clears it."""

    def push_stats_list(self) -> list[PushQueueStats]:
        """Every push queue's stats, by queue URL."""

    # --- deployments and the ledger ---------------------------------------------------
    def deployment_save(self, event: DeploymentEvent, *, seen_at: datetime) -> None:
        """Record a deployment's latest state (a new status adds a timeline entry); a
        non-terminal state never replaces a terminal one (two consumers may race)."""

    def delivery_create(self, key: DeliveryKey, *, kind: str, event: DeploymentEvent) -> bool:
        """Add a pending delivery; False (and no change) when the key exists already."""

    def delivery_claim(
        self, key: DeliveryKey, *, holder: str, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        """Claim a pending, due delivery whose lease is free or expired: one caller wins.

        The claim records that an attempt is in flight (from `now`, or from the start of an
        earlier attempt that never recorded an outcome); when the previous claim never
        recorded one, the Claim's `in_flight_since` says so, and until the next outcome the
        delivery reads as maybe sent (Delivery.maybe_sent_since)."""

    def delivery_record(self, claim: Claim, outcome: AttemptOutcome) -> bool:
        """Store an attempt and the delivery's new state, ending the in-flight mark; False if
        the claim was lost."""

    def delivery_release(self, claim: Claim) -> bool:
        """Give back a claim whose send never started (the sender is stopping): the delivery
        is due again at once for any sender, its lease is cleared and the attempt the claim
        counted is uncounted; its in-flight mark goes, unless the claim took over an attempt
        in flight (that one may still have been sent). False (and no change) if the claim
        was lost meanwhile."""

    def deliveries_due(self, *, now: datetime | None = None, limit: int = 100) -> list[DeliveryKey]:
        """Pending deliveries that are due and not leased to anyone, oldest first."""

    def delivery_get(self, key: DeliveryKey) -> Delivery | None: ...

    def delivery_requeue(self, key: DeliveryKey) -> bool:
        """Make a finished delivery pending again, due now (a person asked to resend)."""

    # --- history ----------------------------------------------------------------------
    def deployments_page(
        self, *, application: str | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        """Deployments newest first (by create time), with their deliveries."""

    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        """One deployment with its timeline and every delivery's attempts."""


@runtime_checkable
class HistoryReader(Protocol):
    """What the history pages read, from whichever backend holds the history.

    `SqlHistoryReader` (notifier/storage/history_sql.py) answers everything from
    notifier.models rows in one database alias (`default` with the ORM store, `audit` with the
    audit mirror). `StoreHistoryReader` (history_store.py) serves DynamoDB alone: the list
    newest first by application in numbered pages, one deployment with its deliveries, and
    `complete = False` so the pages say which filters and statistics need the audit mirror.
    Every method raises StorageError when the backend cannot be read.
    """

    complete: bool
    """True when every filter and statistic is answered; False: see ignored_filters and
    the methods that return None."""

    database: str | None
    """The Django database alias the history is read from, or None (no SQL database)."""

    def deployment_rows(
        self,
        *,
        filters: HistoryFilters,
        before: Position | None = None,
        after: Position | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> DeploymentRows:
        """Deployments matching `filters`, newest first: older than `before` or newer than
        `after` (keyset pages), or page number `page` where pages are numbered."""

    def deployment_get(self, deployment_id: str) -> DeploymentRecord | None:
        """One deployment with its timeline and every delivery's attempts."""

    def last_delivery(self, *, setup_id: int) -> LastDelivery | None:
        """The setup's most recently updated delivery; None when none is known."""

    def pending_count(self) -> PendingCount:
        """Deliveries waiting to be sent or retried."""

    def release_stats(
        self,
        *,
        application: str,
        since: datetime,
        zone: tzinfo,
        account: str = "",
        region: str = "",
    ) -> ReleaseStats:
        """Counts, median duration and deployments per day (days in `zone`) of one
        application since `since`, in `account` and `region` when given (one source's).
        An incomplete reader counts its newest page only."""

    def dashboard_stats(self, *, since: datetime, zone: tzinfo) -> DashboardStats | None:
        """Deployments per day and status, failure rate per application and latency
        percentiles per channel kind since `since`; None when the reader cannot count."""
