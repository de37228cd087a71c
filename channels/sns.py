"""Amazon SNS: the DeploymentEvent as JSON, for machines, with attributes to filter on.

Subscribers can filter with a subscription filter policy on the message attributes
`application`, `group`, `event` and `status`
(https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from channels import aws
from channels.base import ChannelError, Delivery, ErrorCode, SendContext, sender, test_subject
from channels.messages import render
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "sns"
LABEL = "Amazon SNS message"
SHORT_LABEL = "SNS"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = tuple(e.value for e in Event)  # machines decide with filter policies
TEMPLATE_PARTS = ("subject",)
WHAT = "Amazon SNS"
SUBJECT_MAX = 100  # SNS: ASCII, no line breaks, at most 100 characters
_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$")


@functools.cache
def service_account() -> str:
    """The service's own AWS account (STS GetCallerIdentity), asked once per process; a
    failure raises ChannelError and is not remembered, so the next call asks again."""
    return aws.call("AWS STS", lambda: aws.client("sts").get_caller_identity())["Account"]


def _pattern(pattern: str) -> re.Pattern[str]:
    # `*` matches within one part of the ARN, never across a colon.
    return re.compile("[^:]*".join(re.escape(part) for part in pattern.split("*")))


def topic_problem(topic: str) -> str | None:
    """Why a setup may not publish to `topic` (an ARN, or a name in the service's own account
    and region), or None if it may. Asks STS for the account when it needs it."""
    patterns = list(settings.NOTIFIER_SNS_TOPIC_ALLOWED)
    account = ""
    if not patterns or not topic.startswith("arn:"):
        try:
            account = service_account()
        except ChannelError as exc:
            if not patterns:
                return (
                    "topic: the service cannot learn its own AWS account (STS "
                    f"GetCallerIdentity failed: {exc.message}), so no topic is allowed by "
                    "default; set NOTIFIER_SNS_TOPIC_ALLOWED to the topic ARNs setups may "
                    "publish to"
                )
            return (
                "topic: give the topic's full ARN; the service cannot learn its own AWS "
                f"account to complete the name (STS GetCallerIdentity failed: {exc.message})"
            )
    if topic.startswith("arn:"):
        arn = topic
    else:
        try:
            region = aws.call("Amazon SNS", lambda: aws.client("sns").meta.region_name)
        except ChannelError as exc:
            return f"topic: give the topic's full ARN; {exc.message}"
        arn = topic_arn(topic, region=region, account=account)
    if any(_pattern(p).fullmatch(arn) for p in patterns or [f"arn:aws:sns:*:{account}:*"]):
        return None
    allowed = ", ".join(patterns) if patterns else "topics of the service's own AWS account only"
    return (
        f"topic {arn} is not one this service may publish to; allowed: {allowed} "
        "(NOTIFIER_SNS_TOPIC_ALLOWED). Use an allowed topic, or ask the service's operators "
        "to allow this one"
    )


def validate_topic(value: str) -> None:
    if not (_ARN.match(value) or _NAME.match(value)):
        raise ValidationError(
            "Give a topic ARN (arn:aws:sns:us-east-1:123456789012:deployments) or a topic "
            "name (letters, digits, - and _, optionally ending in .fifo)."
        )


class SnsSetup(NotificationSetup):
    topic = models.CharField(
        max_length=400,
        validators=[validate_topic],
        help_text="The topic's ARN, or its name in the service's own AWS account and region. "
        "The service needs sns:Publish on it.",
    )

    class Meta:
        verbose_name = "Amazon SNS message"

    def __str__(self) -> str:
        return f"SNS {self.topic}"

    def clean(self) -> None:
        errors: dict = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        topic = self.topic or ""
        problem = topic_problem(topic) if _ARN.match(topic) or _NAME.match(topic) else None
        if problem:
            errors.setdefault("topic", []).append(problem)
        if errors:
            raise ValidationError(errors)


SETUP_MODEL = SnsSetup
SETUP_FIELDS = ("topic",)
# What the OpenAPI document adds to a field (ECMA regex): the checks validate_topic makes.
SETUP_SCHEMA = {"topic": {"pattern": f"{_ARN.pattern}|{_NAME.pattern}"}}


def topic_arn(topic: str, *, region: str, account: str) -> str:
    if topic.startswith("arn:"):
        return topic
    if not account:
        raise ChannelError(
            f"cannot tell which AWS account topic {topic!r} is in: give its full ARN",
            code=ErrorCode.BAD_CONFIG,
        )
    return f"arn:aws:sns:{region}:{account}:{topic}"


def sns_subject(text: str) -> str:
    ascii_only = text.encode("ascii", "ignore").decode()
    return " ".join(ascii_only.split())[:SUBJECT_MAX] or "CodeDeploy deployment"


def publish_request(
    event: DeploymentEvent, setup: SnsSetup, *, arn: str, delivery_id: str = "", test: bool = False
) -> dict[str, Any]:
    """The Publish parameters. `test` is always an attribute ("true" for a test send, else
    "false"), so a subscription filter policy such as {"test": [{"anything-but": "true"}]}
    keeps test sends away from automation; a test's JSON message also says "test": true."""
    message = {**event.to_dict(), "test": True} if test else event.to_dict()
    attributes = {
        "delivery_id": delivery_id,  # the same on every retry: subscribers can drop repeats
        "application": event.application,
        "group": event.deployment_group,
        "event": event.event.value,
        "status": event.status,
        # where a failed deployment broke, for subscription filter policies
        "failed_at": event.failure.lifecycle_event if event.failure else "",
        "test": "true" if test else "false",
    }
    request: dict[str, Any] = {
        "TopicArn": arn,
        "Message": json.dumps(message, sort_keys=True),
        "Subject": sns_subject(test_subject(render(KIND, "subject", event, setup), test=test)),
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()
            if value  # SNS refuses empty attribute values
        },
    }
    if arn.endswith(".fifo"):
        # FIFO topics need a group (order is kept per deployment) and a deduplication id: the
        # delivery id, so SNS drops a repeat sent within its 5-minute deduplication interval.
        # https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html
        request["MessageGroupId"] = event.deployment_id
        request["MessageDeduplicationId"] = (
            delivery_id or f"{event.deployment_id}-{event.event.value}"
        )
    return request


def preview(event: DeploymentEvent, setup: SnsSetup) -> dict[str, str]:
    return {
        "subject": sns_subject(render(KIND, "subject", event, setup)),
        "message": json.dumps(event.to_dict(), indent=2, sort_keys=True),
    }


@sender
def send(event: DeploymentEvent, setup: SnsSetup, context: SendContext) -> Delivery:
    client = aws.client("sns")
    account = ""
    if not settings.NOTIFIER_SNS_TOPIC_ALLOWED or not setup.topic.startswith("arn:"):
        # The default rule, and a name (a topic of the service's own account, whichever
        # account deployed), need the account: ChannelError, retryable when STS is unreachable.
        account = service_account()
    problem = topic_problem(setup.topic)
    if problem:  # saved before the rule, or written straight into the database
        raise ChannelError(problem, code=ErrorCode.BAD_CONFIG)
    arn = topic_arn(setup.topic, region=client.meta.region_name, account=account)
    try:
        request = publish_request(
            event, setup, arn=arn, delivery_id=context.delivery_id, test=context.test
        )
        answer = aws.call(WHAT, client.publish, **request)
    except ChannelError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise ChannelError(
                f"SNS topic {arn} does not exist: check the topic in this setup",
                code=ErrorCode.NOT_FOUND,
                response_status=exc.response_status,
                provider_code=exc.provider_code,
            ) from None
        raise
    return Delivery(response_status=200, detail=f"SNS message {aws.message_id(answer, what=WHAT)}")
