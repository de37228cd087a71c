"""Selectors for the history pages: deployments, their notifications, and how releases go.

Rich filtering reads notifier.models rows in the database `history_database()` names
(`default` with the ORM store, `audit` with DynamoDB plus the audit mirror). With DynamoDB
alone there is no such database: the list falls back to Store.deployments_page, which filters
by application only, and the pages say which filters need the audit mirror.

Every function here is a read; the one write the pages make (a resend) is
`delivery_resend`, which goes through the Store and notifier.dispatch like any other send.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from channels import secrets as channel_secrets
from channels.base import ErrorCode
from channels.registry import KINDS, label_for, short_label_for
from notifier import models as m
from notifier.dispatch import delivery_send, holder_name
from notifier.events import STATUSES, TERMINAL_STATUSES, DeploymentEvent, Event
from notifier.ratelimit import rate_limit_take
from notifier.storage import get_store, history_database
from notifier.storage.base import (
    DEAD,
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    DeliveryKey,
    DeploymentRecord,
    PollState,
    Store,
)
from registrations.models import NotificationSetup, Registration
from registrations.teams import registration_editable

PER_PAGE = 50
OUTCOME_LABELS = {
    DELIVERED: "Delivered",
    PENDING: "Waiting or retrying",
    FAILED: "Failed (will not retry)",
    DEAD: "Gave up after retries",
}
NOT_TERMINAL = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)


# --- filters and pages --------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    """What a person asked the deployment list for; empty values mean "any"."""

    application: str = ""
    deployment_group: str = ""
    status: str = ""
    event: str = ""
    kind: str = ""
    outcome: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""

    LABELS = {
        "deployment_group": "deployment group",
        "status": "status",
        "event": "event",
        "kind": "channel",
        "outcome": "delivery outcome",
        "since": "from date",
        "until": "to date",
        "q": "search",
    }

    def needing_history_database(self) -> list[str]:
        """The filters in use that only the history database can answer (by label)."""
        return [label for name, label in self.LABELS.items() if getattr(self, name)]

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
    label: str
    state: str
    setup_id: int
    attempts: int
    last_error: str


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


@dataclass(frozen=True)
class HistoryPage:
    rows: list[DeploymentRow]
    newer: dict[str, str] | None  # query parameters of the newer page, None on the newest
    older: dict[str, str] | None  # query parameters of the older page, None on the oldest
    unsupported_filters: list[str] = field(default_factory=list)  # ignored: no audit mirror
    page_number: int | None = None  # only without a history database (numbered pages)


# The calendar the history pages accept, in dates and in cursors: wide enough for any real
# deployment (CodeDeploy dates from 2014), narrow enough that a day either side of an end, in
# any time zone (UTC-12 to UTC+14), is still a datetime Python and the databases can hold.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(9998, 12, 31)
CURSOR_MAX_LENGTH = 512  # a cursor the list made is ~60 characters
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL_CHARACTERS.search(value))


def cursor_encode(create_time: datetime, deployment_id: str) -> str:
    raw = f"{create_time.isoformat()}|{deployment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> tuple[datetime, str] | None:
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


_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{6,}$", re.IGNORECASE)


def _filtered(using: str, filters: HistoryFilters):
    rows = m.Deployment.objects.using(using).filter(create_time__isnull=False)
    if filters.application:
        rows = rows.filter(application=filters.application)
    if filters.deployment_group:
        rows = rows.filter(deployment_group=filters.deployment_group)
    if filters.status:
        rows = rows.filter(status=filters.status)
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


def _event_filter(using: str, rows, event: str):
    """Deployments that produced `event` (notifier.events.events_for_transition's rules)."""
    terminal = {"succeeded": "Succeeded", "failed": "Failed", "stopped": "Stopped"}
    if event in terminal:
        return rows.filter(status=terminal[event])
    changes = m.StatusChange.objects.using(using).filter(deployment=OuterRef("pk"))
    if event == Event.READY:
        return rows.filter(Exists(changes.filter(status="Ready")))
    return rows.filter(Exists(changes.filter(status__in=NOT_TERMINAL)))  # started


def deployment_list(
    *,
    filters: HistoryFilters,
    before: str = "",
    after: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    using: str | None = None,
    store: Store | None = None,
) -> HistoryPage:
    """Deployments newest first, `per_page` at a time.

    With a history database: keyset pages (`before`/`after` are cursors from a previous
    page), so page 5,000 costs what page 1 costs. Without one: Store.deployments_page by
    number, filtered by application only.
    """
    using = using if using is not None else history_database()
    if using is None:
        return _store_list(filters=filters, page=page, per_page=per_page, store=store)
    rows = _filtered(using, filters)
    position = cursor_decode(after or before) if (after or before) else None
    newest_first = not (after and position)
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
    order = ("-create_time", "-deployment_id") if newest_first else ("create_time", "deployment_id")
    chunk = list(
        rows.order_by(*order).values(
            "deployment_id",
            "application",
            "deployment_group",
            "status",
            "creator",
            "revision",
            "create_time",
            "start_time",
            "complete_time",
            "event",
        )[: per_page + 1]
    )
    more = len(chunk) > per_page
    chunk = chunk[:per_page]
    if not newest_first:
        chunk.reverse()
    summaries = _delivery_summaries(using, [r["deployment_id"] for r in chunk])
    items = [_row(r, summaries.get(r["deployment_id"], ())) for r in chunk]
    params = filters.as_params()
    newer = older = None
    if items:
        first, last = items[0], items[-1]
        if (newest_first and position) or (not newest_first and more):
            newer = {**params, "after": cursor_encode(first.create_time, first.deployment_id)}
        if (newest_first and more) or not newest_first:
            older = {**params, "before": cursor_encode(last.create_time, last.deployment_id)}
    return HistoryPage(rows=items, newer=newer, older=older)


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
        revision=values["revision"],
        revision_url=revision.get("url", ""),
        create_time=values["create_time"],
        start_time=values["start_time"],
        duration_seconds=duration,
        deliveries=tuple(deliveries),
    )


def _delivery_summaries(using: str, deployment_ids: list[str]) -> dict[str, list]:
    out: dict[str, list[DeliverySummary]] = defaultdict(list)
    if not deployment_ids:
        return out
    rows = (
        m.Delivery.objects.using(using)
        .filter(deployment_id__in=deployment_ids)
        .order_by("id")
        .values_list(
            "deployment_id", "event", "kind", "state", "setup_id", "attempts", "last_error"
        )
    )
    for deployment_id, event, kind, state, setup_id, attempts, last_error in rows:
        out[deployment_id].append(
            DeliverySummary(
                event, kind, short_label_for(kind), state, setup_id, attempts, last_error
            )
        )
    return out


def _store_list(
    *, filters: HistoryFilters, page: int, per_page: int, store: Store | None
) -> HistoryPage:
    store = store or get_store()
    result = store.deployments_page(
        application=filters.application or None, page=max(1, page), per_page=per_page
    )
    rows = [_row_from_record(record) for record in result.items]
    base = {"application": filters.application} if filters.application else {}
    return HistoryPage(
        rows=rows,
        newer={**base, "page": str(result.number - 1)} if result.number > 1 else None,
        older={**base, "page": str(result.number + 1)} if result.has_next else None,
        unsupported_filters=filters.needing_history_database(),
        page_number=result.number,
    )


def _row_from_record(record: DeploymentRecord) -> DeploymentRow:
    e = record.event
    return DeploymentRow(
        deployment_id=e.deployment_id,
        application=e.application,
        deployment_group=e.deployment_group,
        status=e.status,
        creator=e.creator,
        revision=e.revision.summary,
        revision_url=e.revision.url,
        create_time=e.create_time,
        start_time=e.start_time,
        duration_seconds=e.duration_seconds,
        deliveries=tuple(
            DeliverySummary(
                d.key.event,
                d.kind,
                short_label_for(d.kind),
                d.state,
                d.key.setup_id,
                d.attempts,
                d.last_error,
            )
            for d in record.deliveries
        ),
    )


def filter_choices(*, using: str | None = None) -> dict[str, list]:
    """Values the list's filter menus offer: registered applications and groups seen."""
    applications = list(
        Registration.objects.order_by("codedeploy_application_name").values_list(
            "codedeploy_application_name", flat=True
        )
    )
    kinds = sorted(
        set(NotificationSetup.objects.values_list("kind", flat=True).distinct())
        | set(_registered_kinds())
    )
    return {
        "applications": applications,
        "kinds": [(kind, label_for(kind)) for kind in kinds],
        "statuses": list(STATUSES),
        "events": [(e.value, e.label) for e in Event],
        "outcomes": list(OUTCOME_LABELS.items()),
    }


def _registered_kinds() -> list[str]:
    return list(KINDS)


# --- one deployment -----------------------------------------------------------------------

# Secret shapes channels.secrets.redact does not know: URL credentials, bearer tokens and
# API key headers echoed back in a provider's error text.
_MORE_SECRET_PATTERNS = [
    (re.compile(r"(//[^/\s:@]+:)[^@\s/]+@"), r"\1" + channel_secrets.MASK + "@"),
    (
        re.compile(r"([?&](?:secret|signature|password|routing_key)=)[^&\s\"']+", re.I),
        r"\1" + channel_secrets.MASK,
    ),
    (re.compile(r"((?:Bearer|Token)\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + channel_secrets.MASK),
    (
        re.compile(r"((?:X-Api-Key|Authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.I),
        r"\1" + channel_secrets.MASK,
    ),
]


def known_secrets(setups: list[NotificationSetup]) -> list[str]:
    """Secret values the service holds: its settings', and these setups' secret fields."""
    values = [settings.NEW_RELIC_API_KEY, getattr(settings, "EMAIL_HOST_PASSWORD", "")]
    for setup in setups:
        try:
            values.extend(channel_secrets.secret_values(setup.typed()))
        except (LookupError, NotificationSetup.DoesNotExist):
            continue
    return sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)


def redact(text: str, *, secrets: list[str] = ()) -> str:
    """`text` with secret values and secret-looking parts masked (channels.secrets.redact,
    plus a few shapes providers echo back)."""
    if not text:
        return text
    text = channel_secrets.redact(text, secrets)
    for pattern, replacement in _MORE_SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    seen_at: datetime
    lasted_seconds: float | None  # until the next change (or completion); None: still on


@dataclass(frozen=True)
class DeliveryView:
    key: DeliveryKey
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    history: tuple[Attempt, ...]
    maybe_sent_since: datetime | None = None  # see Delivery.maybe_sent_since


@dataclass
class SetupDeliveries:
    setup_id: int
    kind: str
    label: str
    setup: NotificationSetup | None  # None: deleted since
    name: str = ""
    deliveries: list[DeliveryView] = field(default_factory=list)


@dataclass(frozen=True)
class DeploymentDetail:
    event: DeploymentEvent
    first_seen: datetime
    timeline: list[TimelineEntry]
    setups: list[SetupDeliveries]
    registration: Registration | None
    can_resend: bool


def deployment_detail(*, deployment_id: str, user, store: Store | None = None):
    """One deployment: its timeline with durations and, per setup, every attempt (redacted).

    Returns None when no deployment with this id has been seen.
    """
    store = store or get_store()
    if has_control_characters(deployment_id):  # no such id; PostgreSQL refuses a NUL
        return None
    record = store.deployment_get(deployment_id)
    if record is None:
        return None
    event = record.event
    timeline = []
    changes = list(record.timeline)
    for index, change in enumerate(changes):
        if index + 1 < len(changes):
            until = changes[index + 1].seen_at
        elif change.status in TERMINAL_STATUSES:
            until = None
        else:
            until = timezone.now()
        lasted = (until - change.seen_at).total_seconds() if until else None
        timeline.append(TimelineEntry(change.status, change.seen_at, lasted))
    setup_ids = sorted({d.key.setup_id for d in record.deliveries})
    setups = NotificationSetup.objects.in_bulk(setup_ids)
    secrets = known_secrets(list(setups.values()))
    grouped: dict[int, SetupDeliveries] = {}
    for delivery in record.deliveries:
        setup_id = delivery.key.setup_id
        group = grouped.setdefault(
            setup_id,
            SetupDeliveries(
                setup_id,
                delivery.kind,
                label_for(delivery.kind),
                setups.get(setup_id),
                _setup_name(setups[setup_id]) if setup_id in setups else "",
            ),
        )
        group.deliveries.append(
            DeliveryView(
                key=delivery.key,
                event=delivery.key.event,
                state=delivery.state,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_error=redact(delivery.last_error, secrets=secrets),
                maybe_sent_since=delivery.maybe_sent_since,
                history=tuple(
                    Attempt(
                        a.number,
                        a.state,
                        a.started_at,
                        a.latency_ms,
                        a.response_status,
                        redact(a.error, secrets=secrets),
                        redact(a.detail, secrets=secrets),
                    )
                    for a in delivery.history
                ),
            )
        )
    registration = Registration.objects.filter(
        codedeploy_application_name=event.application
    ).first()
    return DeploymentDetail(
        event=event,
        first_seen=record.first_seen,
        timeline=timeline,
        setups=list(grouped.values()),
        registration=registration,
        can_resend=registration_editable(user=user, registration=registration),
    )


class ResendRefused(Exception):
    """The resend was not allowed (`forbidden`) or not possible; the message says why."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def delivery_resend(*, key: DeliveryKey, user, store: Store | None = None) -> str:
    """Requeue a finished delivery and send it now, as a new attempt. Returns its new state.

    Only the registration's team or staff may. Raises ResendRefused with the reason, or
    RateLimited past NOTIFIER_MANUAL_SENDS_PER_MINUTE resends a minute by this user.
    """
    store = store or get_store()
    delivery = store.delivery_get(key)
    if delivery is None:
        raise ResendRefused(f"there is no {key.event} notification for setup {key.setup_id}")
    setup = NotificationSetup.objects.select_related("registration").filter(pk=key.setup_id).first()
    registration = (
        setup.registration
        if setup
        else Registration.objects.filter(
            codedeploy_application_name=delivery.event.application
        ).first()
    )
    if not registration_editable(user=user, registration=registration):
        raise ResendRefused(
            "only members of the team that owns this registration (or staff) may resend",
            forbidden=True,
        )
    if setup is None:
        raise ResendRefused("the notification setup was deleted; add a new one in the admin")
    if not setup.enabled:
        raise ResendRefused("the notification setup is disabled; enable it in the admin first")
    if delivery.state == PENDING:
        raise ResendRefused("this notification is already waiting to be sent")
    rate_limit_take(user=user, action="resend")  # raises RateLimited
    if not store.delivery_requeue(key):
        raise ResendRefused("this notification is already waiting to be sent")
    state = delivery_send(key, store=store, holder=holder_name())
    return state or PENDING


# --- poller status ------------------------------------------------------------------------


@dataclass(frozen=True)
class PollerHealth:
    healthy: bool
    state: PollState
    lag_seconds: float | None  # since the last successful cycle
    allowed_seconds: float


def poller_health(*, store: Store | None = None, now: datetime | None = None) -> PollerHealth:
    """Is the poller keeping up? Healthy while its last success is recent enough.

    Raises StorageError when the store cannot be read.
    """
    store = store or get_store()
    state = store.poll_state_get()
    now = now or timezone.now()
    allowed = max(120.0, settings.NOTIFIER_POLL_INTERVAL * 10)
    lag = (now - state.last_success).total_seconds() if state.last_success else None
    return PollerHealth(
        healthy=lag is not None and lag <= allowed,
        state=state,
        lag_seconds=lag,
        allowed_seconds=allowed,
    )


@dataclass(frozen=True)
class QueueDepth:
    pending_deliveries: int | None
    pending_note: str
    task_queue: int | None
    task_queue_note: str


def queue_depth(*, using: str | None = None, store: Store | None = None) -> QueueDepth:
    """Notifications waiting to be sent, and tasks waiting in django-q2's queue."""
    using = using if using is not None else history_database()
    if using is not None:
        pending = m.Delivery.objects.using(using).filter(state=PENDING).count()
        pending_note = "waiting or retrying"
    else:
        due = (store or get_store()).deliveries_due(limit=1000)
        pending = len(due)
        pending_note = "due now (at most 1,000 counted)"
    try:
        # Imported here: a broken task-queue configuration is reported on the page.
        from django_q.brokers import get_broker

        tasks, task_note = get_broker().queue_size(), "tasks waiting for a worker"
    except Exception as exc:  # the broker (Redis or the database) is unreachable
        tasks, task_note = None, f"the task queue could not be read: {exc}"
    return QueueDepth(pending, pending_note, tasks, task_note)


# --- setups: how are they doing -----------------------------------------------------------


@dataclass(frozen=True)
class SetupHealth:
    setup: NotificationSetup
    label: str
    last_state: str | None  # None: never notified
    last_at: datetime | None
    last_deployment_id: str
    last_error: str
    failing: bool
    advice: str

    @property
    def name(self) -> str:
        """What the setup does, in words: "New Relic marker on web" (one query)."""
        return _setup_name(self.setup)


FAILURE_ADVICE: dict[str, str] = {
    ErrorCode.BAD_CONFIG: (
        "Correct what the error names: a setting on the service (restart it after changing "
        "the environment) or a field of this setup, then press Resend."
    ),
    ErrorCode.UNDECRYPTABLE: (
        "Enter the secret again in this setup, or give the service its old "
        "NOTIFIER_ENCRYPTION_KEY back."
    ),
    ErrorCode.UNAUTHORIZED: (
        "The provider refused the credentials: check the key or token, then resend."
    ),
    ErrorCode.FORBIDDEN: (
        "The provider accepted the credentials but refused this action: give them the "
        "permission the error names, then resend."
    ),
    ErrorCode.NOT_FOUND: (
        "The provider does not know the target: correct the name or URL in this setup."
    ),
    ErrorCode.TIMEOUT: (
        "The provider did not answer in time: it is retried automatically; if it keeps "
        "happening, check the provider's status."
    ),
    ErrorCode.UNREACHABLE: (
        "The provider could not be reached: check its URL and the network; it is retried."
    ),
    ErrorCode.RATE_LIMITED: (
        "The provider is rate limiting: it is retried automatically with backoff."
    ),
    ErrorCode.SERVER_ERROR: "The provider had an error of its own: it is retried automatically.",
    ErrorCode.BAD_RESPONSE: (
        "The provider's address answered, but not as the provider does (often a proxy's page): "
        "it is retried; if it keeps happening, check the URL and any proxy on the way."
    ),
    ErrorCode.SETUP_DISABLED: (
        "The setup was removed or disabled; nothing more will be sent through it."
    ),
    ErrorCode.INTERNAL: (
        "The service itself failed (see its log): it is retried; report it if it keeps happening."
    ),
}


def failure_advice(*, code: str, kind: str) -> str:
    """What a person can do about a setup's last error, chosen by its ErrorCode."""
    return FAILURE_ADVICE.get(code) or (
        f"Read the error, correct the {label_for(kind)} setup in the admin, "
        "then press Resend on the deployment."
    )


def setup_health(*, setups: list[NotificationSetup], using: str | None = None) -> list[SetupHealth]:
    """Each setup's most recent delivery: one indexed lookup per setup."""
    using = using if using is not None else history_database()
    out = []
    secrets = known_secrets(setups)
    for setup in setups:
        last = None
        if using is not None:
            last = (
                m.Delivery.objects.using(using)
                .filter(setup_id=setup.pk)
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
        state = last["state"] if last else None
        error = redact(last["last_error"], secrets=secrets) if last else ""
        failing = state in (FAILED, DEAD) or bool(state == PENDING and last["attempts"] and error)
        out.append(
            SetupHealth(
                setup=setup,
                label=label_for(setup.kind),
                last_state=state,
                last_at=last["updated_at"] if last else None,
                last_deployment_id=last["deployment_id"] if last else "",
                last_error=error,
                failing=failing,
                advice=failure_advice(code=last["last_error_code"], kind=setup.kind)
                if failing
                else "",
            )
        )
    return out


def _setup_name(setup: NotificationSetup) -> str:
    try:
        return str(setup.typed())
    except (LookupError, NotificationSetup.DoesNotExist):
        return str(setup)


# --- an application -----------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


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
    needs_history_database: bool


def application_summary(
    *, application: str, window_days: int = 90, now: datetime | None = None
) -> ApplicationSummary:
    """Recent deployments, success rate, median duration, weekly rate and setup health."""
    using = history_database()
    now = timezone.localtime(now or timezone.now())
    start = now - timedelta(days=window_days)
    recent = deployment_list(filters=HistoryFilters(application=application), per_page=20)
    weeks = max(1, window_days // 7)
    week_start = now.date() - timedelta(days=7 * weeks - 1)  # the last week ends today
    weekly_counts = [0] * weeks
    if using is not None:
        # Aggregated in the database: an application may deploy thousands of times a quarter.
        rows = m.Deployment.objects.using(using).filter(
            application=application, create_time__gte=start
        )
        counts = rows.aggregate(
            total=Count("pk"),
            finished=Count("pk", filter=Q(status__in=TERMINAL_STATUSES)),
            succeeded=Count("pk", filter=Q(status="Succeeded")),
        )
        total, finished, succeeded = counts["total"], counts["finished"], counts["succeeded"]
        median = _median_duration(using, rows.filter(complete_time__isnull=False))
        per_day = (
            rows.annotate(day=TruncDate("create_time", tzinfo=now.tzinfo))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        days = [(r["day"], r["n"]) for r in per_day]
    else:
        known = [r for r in recent.rows if r.create_time and r.create_time >= start]
        total = len(known)
        finished = sum(1 for r in known if r.status in TERMINAL_STATUSES)
        succeeded = sum(1 for r in known if r.status == "Succeeded")
        median = _percentile([r.duration_seconds for r in known if r.duration_seconds], 0.5)
        days = [(timezone.localtime(r.create_time).date(), 1) for r in known]
    for day, n in days:
        index = (day - week_start).days // 7
        if 0 <= index < weeks:
            weekly_counts[index] += n
    registration = (
        Registration.objects.filter(codedeploy_application_name=application)
        .select_related("team")
        .first()
    )
    setups = list(registration.setups.all()) if registration else []
    return ApplicationSummary(
        application=application,
        registration=registration,
        recent=recent,
        window_days=window_days,
        finished=finished,
        succeeded=succeeded,
        success_rate=succeeded / finished if finished else None,
        median_duration_seconds=median,
        per_week=total / (window_days / 7),
        weekly=[(week_start + timedelta(days=7 * i), n) for i, n in enumerate(weekly_counts)],
        setups=setup_health(setups=setups, using=using),
        needs_history_database=using is None,
    )


def _median_duration(using: str, rows) -> float | None:
    """The median (nearest rank) of complete - start (or create) time, in seconds."""
    duration = ExpressionWrapper(
        F("complete_time") - Coalesce(F("start_time"), F("create_time")),
        output_field=DurationField(),
    )
    if connections[using].vendor == "postgresql":
        median = rows.aggregate(
            median=_PercentileDisc(duration, fraction=0.5, output_field=DurationField())
        )["median"]
        return median.total_seconds() if median is not None else None
    values = [d.total_seconds() for d in rows.annotate(d=duration).values_list("d", flat=True)]
    return _percentile(values, 0.5)


# --- the dashboard ------------------------------------------------------------------------

OUTCOME_BUCKETS = ("Succeeded", "Failed", "Stopped", "Running")


@dataclass(frozen=True)
class Dashboard:
    days: int
    per_day: list[tuple[date, dict[str, int]]]  # oldest first; every day of the window
    failure_rates: list[tuple[str, int, int]]  # (application, failed, finished), worst first
    latency: list[tuple[str, str, int, float, float]]  # (kind, label, attempts, p50, p95) ms
    failing_setups: list[SetupHealth]
    needs_history_database: bool


def dashboard(*, days: int = 30, now: datetime | None = None) -> Dashboard:
    """Deployments per day by outcome, change failure rate per application, notification
    latency per channel kind, and the setups failing now, over the last `days` days."""
    using = history_database()
    now = timezone.localtime(now or timezone.now())
    first_day = now.date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, time.min, now.tzinfo)
    setups = list(NotificationSetup.objects.select_related("registration").order_by("id"))
    failing = [h for h in setup_health(setups=setups, using=using) if h.failing]
    if using is None:
        return Dashboard(days, [], [], [], failing, True)
    recent = m.Deployment.objects.using(using).filter(create_time__gte=start)
    per_day_counts: dict[date, dict[str, int]] = {
        first_day + timedelta(days=i): dict.fromkeys(OUTCOME_BUCKETS, 0) for i in range(days)
    }
    by_day = (
        recent.annotate(day=TruncDate("create_time", tzinfo=now.tzinfo))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in by_day:
        bucket = row["status"] if row["status"] in TERMINAL_STATUSES else "Running"
        if row["day"] in per_day_counts:
            per_day_counts[row["day"]][bucket] += row["n"]
    rates = (
        recent.values("application")
        .annotate(
            failed=Count("pk", filter=Q(status="Failed")),
            finished=Count("pk", filter=Q(status__in=TERMINAL_STATUSES)),
        )
        .filter(finished__gt=0)
        .order_by()
    )
    failure_rates = sorted(
        ((r["application"], r["failed"], r["finished"]) for r in rates),
        key=lambda r: (-r[1] / r[2], r[0]),
    )
    return Dashboard(
        days=days,
        per_day=sorted(per_day_counts.items()),
        failure_rates=failure_rates,
        latency=_latency_by_kind(using, start),
        failing_setups=failing,
        needs_history_database=False,
    )


class _PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: the value `fraction` of the way up the order.

    https://www.postgresql.org/docs/current/functions-aggregate.html#FUNCTIONS-ORDEREDSET-TABLE
    """

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _latency_by_kind(using: str, start: datetime) -> list[tuple[str, str, int, float, float]]:
    """p50 and p95 of delivered attempts' latency per channel kind since `start`.

    PostgreSQL computes the percentiles itself (a month is ~100,000 attempts at scale);
    other databases (SQLite in development) hand the latencies over to Python.
    """
    attempts = m.DeliveryAttempt.objects.using(using).filter(started_at__gte=start, state=DELIVERED)
    if connections[using].vendor == "postgresql":
        rows = (
            attempts.values("delivery__kind")
            .annotate(
                n=Count("pk"),
                p50=_PercentileDisc("latency_ms", fraction=0.5),
                p95=_PercentileDisc("latency_ms", fraction=0.95),
            )
            .order_by("delivery__kind")
        )
        return [
            (r["delivery__kind"], label_for(r["delivery__kind"]), r["n"], r["p50"], r["p95"])
            for r in rows
        ]
    latencies: dict[str, list[float]] = defaultdict(list)
    for kind, latency in attempts.values_list("delivery__kind", "latency_ms").iterator(
        chunk_size=5000
    ):
        latencies[kind].append(latency)
    return [
        (kind, label_for(kind), len(v), _percentile(v, 0.5), _percentile(v, 0.95))
        for kind, v in sorted(latencies.items())
    ]
