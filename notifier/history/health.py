"""Is the service keeping up: the poller's lag, what is waiting to be sent, and what each
push queue has received."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from datetime import datetime

import boto3
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from notifier import storage
from notifier.health import (
    POLLING,
    PollHealth,
    poll_health_now,
    poll_health_read,
    sources_health,
)
from notifier.poll_errors import AWS_CREDENTIALS, AWS_REGION
from notifier.push_health import IGNORED_REASONS, PushStatus, age_text, push_status
from notifier.storage.base import DEFAULT_SOURCE, HistoryReader, Store
from notifier.storage.history_rows import PushQueueStats
from registrations.sources import Source


def polled_source_names() -> list[str]:
    """The names of the sources the service polls: the enabled ones, the default first (and
    the default's name while its row is not created yet: it is polled all the same)."""
    rows = list(Source.objects.values_list("name", "enabled", "is_default"))
    names = [name for name, enabled, _ in rows if enabled]
    if not any(is_default for _, _, is_default in rows):
        names.insert(0, DEFAULT_SOURCE)
    return names


def pushed_source_names() -> frozenset[str]:
    """The enabled sources with a push queue: polled only to reconcile, so their polls are
    as far apart as NOTIFIER_RECONCILE_INTERVAL without being late."""
    rows = Source.objects.filter(enabled=True).exclude(queue_url="")
    return frozenset(rows.values_list("name", flat=True))


def poller_health(*, store: Store | None = None, now: datetime | None = None) -> PollHealth:
    """Is polling keeping up, for every enabled source? See notifier.health. Raises
    StorageError when the store cannot be read."""
    store = store or storage.get_store()
    states = {name: store.poll_state_get(source=name) for name in polled_source_names()}
    return sources_health(states=states, now=now or timezone.now(), pushed=pushed_source_names())


def healthz_health() -> PollHealth:
    """/healthz's answer: every enabled source's polling, read through the health store
    (one short try); a database or store that cannot be read is "storage" failing. Before
    the first poll, AWS settings missing from the environment are "not configured" at once."""
    try:
        names, pushed = polled_source_names(), pushed_source_names()
    except DatabaseError as exc:
        return poll_health_now(state=None, now=timezone.now(), storage_error=str(exc))
    health = poll_health_read(store=storage.get_health_store(), sources=names, pushed=pushed)
    return not_configured_before_polling(health)


@dataclass(frozen=True)
class QueueDepth:
    pending_deliveries: int | None
    pending_note: str
    task_queue: int | None
    task_queue_note: str


def queue_depth(*, reader: HistoryReader | None = None) -> QueueDepth:
    """Notifications waiting to be sent, and tasks waiting in django-q2's queue."""
    pending = (reader or storage.get_history_reader()).pending_count()
    try:
        # Imported here (not to break a cycle): a broken task-queue configuration fails this
        # import, and is then reported on the page instead of failing every page.
        from django_q.brokers import get_broker

        tasks, task_note = get_broker().queue_size(), "tasks waiting for a worker"
    except Exception as exc:  # the broker (Redis or the database) is unreachable
        tasks, task_note = None, f"the task queue could not be read: {exc}"
    return QueueDepth(pending.count, pending.note, tasks, task_note)


@dataclass(frozen=True)
class PushQueueRow:
    """One push queue on the status page: the sources that name it, its counts and ages."""

    queue_url: str
    sources: list[str]
    stats: PushQueueStats
    status: PushStatus
    ignored: list[tuple[str, int, str]]  # reason, count, what it means
    last_receive_age: str
    last_message_age: str


def push_queues(*, store: Store | None = None, now: datetime | None = None) -> list[PushQueueRow]:
    """Every queue a source names or a consumer has counted, by queue URL. Raises
    StorageError when the store cannot be read."""
    now = now or timezone.now()
    by_queue: dict[str, list[str]] = {}
    for name, url in Source.objects.exclude(queue_url="").values_list("name", "queue_url"):
        by_queue.setdefault(url, []).append(name)
    stats = {s.queue_url: s for s in (store or storage.get_store()).push_stats_list()}
    rows = []
    for url in sorted(set(by_queue) | set(stats)):
        found = stats.get(url)
        counted = found or PushQueueStats(queue_url=url)
        ignored = [
            (reason, count, IGNORED_REASONS.get(reason, ""))
            for reason, count in sorted(counted.ignored.items())
        ]
        rows.append(
            PushQueueRow(
                queue_url=url,
                sources=sorted(by_queue.get(url, [])),
                stats=counted,
                status=push_status(queue_url=url, stats=found, now=now),
                ignored=ignored,
                last_receive_age=age_text(counted.last_receive, now=now),
                last_message_age=age_text(counted.last_message_at, now=now),
            )
        )
    return rows


# Where boto3 finds credentials without a key pair: a profile, a task role, web identity.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@dataclass(frozen=True)
class MissingSetting:
    """One thing a first run lacks: the setting, what to set, and the README section."""

    setting: str
    what: str
    readme_section: str


# What boto3 reads to find a region and credentials: the answer is kept per their values.
AWS_ENVIRONMENT = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_SECRET_ACCESS_KEY",
    *CREDENTIAL_VARIABLES,
)


@functools.lru_cache(maxsize=16)
def _boto3_finds(environment: tuple[str, ...]) -> tuple[bool, bool]:
    session = boto3.session.Session()
    # get_credentials() may ask an instance's metadata service (a second at most, once per
    # environment, thanks to the cache).
    return bool(session.region_name), session.get_credentials() is not None


def aws_environment_missing() -> list[str]:
    """AWS_REGION and/or AWS_CREDENTIALS when boto3 finds no region (and no enabled source
    names one) or no credentials anywhere: environment, config files, roles."""
    region, credentials = _boto3_finds(tuple(os.environ.get(n, "") for n in AWS_ENVIRONMENT))
    if not region:
        region = Source.objects.filter(enabled=True).exclude(region="").exists()
    return [
        name for name, found in ((AWS_REGION, region), (AWS_CREDENTIALS, credentials)) if not found
    ]


def _never_polled(health: PollHealth) -> bool:
    return health.state is not None and health.state.last_success is None


def not_configured_before_polling(health: PollHealth) -> PollHealth:
    """`health` as "not configured" when no poll has completed yet and the environment has
    no AWS region or credentials: said at once, not after the first poll's error."""
    if health.failing_part != POLLING or not _never_polled(health):
        return health
    missing = aws_environment_missing()
    if not missing:
        return health
    return replace(
        health,
        healthy=False,
        failing_part=missing[0],
        headline="The service cannot poll CodeDeploy: AWS is not configured in its environment.",
        advice="Set what is missing in the service's environment and restart it.",
    )


def first_run_missing(health: PollHealth | None) -> list[MissingSetting]:
    """What to set before the service can poll, when polling has never succeeded for want of
    an AWS region or credentials (the region's error hides whether credentials are there too:
    then they are listed unless the environment names some), or has not been tried yet and
    the environment has neither; and NEW_RELIC_API_KEY when unset."""
    if health is None:
        return []
    if health.not_configured:
        region = health.failing_part == AWS_REGION
        credentials = health.failing_part == AWS_CREDENTIALS or not any(
            os.environ.get(name) for name in CREDENTIAL_VARIABLES
        )
    elif _never_polled(health) and (found := aws_environment_missing()):
        region, credentials = AWS_REGION in found, AWS_CREDENTIALS in found
    else:
        return []
    missing = []
    if region:
        missing.append(
            MissingSetting(
                "AWS_REGION", "the region CodeDeploy runs in, e.g. us-east-1", "Configuration"
            )
        )
    if credentials:
        missing.append(
            MissingSetting(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                "or AWS_PROFILE, or an instance or task role; or a source with a role in the "
                "admin (Sources)",
                "AWS permissions",
            )
        )
    if not settings.NEW_RELIC_API_KEY:
        missing.append(
            MissingSetting(
                "NEW_RELIC_API_KEY",
                "a New Relic User API key (NRAK-...), for deployment markers",
                "New Relic deployment markers",
            )
        )
    return missing
