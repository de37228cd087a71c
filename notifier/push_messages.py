"""What one message of a push queue says: a pushed deployment event, or why it is ignored.

CodeDeploy publishes "CodeDeploy Deployment State-change Notification" events to EventBridge
(detail.state START, SUCCESS, FAILURE, STOP or READY); a rule puts them on an SQS queue,
directly or through an SNS topic (whose envelope is unwrapped here). Classification is a
table from the event's detail-type to its handler (`HANDLERS`): another kind of event on the
same queue is one more entry. Pure: no AWS, no database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifier.events import Event

# SQS's own limit on a message body; anything larger did not come from SQS.
MAX_BODY_BYTES = 256 * 1024

DEPLOYMENT_STATE_CHANGE = "CodeDeploy Deployment State-change Notification"
INSTANCE_STATE_CHANGE = "CodeDeploy Instance State-change Notification"
# CloudTrail's record of codedeploy:CreateDeployment: who deployed (notifier.whodeployed).
CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail"

# Why a message was not acted on (counted per queue by Store.push_stats_add).
MALFORMED = "malformed"
UNKNOWN_DETAIL_TYPE = "unknown_detail_type"
INSTANCE_EVENT = "instance_event"
UNKNOWN_STATE = "unknown_state"
OTHER_API_CALL = "other_api_call"  # a CloudTrail record of a call other than CreateDeployment

STATE_EVENTS = {
    "START": Event.STARTED,
    "SUCCESS": Event.SUCCEEDED,
    "FAILURE": Event.FAILED,
    "STOP": Event.STOPPED,
    "READY": Event.READY,
}
# The deployment status each event implies, for when CodeDeploy's own answer lags.
EVENT_STATUS = {
    Event.STARTED: "InProgress",
    Event.READY: "Ready",
    Event.SUCCEEDED: "Succeeded",
    Event.FAILED: "Failed",
    Event.STOPPED: "Stopped",
}


@dataclass(frozen=True)
class PushedDeployment:
    """A deployment's state change, as CodeDeploy pushed it."""

    deployment_id: str
    application: str
    deployment_group: str
    event: Event
    account: str  # empty when the delivery left it out
    region: str
    time: datetime | None

    @property
    def status(self) -> str:
        return EVENT_STATUS[self.event]


@dataclass(frozen=True)
class Ignored:
    """A message not acted on, and why (one of the reasons above)."""

    reason: str
    detail: str = ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(_text(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _deployment_state_change(envelope: dict[str, Any]) -> PushedDeployment | Ignored:
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        return Ignored(MALFORMED, "detail is not an object")
    missing = [
        name
        for name in ("deploymentId", "application", "deploymentGroup", "state")
        if not _text(detail.get(name))
    ]
    if missing:
        return Ignored(MALFORMED, f"detail has no {', '.join(missing)}")
    event = STATE_EVENTS.get(detail["state"])
    if event is None:
        return Ignored(UNKNOWN_STATE, f"state {detail['state'][:40]!r}")
    return PushedDeployment(
        deployment_id=detail["deploymentId"],
        application=detail["application"],
        deployment_group=detail["deploymentGroup"],
        event=event,
        account=_text(envelope.get("account")),
        region=_text(envelope.get("region")) or _text(detail.get("region")),
        time=_time(envelope.get("time")),
    )


@dataclass(frozen=True)
class PushedPrincipal:
    """CloudTrail's record of a CreateDeployment call: `detail` names who made it."""

    detail: dict[str, Any]
    account: str
    region: str


def _cloudtrail_api_call(envelope: dict[str, Any]) -> PushedPrincipal | Ignored:
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        return Ignored(MALFORMED, "detail is not an object")
    call = f"{_text(detail.get('eventSource'))} {_text(detail.get('eventName'))}"
    if call != "codedeploy.amazonaws.com CreateDeployment":
        return Ignored(OTHER_API_CALL, call[:80])
    return PushedPrincipal(
        detail=detail,
        account=_text(envelope.get("account")) or _text(detail.get("recipientAccountId")),
        region=_text(envelope.get("region")) or _text(detail.get("awsRegion")),
    )


def _instance_state_change(envelope: dict[str, Any]) -> Ignored:
    return Ignored(INSTANCE_EVENT)  # known, but instances are not notified on


# detail-type -> handler. An event of another detail-type is `unknown_detail_type`.
HANDLERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    DEPLOYMENT_STATE_CHANGE: _deployment_state_change,
    INSTANCE_STATE_CHANGE: _instance_state_change,
    CLOUDTRAIL_API_CALL: _cloudtrail_api_call,
}


def _unwrap_sns(document: dict[str, Any]) -> dict[str, Any] | Ignored:
    """The EventBridge event inside an SNS notification (EventBridge -> SNS -> SQS without
    raw message delivery), or the document itself."""
    if document.get("Type") != "Notification" or "detail-type" in document:
        return document
    try:
        inner = json.loads(_text(document.get("Message")))
    except ValueError:
        return Ignored(MALFORMED, "the SNS notification's Message is not JSON")
    return inner if isinstance(inner, dict) else Ignored(MALFORMED, "Message is not an object")


def message_classify(body: str) -> PushedDeployment | PushedPrincipal | Ignored:
    """What the SQS message body `body` says (see the module's docstring)."""
    if len(body) > MAX_BODY_BYTES or len(body.encode("utf-8", "replace")) > MAX_BODY_BYTES:
        return Ignored(MALFORMED, f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        return Ignored(MALFORMED, "the body is not JSON")
    if not isinstance(document, dict):
        return Ignored(MALFORMED, "the body is not a JSON object")
    envelope = _unwrap_sns(document)
    if isinstance(envelope, Ignored):
        return envelope
    detail_type = envelope.get("detail-type")
    if not isinstance(detail_type, str):
        return Ignored(MALFORMED, "the event has no detail-type")
    handler = HANDLERS.get(detail_type)
    if handler is None:
        return Ignored(UNKNOWN_DETAIL_TYPE, f"detail-type {detail_type[:80]!r}")
    return handler(envelope)
