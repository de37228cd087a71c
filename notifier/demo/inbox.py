"""The demo inbox's one write path (`inbox_record`) and its reads.

Every receiver (the provider-shaped views, the SMTP sink, the SES collector) records through
`inbox_record`, which bounds what it stores and keeps at most MAX_MESSAGES messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import transaction
from django.db.models import Count

from notifier.demo.models import InboxMessage, Signature

MAX_MESSAGES = 1_000
MAX_TITLE = 300
MAX_FIELD = 300  # target, thread key
MAX_PAYLOAD_CHARS = 200_000  # a payload's JSON; over it, a truncated text is kept
MAX_HEADERS = 60
MAX_HEADER_VALUE = 2_000
EVENTS = ("started", "ready", "succeeded", "failed", "stopped")
DEPLOYMENT_ID = re.compile(r"\bd-[A-Z0-9]{9}\b")
# In a message's text, the word after the deployment id names the event (Slack's
# "d-XXXXXXXXX> *failed*", New Relic's "d-XXXXXXXXX Failed"; InProgress is started).
WORD_AFTER = r"\W{0,3}(\w+)"
EVENT_WORDS = {**{event: event for event in EVENTS}, "inprogress": "started"}
CHANNELS = {
    "newrelic": "New Relic",
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "email": "Email (SMTP)",
    "ses": "Email (SES)",
    "sns": "SNS",
    "pagerduty": "PagerDuty",
    "webhook": "Webhook",
}


def _bounded_payload(payload: Any) -> Any:
    text = json.dumps(payload, default=str)
    if len(text) <= MAX_PAYLOAD_CHARS:
        return json.loads(text)
    return {"truncated": True, "text": text[:MAX_PAYLOAD_CHARS]}


def _bounded_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    items = list((headers or {}).items())[:MAX_HEADERS]
    return {str(k)[:200]: str(v)[:MAX_HEADER_VALUE] for k, v in items}


def _find_key(value: Any, key: str, depth: int = 0) -> str:
    """The first string held under `key` anywhere in a JSON value (breadth by nesting)."""
    if depth > 8:
        return ""
    if isinstance(value, dict):
        found = value.get(key)
        if isinstance(found, str) and found:
            return found
        children = list(value.values())
    elif isinstance(value, list):
        children = value
    else:
        return ""
    for child in children:
        if found := _find_key(child, key, depth + 1):
            return found
    return ""


def deployment_of(payload: Any, headers: dict[str, str] | None = None) -> tuple[str, str]:
    """(deployment id, event) a message carries: from its JSON keys or CodeDeploy headers,
    else the first d-XXXXXXXXX in its text (and no event)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    deployment_id = _find_key(payload, "deployment_id") or headers.get("x-codedeploy-deployment")
    event = _find_key(payload, "event") or headers.get("x-codedeploy-event", "")
    text = ""
    if not deployment_id or not event:
        text = json.dumps(payload, default=str)
    if not deployment_id:
        found = DEPLOYMENT_ID.search(text)
        deployment_id = found.group(0) if found else ""
    if not event and deployment_id:
        words = re.findall(re.escape(deployment_id) + WORD_AFTER, text)
        event = next((EVENT_WORDS[w.lower()] for w in words if w.lower() in EVENT_WORDS), "")
    return deployment_id[:64], event if event in EVENTS else ""


def inbox_record(
    *,
    channel: str,
    title: str,
    payload: dict[str, Any],
    headers: dict[str, Any] | None = None,
    deployment_id: str = "",
    thread_key: str = "",
    event: str = "",
    target: str = "",
    signature: str = "",
) -> InboxMessage:
    """Store one received message, or, when `thread_key` names a message already stored for
    this channel and target (a Slack ts), replace that one in place (updated_count + 1).
    The deployment id and event are found in the payload when not given. Keeps the newest
    MAX_MESSAGES messages; every text is cut to its bound."""
    payload = _bounded_payload(payload)
    headers = _bounded_headers(headers)
    found_id, found_event = deployment_of(payload, headers)
    fields = {
        "title": (title or "(no title)")[:MAX_TITLE],
        "payload": payload,
        "headers": headers,
        "deployment_id": (deployment_id or found_id)[:64],
        "event": (event or found_event)[:16],
        "signature": signature if signature in Signature.values else "",
    }
    with transaction.atomic():
        existing = None
        if thread_key:
            existing = (
                InboxMessage.objects.select_for_update()
                .filter(channel=channel, target=target[:MAX_FIELD], thread_key=thread_key[:64])
                .first()
            )
        if existing is not None:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.updated_count += 1
            existing.save()
            return existing
        message = InboxMessage.objects.create(
            channel=channel[:32], target=target[:MAX_FIELD], thread_key=thread_key[:64], **fields
        )
        _prune()
    return message


def _prune() -> None:
    cutoff = list(
        InboxMessage.objects.order_by("-id").values_list("id", flat=True)[
            MAX_MESSAGES - 1 : MAX_MESSAGES
        ]
    )
    if cutoff:
        InboxMessage.objects.filter(id__lt=cutoff[0]).delete()


# --- reads --------------------------------------------------------------------------------


def inbox_messages(*, channel: str = "", limit: int = 100) -> list[InboxMessage]:
    """The newest messages first, of one channel kind or all."""
    rows = InboxMessage.objects.order_by("-received_at", "-id")
    if channel:
        rows = rows.filter(channel=channel)
    return list(rows[:limit])


def inbox_counts() -> dict[str, int]:
    """How many messages each channel kind holds (kinds with none left out)."""
    rows = InboxMessage.objects.values("channel").annotate(n=Count("id")).order_by("channel")
    return {row["channel"]: row["n"] for row in rows}


def inbox_message_get(*, message_id: int) -> InboxMessage | None:
    return InboxMessage.objects.filter(id=message_id).first()


def inbox_find(*, channel: str, target: str, thread_key: str) -> InboxMessage | None:
    """The message a thread key (a Slack ts) names in a channel kind and target."""
    return InboxMessage.objects.filter(
        channel=channel, target=target[:MAX_FIELD], thread_key=thread_key[:64]
    ).first()
