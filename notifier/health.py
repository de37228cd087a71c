"""Is the service keeping up? The one answer /healthz and /status/ both give.

`poll_health` is pure: from the saved poll state (or the storage error that kept it from
being read), the time and two settings, it says whether the service is healthy, which part
is failing and since when, and a headline for people. Unhealthy means one of:

- storage: the poll state could not be read (`storage_error`);
- polling has failed without a success for `unhealthy_after` seconds (the poll state's
  `failing_since`, set by the first failed cycle of a run and cleared by a success);
- not configured: polling has never succeeded and its last error says AWS has no region or
  no credentials (`failing` is then "aws_region" or "aws_credentials", at once: waiting
  will not fix it);
- the last success is older than `stale_after` (no cycle runs: is the task cluster up?), or
  there never was one.

A failure younger than `unhealthy_after` is named on /status/ but /healthz stays 200: one
failed cycle is not an outage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from notifier.poll_errors import AWS_CREDENTIALS, AWS_REGION, missing_aws_setting
from notifier.storage.base import PollState, StorageError, Store

POLLING = "polling"
STORAGE = "storage"


def unhealthy_after_seconds(*, poll_interval: float, configured: float | None = None) -> float:
    """NOTIFIER_UNHEALTHY_AFTER, or its default: five poll intervals, at least 10 seconds."""
    return configured if configured is not None else max(10.0, 5 * poll_interval)


def stale_after_seconds(*, poll_interval: float) -> float:
    """How old the last success may be while no failure is recorded: ten poll intervals, at
    least two minutes (a loop the scheduler restarts may pause for about a minute)."""
    return max(120.0, poll_interval * 10)


@dataclass(frozen=True)
class PollHealth:
    """The service's health. `failing_part` is "polling", "storage", "aws_region",
    "aws_credentials" (never polled for want of it) or "" (nothing failing);
    `error` is the failure in words, for signed-in pages only (it can name an account id or
    a role ARN): /healthz answers `public()`."""

    healthy: bool
    failing_part: str
    failing_since: datetime | None
    lag_seconds: float | None  # since the last successful cycle; None if never or unknown
    allowed_seconds: float  # stale_after_seconds
    unhealthy_after: float
    headline: str
    advice: str
    error: str
    state: PollState | None  # None when storage could not be read
    source: str = ""  # the source this is the health of ("" before sources_health)
    sources: tuple[PollHealth, ...] = ()  # every enabled source's, for /status/'s rows

    @property
    def keeping_up(self) -> bool:
        """Healthy with nothing failing: the only state /status/ shows as good."""
        return self.healthy and not self.failing_part

    @property
    def not_configured(self) -> bool:
        """Polling has never succeeded because AWS has no region or no credentials."""
        return self.failing_part in (AWS_REGION, AWS_CREDENTIALS)

    def public(self) -> dict[str, Any]:
        """/healthz's body: the status, the lag and the failing part's name, nothing else."""
        body: dict[str, Any] = {
            "status": "ok"
            if self.healthy
            else "not configured"
            if self.not_configured
            else "unhealthy",
            "poll_lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1),
        }
        if self.failing_part:
            body["failing"] = self.failing_part
        return body


def duration_words(seconds: float) -> str:
    """12 s, 2 min, 1 h 5 min: how long, rounded down, for a headline."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _storage_failing(*, error: str, allowed: float, after: float) -> PollHealth:
    return PollHealth(
        healthy=False,
        failing_part=STORAGE,
        failing_since=None,
        lag_seconds=None,
        allowed_seconds=allowed,
        unhealthy_after=after,
        headline=f"The poll state cannot be read from storage: {error}",
        advice="Check that the database (or DynamoDB) the service uses is reachable.",
        error=error,
        state=None,
    )


def _not_configured(*, state: PollState, missing: str, allowed: float, after: float) -> PollHealth:
    return PollHealth(
        healthy=False,
        failing_part=missing,
        failing_since=state.failing_since,
        lag_seconds=None,
        allowed_seconds=allowed,
        unhealthy_after=after,
        headline=f"The service cannot poll CodeDeploy yet: {state.last_error}",
        advice="Set what is missing in the service's environment and restart it.",
        error=state.last_error,
        state=state,
    )


def _polling_failing(
    *,
    state: PollState,
    since: datetime,
    now: datetime,
    lag: float | None,
    allowed: float,
    after: float,
    interval: float,
) -> PollHealth:
    failing_for = (now - since).total_seconds()
    return PollHealth(
        healthy=failing_for < after and lag is not None and lag <= allowed,
        failing_part=POLLING,
        failing_since=since,
        lag_seconds=lag,
        allowed_seconds=allowed,
        unhealthy_after=after,
        headline=(
            f"Polling CodeDeploy has failed since {since.astimezone(UTC):%H:%M:%S} UTC "
            f"({duration_words(failing_for)}): {state.last_error or 'no error was recorded'}"
        ),
        advice="Notifications are late until a poll succeeds; it retries every "
        f"{interval:g} s, and deployments that finish meanwhile are notified then.",
        error=state.last_error,
        state=state,
    )


def poll_health(
    *,
    state: PollState | None,
    now: datetime,
    poll_interval: float,
    unhealthy_after: float | None = None,
    storage_error: str = "",
) -> PollHealth:
    """The health of the poller from its saved state at `now` (see the module's docstring).
    Pass `storage_error` (and no state) when the state could not be read."""
    after = unhealthy_after_seconds(poll_interval=poll_interval, configured=unhealthy_after)
    allowed = stale_after_seconds(poll_interval=poll_interval)
    if state is None:
        return _storage_failing(error=storage_error, allowed=allowed, after=after)
    last_success = state.last_success
    lag = (now - last_success).total_seconds() if last_success else None
    missing = missing_aws_setting(state.last_error) if last_success is None else ""
    if state.failing_since is not None and missing:
        return _not_configured(state=state, missing=missing, allowed=allowed, after=after)
    if state.failing_since is not None:
        return _polling_failing(
            state=state,
            since=state.failing_since,
            now=now,
            lag=lag,
            allowed=allowed,
            after=after,
            interval=poll_interval,
        )
    stale = lag is None or lag > allowed
    if last_success is None:
        headline = "The poller has never completed a check of CodeDeploy."
    elif stale:
        headline = f"The poller has not succeeded for {duration_words(lag)}."
    else:
        headline = "The poller is keeping up."
    return PollHealth(
        healthy=not stale,
        failing_part=POLLING if stale else "",
        failing_since=last_success if stale else None,
        lag_seconds=lag,
        allowed_seconds=allowed,
        unhealthy_after=after,
        headline=headline,
        advice="Notifications are late until it recovers. Is the service's task cluster "
        "(manage.py qcluster) running?",
        error="",
        state=state,
    )


def poll_health_now(
    *, state: PollState | None, now: datetime, storage_error: str = "", pushed: bool = False
) -> PollHealth:
    """`poll_health` with the interval and NOTIFIER_UNHEALTHY_AFTER from the settings (a
    project using the engine as a library may leave the latter out: its default then); a
    `pushed` source (one with a push queue) is polled every NOTIFIER_RECONCILE_INTERVAL."""
    interval = settings.NOTIFIER_POLL_INTERVAL
    if pushed:
        interval = max(interval, getattr(settings, "NOTIFIER_RECONCILE_INTERVAL", interval))
    return poll_health(
        state=state,
        now=now,
        poll_interval=interval,
        unhealthy_after=getattr(settings, "NOTIFIER_UNHEALTHY_AFTER", None),
        storage_error=storage_error,
    )


def _worst_first(health: PollHealth) -> tuple:
    lag = math.inf if health.lag_seconds is None else health.lag_seconds
    return (health.healthy, health.keeping_up, -lag)


def sources_health(
    *, states: dict[str, PollState], now: datetime, pushed: frozenset[str] = frozenset()
) -> PollHealth:
    """The health of polling every enabled source (name -> its saved poll state): that of
    the worst source (unhealthy before failing before lagging most), so the service is
    unhealthy when any enabled source is and its lag is the worst source's; the headline
    names the source when there are several. `sources` has every source's, in order."""
    rows = tuple(
        replace(poll_health_now(state=state, now=now, pushed=name in pushed), source=name)
        for name, state in states.items()
    )
    if not rows:  # no enabled source: nothing to poll, nothing late
        return replace(poll_health_now(state=PollState(last_success=now), now=now), sources=())
    worst = min(rows, key=_worst_first)
    headline = worst.headline if len(rows) == 1 else f"Source {worst.source}: {worst.headline}"
    return replace(worst, headline=headline, sources=rows)


def poll_health_read(
    *,
    store: Store,
    sources: list[str],
    now: datetime | None = None,
    pushed: frozenset[str] = frozenset(),
) -> PollHealth:
    """Read the poll state of each of `sources` (the enabled sources' names) from `store`
    (for /healthz, notifier.storage.get_health_store) and say how healthy polling is; a store
    that cannot be read is `"storage"` failing, never an exception."""
    now = now or timezone.now()
    try:
        states = {name: store.poll_state_get(source=name) for name in sources}
    except StorageError as exc:
        return poll_health_now(state=None, now=now, storage_error=str(exc))
    return sources_health(states=states, now=now, pushed=pushed)
