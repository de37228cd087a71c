"""Is a push queue being read? One answer for the status page and the Sources admin.

A consumer long-polls its queue for NOTIFIER_PUSH_WAIT_SECONDS (20) and records every
receive, empty ones too, so a queue whose last receive is older than two waits plus 30 s
has no consumer reading it (the service is down, or stuck). A receive that failed (AWS
refused, the queue is gone) leaves `last_error` until the next one works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from notifier.storage.history_rows import PushQueueStats

# What an ignored message's reason means, for people.
IGNORED_REASONS = {
    "malformed": "not an EventBridge event (unreadable, or fields missing)",
    "unknown_detail_type": "an event of another kind",
    "instance_event": "an instance's state change (deployments are followed instead)",
    "unknown_state": "a deployment state CodeDeploy did not document",
    "unknown_account": "from an account and region no source watches",
    "unregistered_application": "an application no one registered",
    "unwatched_group": "a deployment group the registration filters out",
    "unknown_deployment": "a deployment CodeDeploy no longer knows",
    "stale": "a start or ready after the deployment had finished",
    "other_api_call": "a CloudTrail record of another API call than CreateDeployment",
    "failed_call": "a CreateDeployment call that failed (no deployment was made)",
}


def push_stale_after_seconds() -> float:
    """How long without a receive before a queue counts as not being read."""
    return 2 * float(settings.NOTIFIER_PUSH_WAIT_SECONDS) + 30


@dataclass(frozen=True)
class PushStatus:
    """`state`: `none` (no queue), `receiving` or `not_receiving`; `text` says it for people."""

    state: str
    text: str
    receiving: bool


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def age_text(at: datetime | None, *, now: datetime) -> str:
    """ "12 s ago", "3 min ago", or "never"."""
    if at is None:
        return "never"
    return f"{_age(max(0.0, (now - at).total_seconds()))} ago"


def push_status(*, queue_url: str, stats: PushQueueStats | None, now: datetime) -> PushStatus:
    """Whether the queue `queue_url` (empty: the source has none) is being read, from its
    stats (None: no consumer has ever recorded a receive)."""
    if not queue_url:
        return PushStatus("none", "no queue", False)
    last = stats.last_receive if stats else None
    if stats and stats.last_error:
        since = f" since {stats.last_error_at:%Y-%m-%d %H:%M:%S %Z}" if stats.last_error_at else ""
        return PushStatus("not_receiving", f"not receiving{since}: {stats.last_error}", False)
    if last is None:
        return PushStatus(
            "not_receiving",
            "not receiving: no receive recorded yet (is the service running?)",
            False,
        )
    if (now - last).total_seconds() > push_stale_after_seconds():
        return PushStatus(
            "not_receiving",
            f"not receiving since {last:%Y-%m-%d %H:%M:%S %Z} ({age_text(last, now=now)})",
            False,
        )
    return PushStatus("receiving", f"receiving (last receive {age_text(last, now=now)})", True)
