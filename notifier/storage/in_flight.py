"""Whether a pending delivery's attempt is being sent now, or may have been sent by a sender
that died: derived from its in-flight mark and lease, the same way in every backend."""

from __future__ import annotations

from datetime import datetime

from notifier.events import PENDING


def maybe_sent_since(
    *,
    state: str,
    in_flight_since: datetime | None,
    claimed_at: datetime,
    lease_until: datetime | None,
    now: datetime,
) -> datetime | None:
    """When a pending delivery's attempt started that may have reached the provider with no
    outcome recorded ("maybe sent"), or None. `in_flight_since` is the start of the earliest
    claim with no outcome yet; it is older than the current claim after a takeover, and a
    lease that ran out means the holder died (or hung) mid-send."""
    if state != PENDING or in_flight_since is None:
        return None
    if in_flight_since < claimed_at or lease_until is None or lease_until < now:
        return in_flight_since
    return None


def sending_since(
    *, state: str, in_flight_since: datetime | None, lease_until: datetime | None, now: datetime
) -> datetime | None:
    """When the attempt being sent now (claimed, lease live, no outcome yet) began, or None."""
    live = state == PENDING and lease_until is not None and lease_until >= now
    return in_flight_since if live else None
