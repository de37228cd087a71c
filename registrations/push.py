"""Setting push up for a source: EventBridge -> SQS in the source's own account and region.

`push_setup` creates what is missing and keeps what is there (a second run changes nothing
and says so): a dead-letter queue, the queue (redrive to the dead-letter queue after 5
receives), one EventBridge rule on the default bus whose pattern (`$or`) matches CodeDeploy's
state-change events and CloudTrail's `CreateDeployment` calls, the queue policy letting that
rule (and only it: aws:SourceArn) send, and the rule's target; then it sets the source's
queue_url. Every AWS call uses the source's own session (its credentials or assumed role).
`push_template` (registrations.push_template) describes the same resources for CloudFormation.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notifier.sources import SourceError, boto3_session_for
from registrations.sources import Source, source_save

DOCS = "docs/push.md"
# One rule, two patterns joined by `$or`: EventBridge and moto both accept it, and one rule
# means one aws:SourceArn in the queue policy and one thing to look at in the console.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-complex-example-or
EVENT_PATTERN: dict[str, Any] = {
    "source": ["aws.codedeploy"],
    "$or": [
        {"detail-type": ["CodeDeploy Deployment State-change Notification"]},
        {
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["codedeploy.amazonaws.com"],
                "eventName": ["CreateDeployment"],
            },
        },
    ],
}
MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT = 60
QUEUE_RETENTION = 4 * 24 * 3600
DLQ_RETENTION = 14 * 24 * 3600
TARGET_ID = "codedeploy-notifier-queue"
# What SQS answers for a queue that does not exist (the query and the JSON protocol).
NO_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
# Queue names: 1-80 letters, digits, - and _; the rule (64 at most) has the queue's name and
# the dead-letter queue adds "-dlq", so 64 keeps all three valid.
QUEUE_NAME_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Every call bounded: a region that does not answer fails the step in words, not a hang.
AWS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
)


class PushSetupError(Exception):
    """push_setup could not finish; the message says which step, why and what to do.
    `code`: `bad_queue_name`, `access_denied`, `aws_error`, `source_unreachable`."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class PushSetupResult:
    queue_url: str
    queue_arn: str
    dlq_url: str
    rule_arn: str
    changed: list[str] = field(default_factory=list)


def push_queue_name(*, source_name: str, queue_name: str = "") -> str:
    """The queue's name: `queue_name`, or codedeploy-notifier-<source>; PushSetupError
    (bad_queue_name) when it is not a name SQS and EventBridge both take."""
    name = queue_name or f"codedeploy-notifier-{source_name}"
    if not QUEUE_NAME_SHAPE.fullmatch(name):
        raise PushSetupError(
            f"queue name {name[:100]!r} must be 1-64 letters, digits, hyphens or underscores "
            "(the rule takes the same name, the dead-letter queue adds -dlq); choose one with "
            "--queue-name",
            code="bad_queue_name",
        )
    return name


def queue_policy(*, queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """Lets EventBridge send to the queue for this rule only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeSendsCodeDeployEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


class _Steps:
    """The AWS calls of one run, each reported as it happens; AWS errors become words."""

    def __init__(self, source: Source, report: Callable[[str], None]) -> None:
        self.source, self.report = source, report
        session = boto3_session_for(source.config())
        self.sqs = session.client("sqs", config=AWS_CONFIG)
        self.events = session.client("events", config=AWS_CONFIG)
        self.changed: list[str] = []

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(client, operation)(**params)
        except (SourceError, ClientError, BotoCoreError) as exc:
            raise self._in_words(client, exc) from exc

    def find(self, client: Any, operation: str, *, missing: set[str], **params: Any) -> Any:
        """`operation`'s answer, or None when AWS says the thing does not exist."""
        try:
            return getattr(client, operation)(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in missing:
                return None
            raise self._in_words(client, exc) from exc
        except (SourceError, BotoCoreError) as exc:
            raise self._in_words(client, exc) from exc

    def _in_words(self, client: Any, exc: Exception) -> PushSetupError:
        if isinstance(exc, SourceError):
            return PushSetupError(str(exc), code="source_unreachable")
        if isinstance(exc, ClientError):
            return PushSetupError(self._refused(client, exc), code=_error_code(exc))
        return PushSetupError(
            f"source {self.source.name!r}: could not reach AWS ({exc}); check the "
            "service's network and region, then run push_setup again",
            code="aws_error",
        )

    def _refused(self, client: Any, exc: ClientError) -> str:
        action = f"{client.meta.service_model.signing_name}:{exc.operation_name}"
        error = exc.response.get("Error", {})
        code, text = error.get("Code", ""), error.get("Message", "")
        who = (
            f"the role {self.source.role_arn}"
            if self.source.credentials == Source.ROLE
            else "the service's own IAM principal"
        )
        if _error_code(exc) == "access_denied":
            return (
                f"source {self.source.name!r}: AWS refused {action} ({code}). Allow {who} "
                f"the action {action}; {DOCS} lists every action push_setup needs"
            )
        return f"source {self.source.name!r}: {action} failed ({code}: {text[:300]})"

    def did(self, text: str) -> None:
        self.changed.append(text)
        self.report(text)


def _error_code(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code", "")
    denied = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}
    return "access_denied" if code in denied or "NotAuthorized" in code else "aws_error"


def _queue_ensure(steps: _Steps, name: str, attributes: dict[str, str], what: str) -> str:
    """The queue's URL, created with `attributes` or made to have them."""
    sqs = steps.sqs
    found = steps.find(sqs, "get_queue_url", missing=NO_QUEUE, QueueName=name)
    if found is None:
        url = steps.call(sqs, "create_queue", QueueName=name, Attributes=attributes)["QueueUrl"]
        steps.did(f"created {what} {name} ({url})")
        return url
    url = found["QueueUrl"]
    current = steps.call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
    wrong = {
        key: value
        for key, value in attributes.items()
        if _attribute(key, current["Attributes"].get(key)) != _attribute(key, value)
    }
    if wrong:
        steps.call(sqs, "set_queue_attributes", QueueUrl=url, Attributes=wrong)
        steps.did(f"{what} {name} exists, set {', '.join(sorted(wrong))}")
    else:
        steps.report(f"{what} {name} exists, kept")
    return url


def _attribute(key: str, value: str | None) -> Any:
    if value and key in ("RedrivePolicy", "Policy"):
        parsed = json.loads(value)
        if key == "RedrivePolicy":
            parsed["maxReceiveCount"] = int(parsed.get("maxReceiveCount", 0))
        return parsed
    return value


def _queue_arn(steps: _Steps, url: str) -> str:
    got = steps.call(steps.sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])
    return got["Attributes"]["QueueArn"]


def _policy_ensure(steps: _Steps, url: str, policy: dict[str, Any]) -> None:
    got = steps.call(steps.sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["Policy"])
    if _attribute("Policy", got.get("Attributes", {}).get("Policy")) == policy:
        steps.report("queue policy (EventBridge may send, for this rule only) exists, kept")
        return
    attributes = {"Policy": json.dumps(policy)}
    steps.call(steps.sqs, "set_queue_attributes", QueueUrl=url, Attributes=attributes)
    steps.did("set the queue policy: EventBridge may send, for this rule only")


def _rule_ensure(steps: _Steps, name: str) -> str:
    events = steps.events
    rule = steps.find(events, "describe_rule", missing={"ResourceNotFoundException"}, Name=name)
    wanted = {"Name": name, "EventPattern": json.dumps(EVENT_PATTERN), "State": "ENABLED"}
    if rule is None:
        arn = steps.call(events, "put_rule", **wanted, Description=_rule_description(steps))
        steps.did(f"created rule {name} on the default bus ({arn['RuleArn']})")
        return arn["RuleArn"]
    same = json.loads(rule.get("EventPattern") or "{}") == EVENT_PATTERN
    if same and rule.get("State") == "ENABLED":
        steps.report(f"rule {name} exists, kept")
        return rule["Arn"]
    arn = steps.call(events, "put_rule", **wanted, Description=_rule_description(steps))
    steps.did(f"rule {name} exists, set its event pattern and enabled it")
    return arn["RuleArn"]


def _rule_description(steps: _Steps) -> str:
    return f"CodeDeploy events for codedeploy-notifier (source {steps.source.name})"


def _target_ensure(steps: _Steps, rule: str, queue_arn: str) -> None:
    listed = steps.call(steps.events, "list_targets_by_rule", Rule=rule)["Targets"]
    if any(target["Arn"] == queue_arn for target in listed):
        steps.report(f"rule {rule} already targets the queue, kept")
        return
    target = {"Id": TARGET_ID, "Arn": queue_arn}
    got = steps.call(steps.events, "put_targets", Rule=rule, Targets=[target])
    if got.get("FailedEntryCount"):
        entry = got["FailedEntries"][0]
        raise PushSetupError(
            f"source {steps.source.name!r}: EventBridge refused the queue as rule {rule}'s "
            f"target ({entry.get('ErrorCode')}: {entry.get('ErrorMessage')})",
            code="aws_error",
        )
    steps.did(f"rule {rule} now targets the queue")


def push_setup(
    *, source: Source, queue_name: str = "", report: Callable[[str], None] = lambda _: None
) -> PushSetupResult:
    """Create or keep the queue, dead-letter queue, rule, policy and target for `source`,
    then set its queue_url. `report` hears each step as it happens. PushSetupError (in
    words, naming the IAM action AWS refused) when a step fails; what was made stays, and a
    second run finishes the rest."""
    name = push_queue_name(source_name=source.name, queue_name=queue_name)
    steps = _Steps(source, report)
    dlq_attributes = {"MessageRetentionPeriod": str(DLQ_RETENTION)}
    dlq_url = _queue_ensure(steps, f"{name}-dlq", dlq_attributes, "dead-letter queue")
    redrive = {
        "deadLetterTargetArn": _queue_arn(steps, dlq_url),
        "maxReceiveCount": str(MAX_RECEIVE_COUNT),
    }
    attributes = {
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
        "MessageRetentionPeriod": str(QUEUE_RETENTION),
        "RedrivePolicy": json.dumps(redrive),
    }
    queue_url = _queue_ensure(steps, name, attributes, "queue")
    queue_arn = _queue_arn(steps, queue_url)
    rule_arn = _rule_ensure(steps, name)
    _policy_ensure(steps, queue_url, queue_policy(queue_arn=queue_arn, rule_arn=rule_arn))
    _target_ensure(steps, name, queue_arn)
    if source.queue_url == queue_url:
        report(f"source {source.name} already reads {queue_url}, kept")
    else:
        source_save(source=source, fields={"queue_url": queue_url})
        steps.did(f"source {source.name} now reads {queue_url}")
    return PushSetupResult(queue_url, queue_arn, dlq_url, rule_arn, steps.changed)
