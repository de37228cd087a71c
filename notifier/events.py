"""DeploymentEvent: the one normalised value every channel renders from.

Nothing downstream of the poller calls AWS again: whatever a message needs is here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# Delivery states: where one (deployment, event, setup) notification stands in the ledger.
PENDING = "pending"  # waiting to be sent (first time, or a retry at next_attempt_at)
DELIVERED = "delivered"
FAILED = "failed"  # permanent failure: bad configuration, rejected by the provider
DEAD = "dead"  # retryable failures until the attempt limit ran out
# Not sent: a started or ready notification that fell due after the deployment's outcome had
# been delivered to the same setup (it would have read as news after the fact).
SUPERSEDED = "superseded"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED, DEAD, SUPERSEDED)
FINAL_STATES = frozenset({DELIVERED, FAILED, DEAD, SUPERSEDED})

STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready", "Succeeded", "Failed", "Stopped")
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped"})


class Event(StrEnum):
    STARTED = "started"
    READY = "ready"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    Event.STARTED: "Started",
    Event.READY: "Ready (waiting for traffic)",
    Event.SUCCEEDED: "Succeeded",
    Event.FAILED: "Failed",
    Event.STOPPED: "Stopped",
}
EVENT_CHOICES = [(e.value, EVENT_LABELS[e]) for e in Event]
_TERMINAL_EVENT = {"Succeeded": Event.SUCCEEDED, "Failed": Event.FAILED, "Stopped": Event.STOPPED}
TERMINAL_EVENTS = tuple(_TERMINAL_EVENT.values())


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def terminal_event(status: str) -> Event | None:
    """The event a terminal status is notified as (None for a status not terminal)."""
    return _TERMINAL_EVENT.get(status)


def events_for_transition(previous: str | None, status: str) -> list[Event]:
    """The events a change from `previous` (None: never seen) to `status` produces.

    `started` is sent when a deployment is first seen not yet finished; a deployment first
    seen already finished produces only its terminal event.
    """
    if previous == status:
        return []
    events: list[Event] = []
    if previous is None and not is_terminal(status):
        events.append(Event.STARTED)
    if status == "Ready":
        events.append(Event.READY)
    if status in _TERMINAL_EVENT:
        events.append(_TERMINAL_EVENT[status])
    return events


@dataclass(frozen=True)
class Revision:
    type: str = ""  # GitHub, S3, AppSpecContent, String
    summary: str = ""  # what a person calls this version: a commit id, bucket/key@version
    url: str = ""  # a link where one can be built
    repository: str = ""
    commit_id: str = ""
    bucket: str = ""
    key: str = ""
    version: str = ""
    etag: str = ""
    bundle_type: str = ""


@dataclass(frozen=True)
class InstanceCounts:
    pending: int = 0
    in_progress: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    ready: int = 0

    @property
    def total(self) -> int:
        return (
            self.pending
            + self.in_progress
            + self.succeeded
            + self.failed
            + self.skipped
            + self.ready
        )


@dataclass(frozen=True)
class Rollback:
    rollback_deployment_id: str = ""  # the deployment that rolled this one back
    rollback_triggering_deployment_id: str = ""  # this deployment rolls back that one
    message: str = ""


# Who a deployment's Deployer is: a Person (from People rules), an IAM principal no rule
# names, a category CodeDeploy reports (Auto Scaling, a rollback, CodePipeline), or not known.
PERSON, PRINCIPAL, CATEGORY, UNKNOWN = "person", "principal", "category", ""
# CodeDeploy's `creator` values that are not a person calling CreateDeployment, in words.
CREATOR_WORDS = {
    "autoscaling": "Auto Scaling",
    "autoscalingTermination": "Auto Scaling (instance termination)",
    "codeDeployRollback": "automatic rollback",
    "CodeDeployAutoUpdate": "CodeDeploy agent auto-update",
    "CloudFormation": "CloudFormation",
    "CloudFormationRollback": "CloudFormation rollback",
}


@dataclass(frozen=True)
class Deployer:
    """Who started a deployment, in words (`name`), with where that came from: the IAM
    principal that called CreateDeployment (CloudTrail), and the People rule that named it."""

    kind: str = UNKNOWN  # PERSON, PRINCIPAL, CATEGORY or UNKNOWN
    name: str = ""  # what a message prints: "Ana Lima", "deploy-bot (role)", "Auto Scaling"
    email: str = ""  # a person's
    slack_user_id: str = ""
    principal_arn: str = ""
    rule: str = ""  # how the name was found, in words

    @property
    def is_person(self) -> bool:
        return self.kind == PERSON


@dataclass(frozen=True)
class LifecycleStep:
    """One lifecycle event of a deployment target (ApplicationStart, AfterAllowTraffic...)."""

    name: str = ""
    status: str = ""  # Pending InProgress Succeeded Failed Skipped Unknown
    seconds: float | None = None  # how long it ran, when AWS says


@dataclass(frozen=True)
class FailurePoint:
    """Where a failed or stopped deployment broke: its first failing lifecycle event, on which
    target (an EC2 or on-premises instance, an ECS service's task set, a Lambda function, a
    CloudFormation resource), with the hook's script, message and the end of its log
    (secrets redacted, at most notifier.targets.LOG_TAIL_BYTES)."""

    target_id: str = ""
    target_kind: str = ""  # Instance, ECS, Lambda, CloudFormation
    lifecycle_event: str = ""
    status: str = ""
    error_code: str = ""
    script_name: str = ""
    message: str = ""
    log_tail: str = ""
    failed_targets: int = 0  # targets that failed, as far as counted
    failed_targets_more: bool = False  # more failed than were counted
    lifecycle_events: tuple[LifecycleStep, ...] = ()  # all of the failing target's, in order

    @property
    def summary(self) -> str:
        """Failed at ApplicationStart on i-0abc (script start.sh): <message>."""
        where = f"Failed at {self.lifecycle_event or 'an unknown lifecycle event'}"
        if self.target_id:
            where += f" on {self.target_id}"
        if self.script_name:
            where += f" (script {self.script_name})"
        return f"{where}: {self.message}" if self.message else where

    @property
    def log_tail_short(self) -> str:
        """The last few lines of the log tail, for chat messages."""
        return "\n".join(self.log_tail.splitlines()[-SHORT_LOG_LINES:])

    @property
    def failed_targets_text(self) -> str:
        return f"{self.failed_targets}{'+' if self.failed_targets_more else ''}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["lifecycle_events"] = [dataclasses.asdict(s) for s in self.lifecycle_events]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailurePoint:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        steps = values.get("lifecycle_events") or ()
        values["lifecycle_events"] = tuple(LifecycleStep(**step) for step in steps)
        return cls(**values)


SHORT_LOG_LINES = 5


@dataclass(frozen=True)
class DeploymentEvent:
    deployment_id: str
    application: str
    deployment_group: str
    status: str
    event: Event
    creator: str = ""
    description: str = ""
    revision: Revision = field(default_factory=Revision)
    create_time: datetime | None = None
    start_time: datetime | None = None
    complete_time: datetime | None = None
    instances: InstanceCounts = field(default_factory=InstanceCounts)
    error_code: str = ""
    error_message: str = ""
    rollback: Rollback = field(default_factory=Rollback)
    deployment_config: str = ""
    compute_platform: str = ""
    region: str = ""
    account: str = ""
    console_url: str = ""
    failure: FailurePoint | None = None  # failed or stopped deployments, when AWS could say
    deployer: Deployer = field(default_factory=Deployer)

    @property
    def started_by(self) -> str:
        """Who started it, in words: the deployer's name, else CodeDeploy's creator."""
        if self.deployer.name:
            return self.deployer.name
        if self.creator == "user":
            return "an AWS user (not known yet)"
        if self.creator == "codeDeployRollback" and self.rollback.rollback_triggering_deployment_id:
            return f"automatic rollback of {self.rollback.rollback_triggering_deployment_id}"
        return CREATOR_WORDS.get(self.creator, self.creator)

    @property
    def duration_seconds(self) -> float | None:
        begin = self.start_time or self.create_time
        if begin is None or self.complete_time is None:
            return None
        return max(0.0, (self.complete_time - begin).total_seconds())

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)

    def with_event(self, event: Event) -> DeploymentEvent:
        return dataclasses.replace(self, event=event)

    def with_failure(self, failure: FailurePoint | None) -> DeploymentEvent:
        return dataclasses.replace(self, failure=failure)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601): stored in the ledger, sent by webhooks."""
        data = dataclasses.asdict(self)
        data["event"] = self.event.value
        for name in ("create_time", "start_time", "complete_time"):
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        data["duration_seconds"] = self.duration_seconds
        data["failure"] = self.failure.to_dict() if self.failure else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentEvent:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["event"] = Event(values["event"])
        values["revision"] = Revision(**values.get("revision") or {})
        values["instances"] = InstanceCounts(**values.get("instances") or {})
        values["rollback"] = Rollback(**values.get("rollback") or {})
        failure = values.get("failure")
        values["failure"] = FailurePoint.from_dict(failure) if failure else None
        values["deployer"] = Deployer(**values.get("deployer") or {})
        for name in ("create_time", "start_time", "complete_time"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)
