"""One poll cycle (the loop that runs it every few seconds is notifier.loop).

A cycle lists deployments created since the watermark (minus an overlap), adds the ids it
tracks as not yet finished, skips ids it knows are finished, batch-gets the rest 25 at a
time and keeps only registered applications. Its AWS calls grow with new and running
deployments, not with the number of registrations.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Prefetch
from django.utils import timezone

from notifier import codedeploy, targets
from notifier.dispatch import deliveries_create, setups_hearing
from notifier.events import DeploymentEvent, events_for_transition, is_terminal
from notifier.poll_errors import describe_aws_error
from notifier.sources import SourceConfig
from notifier.storage.base import (
    DEFAULT_SOURCE,
    DeliveryKey,
    PollState,
    Store,
    poll_lease_name,
)
from notifier.whodeployed import deployers_enrich
from registrations.models import NotificationSetup, Registration, split_groups

log = logging.getLogger(__name__)
__all__ = ["deployment_poll", "describe_aws_error", "record_poll_error", "source_is_busy"]

POLL_LEASE = poll_lease_name(DEFAULT_SOURCE)  # the default source's


@dataclass
class CycleReport:
    listed: int = 0
    fetched: int = 0
    skipped_known_terminal: int = 0
    events: list[DeploymentEvent] = field(default_factory=list)
    deliveries: list[DeliveryKey] = field(default_factory=list)
    aws_calls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    window_start: datetime | None = None
    busy: bool = False  # see source_is_busy

    def lines(self) -> list[str]:
        calls = ", ".join(f"{k} x{v}" for k, v in sorted(self.aws_calls.items())) or "none"
        out = [
            f"listed {self.listed} deployment(s) created since "
            f"{self.window_start:%Y-%m-%d %H:%M:%S} UTC; fetched {self.fetched}, skipped "
            f"{self.skipped_known_terminal} known finished",
            f"AWS calls: {calls}; took {self.seconds:.2f}s",
        ]
        for event in self.events:
            out.append(
                f"  {event.deployment_id} {event.application}/{event.deployment_group} "
                f"{event.status} -> {event.event.value}"
            )
        out.append(f"queued {len(self.deliveries)} notification(s)")
        return out


def registrations_for(
    applications: set[str], *, source: str = DEFAULT_SOURCE
) -> dict[str, Registration]:
    """Enabled registrations of these applications in the enabled source named `source`
    (another source's application of the same name is another account's or region's), with
    their setups, in two queries."""
    if not applications:
        return {}
    rows = Registration.objects.filter(
        enabled=True,
        source__name=source,
        source__enabled=True,
        codedeploy_application_name__in=applications,
    ).prefetch_related(Prefetch("setups", queryset=NotificationSetup.objects.order_by("id")))
    return {r.codedeploy_application_name: r for r in rows}


def _list_ids(client: Any, *, start: datetime, end: datetime, source: str) -> list[str]:
    if settings.NOTIFIER_POLL_MODE == "account":
        return codedeploy.list_deployment_ids(client, created_after=start, created_before=end)
    # Per-group mode, for IAM policies that forbid account-wide listing: one listing per
    # deployment group of each enabled registration of this source.
    ids: list[str] = []
    polled = Registration.objects.filter(enabled=True, source__name=source, source__enabled=True)
    for registration in polled:
        app = registration.codedeploy_application_name
        groups = split_groups(registration.deployment_groups) or codedeploy.list_deployment_groups(
            client, app
        )
        for group in groups:
            ids.extend(
                codedeploy.list_deployment_ids(
                    client,
                    created_after=start,
                    created_before=end,
                    application=app,
                    deployment_group=group,
                )
            )
    return ids


def _change_store(
    store: Store, latest: DeploymentEvent, registration: Registration, transitions: list, now
) -> tuple[list[DeploymentEvent], list[DeliveryKey]]:
    store.deployment_save(latest, seen_at=now)
    events, keys = [], []
    for event_name in transitions:
        event = latest.with_event(event_name)
        events.append(event)
        keys.extend(deliveries_create(event, setups_hearing(registration, event), store=store))
    return events, keys


def _changes_store(store: Store, changes: list, *, now: datetime) -> list:
    """Store each changed deployment and its deliveries, in order. A store whose writes are
    independent network requests (DynamoDB) has a `write_concurrency` above 1, and the
    deployments are then stored that many at a time: a cycle costs about one round trip per
    deployment divided by it, instead of one per write. Any failure is raised (the watermark
    stays)."""
    threads = min(len(changes), store.write_concurrency)
    if threads <= 1:
        return [_change_store(store, *change, now) for change in changes]

    def chunk(offset: int) -> list:
        try:
            return [
                (index, _change_store(store, *changes[index], now))
                for index in range(offset, len(changes), threads)
            ]
        finally:
            connections.close_all()  # this thread's own (e.g. the audit mirror's)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poll-store") as pool:
        done = [item for part in pool.map(chunk, range(threads)) for item in part]
    return [result for _, result in sorted(done, key=lambda item: item[0])]


def _candidates(listed: list[str], *, state: PollState, report: CycleReport) -> dict:
    """The deployments to batch-get: those listed and those still pending, less those known
    to be terminal already (counted in `report`). A dict, to keep their order."""
    candidates = dict.fromkeys(listed)
    candidates.update(dict.fromkeys(state.pending))
    known_terminal = [i for i in candidates if i in state.recent_terminal]
    report.skipped_known_terminal = len(known_terminal)
    for deployment_id in known_terminal:
        del candidates[deployment_id]
    return candidates


def source_is_busy(state: PollState, *, now: datetime) -> bool:
    """A source is busy while it has watched deployments not finished, or had one created in
    the last NOTIFIER_BUSY_WINDOW seconds: then it is polled every NOTIFIER_POLL_INTERVAL,
    else every NOTIFIER_IDLE_POLL_INTERVAL (notifier.pollers)."""
    if state.pending:
        return True
    window = timedelta(seconds=settings.NOTIFIER_BUSY_WINDOW)
    return state.last_created is not None and now - state.last_created < window


def _newest_created(infos: list[dict], registrations: dict, latest: datetime | None):
    """The newest create time among the watched deployments of `infos`, and `latest`."""
    for info in infos:
        registration = registrations.get(info.get("applicationName", ""))
        if registration is None or not registration.watches_group(
            info.get("deploymentGroupName", "")
        ):
            continue
        created = codedeploy._time(info.get("createTime"))
        if created is not None and (latest is None or created > latest):
            latest = created
    return latest


def _changes_find(
    infos: list[dict],
    *,
    state: PollState,
    registrations: dict[str, Registration],
    region: str,
    account: str,
    now: datetime,
    targets_client: Any = None,
) -> tuple[dict[str, str], dict[str, float], list[tuple[DeploymentEvent, Registration, list]]]:
    """From the batch-got deployments: the next pending set (watched, not terminal), the
    recently terminal ones with their create times, and the watched deployments whose status
    changed since the last cycle, each with its events; a newly failed or stopped one with
    where it broke (notifier.targets, once per deployment) when `targets_client` is given."""
    pending: dict[str, str] = {}
    recent_terminal = dict(state.recent_terminal)
    changes: list[tuple[DeploymentEvent, Registration, list]] = []
    for info in infos:
        deployment_id, status = info["deploymentId"], info.get("status", "")
        registration = registrations.get(info.get("applicationName", ""))
        watched = registration is not None and registration.watches_group(
            info.get("deploymentGroupName", "")
        )
        if is_terminal(status):
            created = codedeploy._time(info.get("createTime"))
            recent_terminal[deployment_id] = created.timestamp() if created else now.timestamp()
        elif watched:
            pending[deployment_id] = status
        if not watched:
            continue
        previous = state.pending.get(deployment_id)
        transitions = events_for_transition(previous, status)
        if not transitions:
            continue
        latest = codedeploy.normalise(info, event=transitions[-1], region=region, account=account)
        if targets_client is not None:
            latest = targets.with_failure_point(targets_client, latest)
        changes.append((latest, registration, transitions))
    return pending, recent_terminal, changes


def _state_advance(
    state: PollState, pending: dict, recent_terminal: dict, last_created, *, now: datetime
) -> None:
    """The poll state after a successful cycle that ran at `now`."""
    # Forget finished deployments once they are older than the next cycle's listing window.
    horizon = (now - timedelta(seconds=settings.NOTIFIER_POLL_OVERLAP)).timestamp()
    state.recent_terminal = {k: v for k, v in recent_terminal.items() if v >= horizon}
    state.pending = pending
    state.last_created = last_created
    state.watermark = now
    state.last_success = timezone.now()
    state.last_error = ""
    state.failing_since = None


def source_account(source: SourceConfig | None) -> str:
    """The account a source acts in, for events and console links: the one its identity
    check stored, else its role's (from the ARN), else the service's own (STS)."""
    if source is not None and source.account_id:
        return source.account_id
    if source is not None and source.role_arn:
        return source.role_arn.split(":")[4]
    return codedeploy.account_id()


def deployment_poll(
    *,
    store: Store,
    client: Any,
    source: SourceConfig | None = None,
    now: datetime | None = None,
    counter: codedeploy.CallCounter | None = None,
    targets_client: Any = None,
) -> CycleReport:
    """Run one poll cycle of `source` (default: the default source) with `client`, a
    CodeDeploy client acting in that source's account and region: its own poll state, its
    own registrations; the events carry its region and account. The watermark moves only
    after the cycle's results are stored. Deployment ids need no source in the ledger's
    keys: AWS makes them unique (d- and nine random characters, per account and region, and
    not reused), so two sources never report the same id for different deployments. Where
    a failed deployment broke is looked up with `targets_client` (None: not looked up)."""
    began = time.monotonic()
    now = now or timezone.now()
    report = CycleReport()
    name = source.name if source is not None else DEFAULT_SOURCE
    state = store.poll_state_get(source=name)
    watermark = state.watermark or now - timedelta(seconds=settings.NOTIFIER_POLL_LOOKBACK)
    start = watermark - timedelta(seconds=settings.NOTIFIER_POLL_OVERLAP)
    report.window_start = start

    listed = _list_ids(client, start=start, end=now, source=name)
    report.listed = len(listed)
    candidates = _candidates(listed, state=state, report=report)

    infos = codedeploy.batch_get(client, candidates)
    report.fetched = len(infos)
    registrations = registrations_for({i.get("applicationName", "") for i in infos}, source=name)
    region = client.meta.region_name
    account = source_account(source) if infos and registrations else ""

    pending, recent_terminal, changes = _changes_find(
        infos,
        state=state,
        registrations=registrations,
        region=region,
        account=account,
        now=now,
        targets_client=targets_client,
    )
    changes = deployers_enrich(changes, source=name)
    for events, keys in _changes_store(store, changes, now=now):
        report.events.extend(events)
        report.deliveries.extend(keys)

    newest = _newest_created(infos, registrations, state.last_created)
    _state_advance(state, pending, recent_terminal, newest, now=now)
    store.poll_state_save(state, source=name)
    report.busy = source_is_busy(state, now=now)
    report.seconds = time.monotonic() - began
    if counter is not None:
        report.aws_calls = dict(counter.calls)
    return report


def record_poll_error(
    store: Store,
    exc: Exception,
    *,
    started_at: datetime | None = None,
    source: str = DEFAULT_SOURCE,
) -> str:
    """Save a failed cycle's error in words in `source`'s poll state, and when this run of
    failures began: the start
    of its first failed cycle (`started_at`; botocore's retries can make a cycle last
    seconds), kept until a success clears it. notifier.health reports from it."""
    message = describe_aws_error(exc)
    try:
        state = store.poll_state_get(source=source)
        state.last_error = message
        state.last_error_at = timezone.now()
        state.failing_since = state.failing_since or started_at or state.last_error_at
        store.poll_state_save(state, source=source)
    except Exception:  # the store itself is down: the log is all we have
        log.exception("could not record the poll error")
    return message
