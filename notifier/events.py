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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601): stored in the ledger, sent by webhooks."""
        data = dataclasses.asdict(self)
        data["event"] = self.event.value
        for name in ("create_time", "start_time", "complete_time"):
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        data["duration_seconds"] = self.duration_seconds
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentEvent:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["event"] = Event(values["event"])
        values["revision"] = Revision(**values.get("revision") or {})
        values["instances"] = InstanceCounts(**values.get("instances") or {})
        values["rollback"] = Rollback(**values.get("rollback") or {})
        for name in ("create_time", "start_time", "complete_time"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)
