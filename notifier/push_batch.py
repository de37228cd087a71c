"""One received batch of a push queue turned into stored deployments and deliveries.

Each message is classified (notifier.push_messages), matched to the enabled source whose
account and region it came from, and to that source's registration and deployment group.
The details an event lacks (revision, creator, times, instance counts...) come from ONE
BatchGetDeployments per source per batch. The ledger's keys make every delivery created here
idempotent, with polling's and with a redelivered message's.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from notifier import codedeploy, targets
from notifier.dispatch import deliveries_create, setups_hearing
from notifier.events import DeploymentEvent, Event, is_terminal, terminal_event
from notifier.poller import describe_aws_error, registrations_for, source_account
from notifier.push_messages import Ignored, PushedDeployment, PushedPrincipal, message_classify
from notifier.sources import CLIENT_LOCK, SourceConfig, boto3_session_for
from notifier.storage.base import Store
from notifier.whodeployed import cloudtrail_event_record, deployer_enrich
from registrations.models import Registration

UNKNOWN_ACCOUNT = "unknown_account"
UNREGISTERED_APPLICATION = "unregistered_application"
UNWATCHED_GROUP = "unwatched_group"
UNKNOWN_DEPLOYMENT = "unknown_deployment"  # BatchGetDeployments does not know it
FAILED_CALL = "failed_call"  # a CreateDeployment call that made no deployment
STALE = "stale"  # a started/ready message about a deployment already finished


@dataclass
class BatchOutcome:
    """What a batch came to: messages acted on, ignored by reason, the messages done with
    (to delete) and the error of a source whose messages are left for redelivery."""

    acted: int = 0
    ignored: Counter = field(default_factory=Counter)
    done: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def ignore(self, message: dict[str, Any], reason: str) -> None:
        self.ignored[reason] += 1
        self.done.append(message)


def source_region(config: SourceConfig) -> str:
    """A source's region: its own, else the service's (AWS_REGION)."""
    env = os.environ
    return config.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""


def queue_account(queue_url: str) -> str:
    """The account that owns a queue: the first part of its URL's path."""
    return urlsplit(queue_url).path.strip("/").split("/")[0]


def source_for(
    pushed: PushedDeployment, sources: list[SourceConfig], *, queue_url: str
) -> SourceConfig | None:
    """The enabled source the event came from, by account and region. A delivery without
    the event's account (moto's EventBridge leaves it out) is taken as the queue's."""
    account = pushed.account or queue_account(queue_url)
    for config in sources:
        if source_region(config) == pushed.region and source_account(config) == account:
            return config
    return None


def events_for_push(
    pushed: PushedDeployment, info: dict[str, Any], *, stored_terminal: bool
) -> tuple[list[Event], str, bool]:
    """The events a pushed message makes, given the deployment's fresh details `info`: the
    events, the status to store, and whether the message itself was stale (its deployment
    already finished: only the outcome is notified, as polling would)."""
    fresh = info.get("status", "")
    outcome = terminal_event(fresh)
    if outcome is not None:
        return [outcome], fresh, not is_terminal(pushed.status)
    if is_terminal(pushed.status):  # CodeDeploy's answer lags the event: trust the event
        return [pushed.event], pushed.status, False
    if stored_terminal:  # already stored finished (by a message read before AWS caught up)
        return [], "", True
    status = pushed.status if pushed.event is Event.READY else fresh
    return [pushed.event], status, False


class PushBatch:
    """Handles batches for one consumer; keeps a CodeDeploy client per source."""

    def __init__(self, *, queue_url: str, store: Store) -> None:
        self.queue_url, self.store = queue_url, store
        self._clients: dict[tuple[SourceConfig, bool], Any] = {}

    def client(self, config: SourceConfig, *, for_targets: bool = False) -> Any:
        """The source's CodeDeploy client; `for_targets`: the one that looks up where a
        failed deployment broke (notifier.targets: no retries, a short timeout)."""
        if (config, for_targets) not in self._clients:
            aws = targets.TARGETS_CONFIG if for_targets else codedeploy.AWS_CONFIG
            with CLIENT_LOCK:
                session = boto3_session_for(config)
                made = codedeploy.make_client(session=session, config=aws)
            self._clients[config, for_targets] = made
        return self._clients[config, for_targets]

    def handle(
        self, messages: list[dict[str, Any]], *, sources: list[SourceConfig], now: datetime
    ) -> BatchOutcome:
        """Classify, match and store `messages`. A source whose CodeDeploy cannot be read
        leaves its messages undone (SQS redelivers them; polling reconciles meanwhile);
        the store's errors are raised (nothing is deleted)."""
        outcome = BatchOutcome()
        by_source: dict[str, tuple[SourceConfig, list]] = {}
        for message in messages:
            result = message_classify(message.get("Body", ""))
            if isinstance(result, Ignored):
                outcome.ignore(message, result.reason)
                continue
            config = source_for(result, sources, queue_url=self.queue_url)
            if config is None:
                outcome.ignore(message, UNKNOWN_ACCOUNT)
                continue
            if isinstance(result, PushedPrincipal):  # who deployed: no CodeDeploy call needed
                self._principal(config, message, result, outcome)
                continue
            by_source.setdefault(config.name, (config, []))[1].append((message, result))
        for config, items in by_source.values():
            watched = self._watched(config, items, outcome)
            if watched:
                self._store(config, watched, outcome, now=now)
        return outcome

    def _watched(self, config: SourceConfig, items: list, outcome: BatchOutcome) -> list:
        registrations = registrations_for({p.application for _, p in items}, source=config.name)
        watched = []
        for message, pushed in items:
            registration = registrations.get(pushed.application)
            if registration is None:
                outcome.ignore(message, UNREGISTERED_APPLICATION)
            elif not registration.watches_group(pushed.deployment_group):
                outcome.ignore(message, UNWATCHED_GROUP)
            else:
                watched.append((message, pushed, registration))
        return watched

    def _store(
        self, config: SourceConfig, watched: list, outcome: BatchOutcome, *, now: datetime
    ) -> None:
        client = self.client(config)
        try:
            ids = list(dict.fromkeys(p.deployment_id for _, p, _ in watched))
            infos = {i["deploymentId"]: i for i in codedeploy.batch_get(client, ids)}
            account = source_account(config)
        except Exception as exc:  # AWS or the role: left for redelivery, said in words
            said = describe_aws_error(exc)
            outcome.error = (
                said if said.startswith("source ") else f"source {config.name!r}: {said}"
            )
            return
        region = client.meta.region_name
        for message, pushed, registration in watched:
            info = infos.get(pushed.deployment_id)
            if info is None:
                outcome.ignore(message, UNKNOWN_DEPLOYMENT)
                continue
            stored_terminal = not is_terminal(pushed.status) and self._stored_terminal(
                pushed.deployment_id
            )
            events, status, stale = events_for_push(pushed, info, stored_terminal=stored_terminal)
            if events:
                latest = codedeploy.normalise(
                    {**info, "status": status}, event=events[-1], region=region, account=account
                )
                latest = targets.with_failure_point(self.client(config, for_targets=True), latest)
                self._save(latest, events, registration, now=now, source=config.name)
            if stale:
                outcome.ignore(message, STALE)
            else:
                outcome.acted += 1
                outcome.done.append(message)

    def _principal(
        self, config: SourceConfig, message: dict, pushed: PushedPrincipal, outcome: BatchOutcome
    ) -> None:
        if cloudtrail_event_record(pushed.detail, store=self.store, source=config.name) is None:
            outcome.ignore(message, FAILED_CALL)
            return
        outcome.acted += 1
        outcome.done.append(message)

    def _stored_terminal(self, deployment_id: str) -> bool:
        record = self.store.deployment_get(deployment_id)
        return record is not None and is_terminal(record.event.status)

    def _save(
        self,
        latest: DeploymentEvent,
        events: list[Event],
        registration: Registration,
        *,
        now: datetime,
        source: str,
    ) -> None:
        latest = deployer_enrich(latest, source=source)
        self.store.deployment_save(latest, seen_at=now)
        for name in events:
            event = latest.with_event(name)
            deliveries_create(event, setups_hearing(registration, event), store=self.store)
